// User flows shared by the end-to-end tests and the screenshot run: everything goes through the
// pages, as a person would use them.
import { expect } from '@playwright/test'
import { paintingPng, pngFile, signaturePng } from './png.js'

// Training includes rendering the style's preview samples (8 small images) after the LoRA.
export const TRAINING_TIMEOUT = 420_000
export const GENERATION_TIMEOUT = 120_000

export const byTestId = (page, id) => page.getByTestId(id)

/** A fresh browser context (own cookies) per person, in English unless told otherwise. Uncaught
 * errors in the page are collected for `closeUser`. */
export async function newUserPage(browser, { viewport, locale = 'en-US' } = {}) {
  const context = await browser.newContext({
    viewport: viewport ?? { width: 1280, height: 800 },
    locale,
    acceptDownloads: true,
  })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (error) => errors.push(error.message))
  PAGE_ERRORS.set(page, errors)
  return page
}

const PAGE_ERRORS = new WeakMap()

/** Closes the person's browser context; the SPA must not have thrown uncaught errors meanwhile. */
export async function closeUser(page) {
  const errors = PAGE_ERRORS.get(page) ?? []
  await page.context().close()
  expect(errors, 'uncaught errors in the page').toEqual([])
}

/** Signs in with the development login form; lands on the page asked for (default: the feed). */
export async function signIn(page, username, { redirect } = {}) {
  await page.goto(redirect ? `/login?redirect=${encodeURIComponent(redirect)}` : '/login')
  const form = byTestId(page, 'dev-login-form')
  await expect(form).toBeVisible()
  await byTestId(page, 'dev-login-email').fill(`${username}@example.com`)
  await byTestId(page, 'dev-login-username').fill(username)
  await byTestId(page, 'dev-login-submit').click()
  await page.waitForURL((url) => !url.pathname.startsWith('/login'))
  await expect(byTestId(page, 'logout-button')).toBeAttached()
}

/** Opens the menu on narrow screens, then follows a header link. */
export async function openNav(page, testid) {
  const toggle = byTestId(page, 'nav-menu-toggle')
  if (await toggle.isVisible()) {
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click()
  }
  await byTestId(page, testid).click()
}

export async function switchLanguage(page, locale) {
  // Below 1024 px the switch is in the menu: open it, switch, close it again.
  const toggle = byTestId(page, 'nav-menu-toggle')
  const opened =
    (await toggle.isVisible()) && (await toggle.getAttribute('aria-expanded')) !== 'true'
  if (opened) await toggle.click()
  await byTestId(page, 'language-switch').selectOption(locale)
  await expect(page.locator('html')).toHaveAttribute('lang', locale)
  if (opened && (await toggle.getAttribute('aria-expanded')) === 'true') await toggle.click()
}

export function trainingImages(count, firstSeed = 1, { prefix = 'harbor', palettes } = {}) {
  return Array.from({ length: count }, (_, i) =>
    pngFile(
      `${prefix}-${String(i + 1).padStart(2, '0')}.png`,
      paintingPng(firstSeed + i, 512, palettes),
    ),
  )
}

/** My Page → "become an artist": name, signature with its preview, submit (lands on Create Style). */
export async function becomeArtist(page, artistName, { beforeSubmit } = {}) {
  await page.goto('/me/artist')
  await expect(byTestId(page, 'become-artist-form')).toBeVisible()
  await byTestId(page, 'artist-name').fill(artistName)
  await byTestId(page, 'artist-signature').setInputFiles(pngFile('signature.png', signaturePng()))
  await expect(byTestId(page, 'signature-preview-stamp')).toBeVisible()
  if (beforeSubmit) await beforeSubmit()
  await byTestId(page, 'become-artist-submit').click()
  await expect(byTestId(page, 'style-create-page')).toBeVisible()
}

/** Fills the Create Style form: details, images (all checked in the browser), a tag for all of them
 * and one own tag per image. Does not submit. */
export async function fillStyleForm(page, { title, description, price, images, tag, imageTags }) {
  await expect(byTestId(page, 'style-form')).toBeVisible()
  await byTestId(page, 'style-title').fill(title)
  await byTestId(page, 'style-description').fill(description)
  await byTestId(page, 'style-price').fill(String(price))
  await byTestId(page, 'style-images-input').setInputFiles(images)
  const items = byTestId(page, 'image-item')
  await expect(items).toHaveCount(images.length)
  await expect(page.locator('[data-testid="image-item"][data-invalid="false"]')).toHaveCount(
    images.length,
  )
  if (tag) {
    await byTestId(page, 'bulk-tag-input').fill(tag)
    await byTestId(page, 'bulk-tag-add').click()
  }
  for (let i = 0; i < (imageTags?.length ?? 0); i++) {
    const input = items.nth(i).getByTestId('image-tags-input')
    await input.fill(imageTags[i])
    await input.press('Enter')
  }
}

/** Submits the Create Style form; returns the new style id from the manage page it lands on. */
export async function submitStyle(page) {
  await byTestId(page, 'style-submit').click()
  await page.waitForURL(/\/styles\/\d+\/edit/, { timeout: 60_000 })
  await expect(byTestId(page, 'style-created')).toBeVisible()
  return Number(new URL(page.url()).pathname.split('/')[2])
}

/**
 * Watches the training panel until the style is trained. Returns what it saw, e.g.
 * [{status: 'pending', bar: true, percent: null}, {status: 'training', bar: true, percent: 50}, ...].
 */
export async function watchTraining(page, { timeout = TRAINING_TIMEOUT } = {}) {
  const seen = []
  const deadline = Date.now() + timeout
  for (;;) {
    // One read of the DOM per sample, so the panel cannot change between two reads.
    const sample = await page.evaluate(() => {
      const panel = document.querySelector('[data-testid="training-panel"]')
      const bar = panel?.querySelector('[data-testid="training-progress"]')
      const percent = bar?.getAttribute('aria-valuenow')
      return {
        status: panel?.dataset.status ?? null,
        bar: Boolean(bar?.checkVisibility()),
        percent: percent == null ? null : Number(percent),
      }
    })
    const last = seen.at(-1)
    if (!last || last.status !== sample.status || last.percent !== sample.percent) seen.push(sample)
    if (sample.status === 'completed' || sample.status === 'failed') return seen
    if (Date.now() > deadline)
      throw new Error(`training still ${sample.status} after ${timeout} ms`)
    await page.waitForTimeout(200)
  }
}

/** Payment page → a package → the sandbox checkout → pay → confirmed. Returns the new balance text. */
export async function buyTokens(page, packageId = 'basic_100') {
  await expect(byTestId(page, 'payment-page')).toBeVisible()
  await byTestId(page, `buy-${packageId}`).click()
  await expect(byTestId(page, 'sandbox-checkout')).toBeVisible()
  await expect(byTestId(page, 'sandbox-label')).toBeVisible()
  await byTestId(page, 'sandbox-pay').click()
  await expect(byTestId(page, 'payment-confirmed')).toBeVisible()
}

/** Fills and sends the generate form on a style page. */
export async function requestImage(page, { tags, aspect = '1-1', seed, description }) {
  const form = byTestId(page, 'generate-form')
  await expect(form).toBeVisible()
  const input = byTestId(page, 'generate-tags')
  for (const tag of tags) {
    await input.fill(tag)
    await input.press('Enter')
  }
  await byTestId(page, `aspect-${aspect}`).check()
  if (seed != null) await byTestId(page, 'generate-seed').fill(String(seed))
  if (description) await byTestId(page, 'generate-description').fill(description)
  await byTestId(page, 'generate-submit').click()
}

/**
 * Watches a generation's progress panel inside `scope` until the panel gives way to the image.
 * Returns the states it saw: [{status: 'Queued', percent: null}, {status: 'Generating', percent: 42}, ...].
 */
export async function watchGeneration(page, scope, { timeout = GENERATION_TIMEOUT } = {}) {
  const seen = []
  const deadline = Date.now() + timeout
  for (;;) {
    const sample = await scope.evaluate((root) => {
      const panel = root.querySelector('[data-testid="generation-progress-panel"]')
      if (!panel) {
        const failed = root.querySelector('[role="alert"]')
        return { done: Boolean(root.querySelector('img')), failed: failed?.textContent.trim() }
      }
      const percent = panel
        .querySelector('[data-testid="generation-progress"]')
        ?.getAttribute('aria-valuenow')
      return {
        status: panel.querySelector('[data-testid="generation-status"]')?.textContent.trim(),
        percent: percent == null ? null : Number(percent),
      }
    })
    if (sample.failed) {
      // Say why: the generation's error code from the API.
      const href = await scope.locator('a[href^="/feed/"]').first().getAttribute('href')
      const response = await page.request.get(`/api/generations/${href.split('/').pop()}`)
      const code = (await response.json()).data?.error_code
      throw new Error(`the generation failed (${code}): ${sample.failed}`)
    }
    if (sample.done) return seen
    if (sample.status) {
      const last = seen.at(-1)
      if (!last || last.status !== sample.status || last.percent !== sample.percent) {
        seen.push(sample)
      }
    }
    if (Date.now() > deadline) throw new Error(`the image was not ready after ${timeout} ms`)
    await page.waitForTimeout(200)
  }
}

/** Likes the image on a feed detail page and waits for the server to have it (the button changes
 * at once, before the request is answered). */
export async function likeImage(page) {
  const button = byTestId(page, 'like-button')
  await expect(button).toHaveAttribute('aria-pressed', 'false')
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/api\/generations\/\d+\/like$/.test(r.url()),
    ),
    button.click(),
  ])
  expect(response.status()).toBe(201)
  await expect(button).toHaveAttribute('aria-pressed', 'true')
}

/** Comments modal on a feed detail page: writes one comment and waits for it in the list. */
export async function addComment(page, body) {
  await byTestId(page, 'open-comments').click()
  const modal = byTestId(page, 'comments-modal')
  await expect(modal).toBeVisible()
  await modal.getByTestId('comment-input').first().fill(body)
  await modal.getByTestId('comment-submit').first().click()
  await expect(modal.getByTestId('comment-body').filter({ hasText: body })).toBeVisible()
  return modal
}
