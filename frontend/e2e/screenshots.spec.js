// `npm run screenshots`: builds demo content through the pages (the same flows as the e2e tests) on
// a fresh stack and saves every page at desktop (1280×800) and phone (390×844) width, in English
// and, for some pages, Korean, to docs/screenshots/ (JPEG, quality 70). The npm script trains and
// generates with more steps than the tests so the progress bars can be caught mid-way.
import { mkdirSync } from 'node:fs'
import { expect, test } from '@playwright/test'
import {
  addComment,
  becomeArtist,
  byTestId,
  closeUser,
  fillStyleForm,
  likeImage,
  newUserPage,
  requestImage,
  signIn,
  submitStyle,
  switchLanguage,
  trainingImages,
  watchGeneration,
  watchTraining,
} from './support/flows.js'
import { LANTERNS, pngFile, signaturePng } from './support/png.js'

const OUT = new URL('../../docs/screenshots/', import.meta.url).pathname
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

test.setTimeout(15 * 60_000)

/** Waits for data and images, then saves `<name>-<desktop|phone>[-ko].jpeg`. */
async function shot(page, name, { locale = 'en', fullPage } = {}) {
  await page.waitForLoadState('networkidle')
  await expect(page.getByText(/^(Loading…|불러오는 중…)$/)).toHaveCount(0)
  await expect(page.locator('[data-error-code]'), 'no error on a screenshot').toHaveCount(0)
  await page.evaluate(async () => {
    const images = [...document.images].filter((img) => img.checkVisibility())
    await Promise.all(images.map((img) => (img.complete ? null : img.decode().catch(() => null))))
  })
  const width = page.viewportSize().width < 600 ? 'phone' : 'desktop'
  // Phones show the whole page (it is narrow); desktops what fits on the screen.
  fullPage ??= width === 'phone'
  // A full-page picture starts at the top (the sticky header would otherwise sit mid-page).
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0))
  const suffix = locale === 'en' ? '' : `-${locale}`
  await page.screenshot({
    path: `${OUT}${name}-${width}${suffix}.jpeg`,
    type: 'jpeg',
    quality: 70,
    fullPage,
    animations: 'disabled',
  })
}

/** Waits until a progress bar shows real progress (the pages poll every 5 s). */
async function waitForPercent(page, testid) {
  await expect
    .poll(async () => Number(await byTestId(page, testid).first().getAttribute('data-percent')), {
      timeout: 180_000,
    })
    .toBeGreaterThan(0)
}

/** The same person on a desktop and a phone (two browser contexts, both signed in). */
async function person(browser, username, { signedIn = true } = {}) {
  const desktop = await newUserPage(browser, { viewport: DESKTOP })
  const phone = await newUserPage(browser, { viewport: PHONE })
  if (signedIn) {
    await signIn(desktop, username)
    await signIn(phone, username)
  }
  return { desktop, phone, both: [desktop, phone] }
}

/**
 * Opens a page on both devices. One person on two devices opening page after page goes over the
 * API's 100 requests a minute per user; then, like a patient person, wait as told and reload.
 */
async function goBoth(who, path, testid) {
  for (const page of who.both) {
    for (let attempt = 0; ; attempt++) {
      let retryAfter = 0
      const on429 = (response) => {
        if (response.status() === 429) {
          retryAfter = Math.max(retryAfter, Number(response.headers()['retry-after']) || 30)
        }
      }
      page.on('response', on429)
      await page.goto(path)
      await page.waitForLoadState('networkidle')
      page.off('response', on429)
      if (!retryAfter) break
      expect(attempt, `still rate limited on ${path}`).toBeLessThan(3)
      await page.waitForTimeout(Math.min(retryAfter, 65) * 1000)
    }
    await expect(byTestId(page, testid)).toBeVisible()
  }
}

const HARBOR_STYLE = {
  title: 'Harbor Mornings',
  description: 'Soft harbor light in washes of blue and peach. Boats, piers and morning mist.',
  price: 40,
  tag: 'watercolor',
  imageTags: ['harbor', 'boats', 'mist', 'dawn', 'pier', 'gulls', 'sails', 'waves', 'rope', 'nets'],
}
const LANTERN_STYLE = {
  title: 'Forest Lanterns',
  description: 'Warm lantern light in deep green forests at night.',
  price: 60,
  tag: 'night',
  imageTags: [
    'lantern',
    'forest',
    'glow',
    'path',
    'moss',
    'firefly',
    'pine',
    'fog',
    'moon',
    'stone',
  ],
}

test('screenshots of every page, desktop and phone', async ({ browser }) => {
  mkdirSync(OUT, { recursive: true })

  // Signed out: the login page.
  const guest = await person(browser, null, { signedIn: false })
  await goBoth(guest, '/login', 'dev-login-form')
  for (const page of guest.both) await shot(page, 'login')
  for (const page of guest.both) {
    await switchLanguage(page, 'ko')
    await shot(page, 'login', { locale: 'ko' })
  }

  // Artist 1 creates and trains a style.
  const mira = await newUserPage(browser, { viewport: DESKTOP })
  await signIn(mira, 'mira')
  await becomeArtist(mira, 'Mira Seo')
  await fillStyleForm(mira, { ...HARBOR_STYLE, images: trainingImages(10) })
  const harborId = await submitStyle(mira)
  await watchTraining(mira)

  // Artist 2: become an artist (signature preview), create a style (previews), training progress.
  const theo = await person(browser, 'theo')
  for (const page of theo.both) {
    await page.goto('/me/artist')
    await byTestId(page, 'artist-name').fill('Theo Lin')
    await byTestId(page, 'artist-signature').setInputFiles(pngFile('signature.png', signaturePng()))
    await expect(byTestId(page, 'signature-preview-stamp')).toBeVisible()
    await shot(page, 'become-artist')
  }
  await byTestId(theo.desktop, 'become-artist-submit').click()
  await expect(byTestId(theo.desktop, 'style-create-page')).toBeVisible()
  await theo.phone.goto('/styles/new')
  const lanternImages = trainingImages(10, 40, { prefix: 'lantern', palettes: LANTERNS })
  for (const page of theo.both) {
    await fillStyleForm(page, { ...LANTERN_STYLE, images: lanternImages })
    await byTestId(page, 'image-list').scrollIntoViewIfNeeded()
    await page.evaluate(() => window.scrollTo(0, 220))
    await shot(page, 'create-style')
  }
  const lanternId = await submitStyle(theo.desktop)
  await theo.phone.goto(`/styles/${lanternId}/edit`)
  for (const page of theo.both) await waitForPercent(page, 'training-progress')
  for (const page of theo.both) await shot(page, 'training-progress')
  await watchTraining(theo.desktop)

  // A user buys tokens in the sandbox checkout and generates images.
  const jun = await person(browser, 'jun')
  await goBoth(jun, '/payment', 'payment-page')
  await byTestId(jun.desktop, 'buy-standard_500').click()
  await expect(byTestId(jun.desktop, 'sandbox-checkout')).toBeVisible()
  await jun.phone.goto(jun.desktop.url())
  for (const page of jun.both) {
    await expect(byTestId(page, 'sandbox-amount')).toBeVisible()
    await shot(page, 'sandbox-checkout')
  }
  await byTestId(jun.desktop, 'sandbox-pay').click()
  await expect(byTestId(jun.desktop, 'payment-confirmed')).toBeVisible()

  const prompts = [
    { styleId: harborId, tags: ['harbor', 'boats at dawn'], seed: 7, description: 'Boats at dawn' },
    { styleId: lanternId, tags: ['lantern', 'forest path'], seed: 11, description: 'The way home' },
    { styleId: harborId, tags: ['lighthouse', 'fog'], seed: 23, description: 'Lighthouse in fog' },
  ]
  const generationIds = []
  for (const [i, prompt] of prompts.entries()) {
    await jun.desktop.goto(`/styles/${prompt.styleId}`)
    await requestImage(jun.desktop, prompt)
    const latest = byTestId(jun.desktop, 'latest-generation')
    await expect(latest).toBeVisible()
    const link = byTestId(jun.desktop, 'latest-generation-link')
    generationIds.push(Number((await link.getAttribute('href')).split('/').pop()))
    if (i === 0) {
      // My Page while the image is being made: the running generation with its progress bar.
      await goBoth(jun, '/me', 'my-page')
      for (const page of jun.both) {
        await expect(byTestId(page, 'running-generations')).toBeVisible()
        await waitForPercent(page, 'generation-progress')
      }
      for (const page of jun.both) await shot(page, 'my-page-running', { fullPage: false })
      await jun.desktop.goto(`/feed/${generationIds[0]}`)
    } else {
      await watchGeneration(jun.desktop, latest, { timeout: 480_000 }) // a busy CPU
    }
  }
  for (const id of generationIds) {
    await jun.desktop.goto(`/feed/${id}`)
    const toggle = byTestId(jun.desktop, 'visibility-toggle')
    await expect(toggle).toBeEnabled({ timeout: 120_000 })
    await toggle.click()
    await expect(toggle).toHaveAttribute('data-public', 'true')
  }

  // Another user follows both artists, likes and comments; the owner replies.
  const sora = await person(browser, 'sora')
  for (const styleId of [harborId, lanternId]) {
    await sora.desktop.goto(`/styles/${styleId}`)
    const follow = byTestId(sora.desktop, 'follow-button')
    await follow.click()
    await expect(follow).toHaveAttribute('aria-pressed', 'true')
  }
  for (const id of generationIds.slice(0, 2)) {
    await sora.desktop.goto(`/feed/${id}`)
    await likeImage(sora.desktop)
  }
  await sora.desktop.goto(`/feed/${generationIds[0]}`)
  await addComment(sora.desktop, 'The light on the water is lovely. Which harbor is this?')
  await jun.desktop.goto(`/feed/${generationIds[0]}`)
  const modal = await addComment(jun.desktop, 'Thank you! Made with Mira Seo’s style.')
  const first = modal.getByTestId('comment').filter({ hasText: 'Which harbor' }).first()
  await first.getByTestId('comment-reply').click()
  const reply = modal.getByTestId('reply-form')
  await reply.getByTestId('comment-input').fill('An imagined one, somewhere on the south coast.')
  await reply.getByTestId('comment-submit').click()
  await expect(modal.getByText('somewhere on the south coast')).toBeVisible()

  // Pages with content, desktop and phone.
  await goBoth(sora, '/', 'feed-grid')
  for (const page of sora.both) await shot(page, 'feed')
  await goBoth(sora, `/feed/${generationIds[0]}`, 'feed-detail-page')
  for (const page of sora.both) await shot(page, 'feed-detail')
  for (const page of sora.both) {
    await byTestId(page, 'open-comments').click()
    await expect(byTestId(page, 'comment-body').first()).toBeVisible()
    await shot(page, 'feed-detail-comments', { fullPage: false })
  }
  await goBoth(sora, '/search', 'following-section')
  for (const page of sora.both) await shot(page, 'search-following')
  await goBoth(sora, '/search?q=watercolor', 'search-results')
  for (const page of sora.both) await shot(page, 'search-results')

  await goBoth(jun, `/styles/${harborId}`, 'generate-form')
  for (const page of jun.both) {
    const tags = byTestId(page, 'generate-tags')
    for (const tag of ['harbor', 'sunset']) {
      await tags.fill(tag)
      await tags.press('Enter')
    }
    await shot(page, 'style-detail')
  }
  await goBoth(jun, '/me', 'my-images')
  for (const page of jun.both) await shot(page, 'my-page')
  await goBoth(jun, '/me/edit', 'edit-profile-form')
  for (const page of jun.both) {
    await byTestId(page, 'profile-bio').fill('Collecting quiet harbors, one image at a time.')
    await shot(page, 'edit-profile')
  }
  await goBoth(jun, '/payment', 'purchase-history')
  for (const page of jun.both) {
    await expect(byTestId(page, 'usage-history').getByTestId('transaction-row')).toHaveCount(3)
    await shot(page, 'payment')
  }
  await goBoth(jun, '/notifications', 'notification-list')
  for (const page of jun.both) await shot(page, 'notifications')

  await theo.desktop.goto(`/styles/${lanternId}/edit`)
  await expect(byTestId(theo.desktop, 'training-complete')).toBeVisible()
  await theo.phone.goto(`/styles/${lanternId}/edit`)
  for (const page of theo.both) await shot(page, 'training-complete')

  // Korean.
  for (const page of jun.both) await switchLanguage(page, 'ko')
  const korean = [
    ['/', 'feed-grid', 'feed'],
    [`/styles/${harborId}`, 'generate-form', 'style-detail'],
    ['/me', 'my-images', 'my-page'],
    ['/payment', 'purchase-history', 'payment'],
    ['/notifications', 'notification-list', 'notifications'],
  ]
  for (const [path, testid, name] of korean) {
    await goBoth(jun, path, testid)
    for (const page of jun.both) await shot(page, name, { locale: 'ko' })
  }
  await goBoth(jun, `/feed/${generationIds[0]}`, 'feed-detail-page')
  for (const page of jun.both) {
    await byTestId(page, 'open-comments').click()
    await expect(byTestId(page, 'comment-body').first()).toBeVisible()
    await shot(page, 'feed-detail-comments', { locale: 'ko', fullPage: false })
  }

  // A newcomer (signed out): the landing page above the public images, and the licence terms.
  const visitor = await person(browser, null, { signedIn: false })
  for (const locale of ['en', 'ko']) {
    if (locale === 'ko') for (const page of visitor.both) await switchLanguage(page, 'ko')
    await goBoth(visitor, '/', 'landing')
    for (const page of visitor.both) await shot(page, 'landing', { locale })
    await goBoth(visitor, '/licence-terms/sl-1.0', 'licence-terms-page')
    for (const page of visitor.both) await shot(page, 'licence-terms', { locale, fullPage: false })
  }

  for (const who of [guest, theo, jun, sora, visitor]) {
    for (const page of who.both) await closeUser(page)
  }
  await closeUser(mira)
})
