// Issue 15 "Must show": a Korean artist creates a style with a Korean title (and sees a validation
// error on its field, in Korean, cleared once fixed); a newcomer goes from the landing page to a
// first licensed image; the terms URL in the downloaded file opens the terms page; a queued job is
// cancelled and the refund shows in the token history. Real stack, in order.
import { inflateSync } from 'node:zlib'
import { readFile } from 'node:fs/promises'
import { expect, test } from '@playwright/test'
import {
  becomeArtist,
  byTestId,
  closeUser,
  fillStyleForm,
  newUserPage,
  requestImage,
  submitStyle,
  trainingImages,
  watchGeneration,
  watchTraining,
} from './support/flows.js'
import { message } from './support/i18n.js'

test.describe.configure({ mode: 'serial' })

const KO_TITLE = '수채화의 꿈'
const state = { styleId: null, newcomer: null }

/** Every text chunk (tEXt, zTXt, iTXt) of a PNG, e.g. the XMP packet. */
function pngTexts(buffer) {
  const texts = []
  let at = 8
  while (at < buffer.length) {
    const length = buffer.readUInt32BE(at)
    const type = buffer.toString('latin1', at + 4, at + 8)
    const data = buffer.subarray(at + 8, at + 8 + length)
    if (type === 'iTXt') {
      const keyEnd = data.indexOf(0)
      const compressed = data[keyEnd + 1] === 1
      let rest = data.subarray(keyEnd + 3)
      rest = rest.subarray(rest.indexOf(0) + 1) // language tag
      rest = rest.subarray(rest.indexOf(0) + 1) // translated keyword
      texts.push((compressed ? inflateSync(rest) : rest).toString('utf8'))
    } else if (type === 'tEXt') {
      texts.push(data.toString('latin1'))
    } else if (type === 'zTXt') {
      texts.push(inflateSync(data.subarray(data.indexOf(0) + 2)).toString('latin1'))
    } else if (type === 'eXIf') {
      texts.push(data.toString('latin1'))
    }
    at += 12 + length
  }
  return texts.join('\n')
}

test('a Korean artist creates a style with a Korean title; a wrong field is marked in Korean and cleared', async ({
  browser,
}) => {
  const page = await newUserPage(browser, { locale: 'ko-KR' })
  await page.goto('/login')
  await byTestId(page, 'dev-login-email').fill('dahye@example.com')
  await byTestId(page, 'dev-login-username').fill('dahye')
  await byTestId(page, 'dev-login-submit').click()
  await page.waitForURL((url) => !url.pathname.startsWith('/login'))
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko')
  await becomeArtist(page, '김하나')

  await fillStyleForm(page, {
    title: KO_TITLE,
    description: '부드러운 수채화 번짐.',
    price: 5,
    images: trainingImages(10, 40),
    tag: 'watercolor',
  })
  // The optional English tag: Korean is refused on that field, in Korean, on leaving it…
  const trigger = byTestId(page, 'style-trigger')
  await trigger.fill('수채화')
  await trigger.blur()
  const triggerError = byTestId(page, 'style-trigger-error')
  await expect(triggerError).toHaveText(message('ko', 'validation.triggerNotEnglish'))
  await expect(trigger).toHaveAttribute('aria-invalid', 'true')
  // …and the message goes as soon as the field is fixed.
  await trigger.fill('watercolor dreams')
  await expect(triggerError).toBeHidden()
  await expect(trigger).toHaveAttribute('aria-invalid', 'false')
  await expect(byTestId(page, 'style-title-counter')).toContainText(String(KO_TITLE.length))

  state.styleId = await submitStyle(page)
  const seen = await watchTraining(page)
  expect(seen.at(-1).status).toBe('completed')
  await page.goto(`/styles/${state.styleId}`)
  await expect(byTestId(page, 'style-title')).toHaveText(KO_TITLE)
  await expect(byTestId(page, 'style-tags')).toContainText('watercolor dreams')
  await expect(page).toHaveTitle(new RegExp(KO_TITLE))
  await closeUser(page)
})

test('a newcomer reads the landing page, finds the style, signs in and gets a first image; the terms URL in the file opens the terms page', async ({
  browser,
}) => {
  test.skip(!state.styleId, 'needs the trained style')
  const page = await newUserPage(browser)
  await page.goto('/')
  const landing = byTestId(page, 'landing')
  await expect(landing).toBeVisible()
  await expect(landing).toContainText(message('en', 'landing.steps.image.title'))
  await expect(byTestId(page, 'landing-license')).toBeVisible()
  await byTestId(page, 'landing-browse').click()
  await expect(page).toHaveURL(/\/search/)
  await page
    .locator(`[data-testid="style-card"][data-style-id="${state.styleId}"] a`)
    .first()
    .click()
  await expect(byTestId(page, 'style-title')).toHaveText(KO_TITLE)
  // Before paying: what the licence allows, in plain words.
  await expect(byTestId(page, 'licence-summary')).toContainText(
    message('en', 'licence.terms.commercial_use'),
  )
  await byTestId(page, 'login-to-generate').click()
  await byTestId(page, 'dev-login-email').fill('newbie@example.com')
  await byTestId(page, 'dev-login-username').fill('newbie')
  await byTestId(page, 'dev-login-submit').click()
  await expect(byTestId(page, 'style-title')).toHaveText(KO_TITLE)
  await expect(byTestId(page, 'header-balance')).toHaveText('100 tokens')
  const count = byTestId(page, 'style-generations-count')
  const before = await count.textContent()

  await requestImage(page, { tags: ['lake', 'morning'], seed: 11 })
  const latest = byTestId(page, 'latest-generation')
  await expect(latest).toBeInViewport() // the job comes into view
  await expect(count).not.toHaveText(before) // "images made" counts it at once
  await watchGeneration(page, latest)
  await expect(byTestId(page, 'header-balance')).toHaveText('95 tokens')
  await expect(byTestId(page, 'share-offer')).toBeVisible()

  // The image page: generation data, a web-sized copy, the signed PNG as the download.
  await byTestId(page, 'latest-generation-link').click()
  await expect(byTestId(page, 'generation-data-seed')).toHaveText('11')
  await expect(byTestId(page, 'generation-data-size')).toHaveText('512 × 512')
  const src = await byTestId(page, 'generation-image').getAttribute('src')
  expect(src).toMatch(/-display\.webp(\?expires=\d+&signature=\w+)?$/)
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    byTestId(page, 'generation-download').click(),
  ])
  expect(download.suggestedFilename()).toMatch(/^style-license-.+-\d+\.png$/)
  const file = await readFile(await download.path())
  const urls = pngTexts(file).match(/https?:\/\/[^\s"'<>]+\/licence-terms\/[\w.-]+/g) ?? []
  expect(urls.length).toBeGreaterThan(0)
  await page.goto(new URL(urls[0]).pathname)
  await expect(byTestId(page, 'licence-terms-page')).toBeVisible()
  await expect(byTestId(page, 'licence-terms-page')).toContainText(
    'Style License — image licence terms',
  )
  state.newcomer = true
  await closeUser(page)
})

test('a queued job is cancelled and its refund shows in the token history', async ({ browser }) => {
  test.skip(!state.newcomer, 'needs the newcomer')
  const page = await newUserPage(browser)
  await page.goto('/login')
  await byTestId(page, 'dev-login-email').fill('newbie@example.com')
  await byTestId(page, 'dev-login-username').fill('newbie')
  await byTestId(page, 'dev-login-submit').click()
  await page.waitForURL((url) => !url.pathname.startsWith('/login'))
  await page.goto(`/styles/${state.styleId}`)
  // Two jobs: the second waits behind the first (one worker), so it is still queued.
  await requestImage(page, { tags: ['river'], seed: 1 })
  await expect(byTestId(page, 'latest-generation')).toBeVisible()
  await byTestId(page, 'generate-tags').fill('bridge')
  await byTestId(page, 'generate-tags').press('Enter')
  const posted = page.waitForResponse(
    (response) =>
      response.url().endsWith('/api/generations') && response.request().method() === 'POST',
  )
  await byTestId(page, 'generate-submit').click()
  const second = (await (await posted).json()).data.id
  const latest = byTestId(page, 'latest-generation')
  // Until the page shows the second job, the panel (and its cancel button) is still the first one's,
  // which is already running: clicking then answered "already being made".
  await expect(latest.getByTestId('latest-generation-link')).toHaveAttribute(
    'href',
    `/feed/${second}`,
  )
  const cancel = latest.getByTestId('generation-cancel')
  await expect(cancel).toBeVisible()
  await cancel.click()
  await expect(latest.getByTestId('generation-cancelled')).toHaveText(
    message('en', 'generation.cancelledRefunded'),
  )
  await expect(byTestId(page, 'header-balance')).toHaveText('90 tokens')

  await page.goto('/payment')
  const refund = byTestId(page, 'usage-history').locator('[data-type="refund"]')
  await expect(refund).toHaveCount(1)
  await expect(refund.getByTestId('transaction-amount')).toHaveText('+5')
  await closeUser(page)
})
