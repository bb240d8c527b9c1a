// Issue 14 "Must show": an artist trains a style and sees its samples and loss curve, sees a buyer's
// generation on the dashboard, pauses and resumes; a training image reserved from AI training is
// refused, named, in English and Korean. Real stack (scripts/e2e_stack.py), tests in order.
// TRUST_SCREENSHOTS=1 also saves the new pages to docs/screenshots/.
import process from 'node:process'
import { expect, test } from '@playwright/test'
import {
  becomeArtist,
  byTestId,
  closeUser,
  fillStyleForm,
  newUserPage,
  openNav,
  requestImage,
  signIn,
  submitStyle,
  switchLanguage,
  trainingImages,
  watchGeneration,
  watchTraining,
} from './support/flows.js'
import { message } from './support/i18n.js'
import { LANTERNS, NO_AI_TRAINING_XMP, paintingPng, pngFile, withXmp } from './support/png.js'

test.describe.configure({ mode: 'serial' })
test.setTimeout(10 * 60_000)

const ARTIST = 'hana'
const ARTIST_NAME = 'Hana Lee'
const BUYER = 'minho'
const STYLE = {
  title: 'Lantern Nights',
  description: 'Warm paper lanterns glowing in a blue night.',
  price: 20,
  tag: 'lanterns',
  imageTags: [
    'street',
    'river',
    'festival',
    'alley',
    'bridge',
    'rain',
    'market',
    'temple',
    'boat',
    'moon',
  ],
}
const state = { styleId: null }
const OUT = new URL('../../docs/screenshots/', import.meta.url).pathname

async function shot(page, name, locale = 'en') {
  if (!process.env.TRUST_SCREENSHOTS) return
  await page.waitForLoadState('networkidle')
  await page.screenshot({
    path: `${OUT}${name}-desktop${locale === 'en' ? '' : `-${locale}`}.jpeg`,
    type: 'jpeg',
    quality: 70,
    animations: 'disabled',
  })
}

test('an artist trains a style and sees its samples (with and without the style) and the loss curve', async ({
  browser,
}) => {
  const page = await newUserPage(browser)
  await signIn(page, ARTIST)
  await becomeArtist(page, ARTIST_NAME)
  const images = trainingImages(10, 80, { prefix: 'lantern', palettes: LANTERNS })
  await fillStyleForm(page, { ...STYLE, images })
  state.styleId = await submitStyle(page)
  const seen = await watchTraining(page)
  expect(seen.at(-1).status).toBe('completed')

  // The owner's training report on the manage page: figures and an SVG loss curve.
  const report = byTestId(page, 'training-report')
  await expect(report).toBeVisible()
  await expect(byTestId(page, 'training-report-steps')).toHaveText('6')
  await expect(byTestId(page, 'training-loss-chart')).toBeVisible()
  expect(await byTestId(page, 'line-path').getAttribute('d')).toMatch(
    /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/,
  )
  await shot(page, 'training-report')

  await page.goto(`/styles/${state.styleId}`)
  const samples = byTestId(page, 'style-sample')
  await expect(samples).toHaveCount(4)
  await expect(samples.first()).toHaveAttribute('src', /-1-with\.png$/)
  await expect(samples.first()).toHaveJSProperty('complete', true)
  expect(await samples.first().evaluate((img) => img.naturalWidth)).toBeGreaterThan(0)
  await shot(page, 'style-samples')
  await byTestId(page, 'samples-without-style').click()
  await expect(samples.first()).toHaveAttribute('src', /-1-without\.png$/)
  await expect(samples.first()).toHaveAttribute('data-variant', 'without')
  await byTestId(page, 'samples-with-style').click()
  await expect(samples.first()).toHaveAttribute('src', /-1-with\.png$/)
  await closeUser(page)
})

test('a buyer generates in the style and the artist sees it on the dashboard', async ({
  browser,
}) => {
  const buyer = await newUserPage(browser)
  await signIn(buyer, BUYER)
  await buyer.goto(`/styles/${state.styleId}`)
  await requestImage(buyer, { tags: ['lantern street'], seed: 7 })
  await watchGeneration(buyer, byTestId(buyer, 'latest-generation'))
  await closeUser(buyer)

  const page = await newUserPage(browser)
  await signIn(page, ARTIST)
  await openNav(page, 'nav-dashboard')
  await expect(byTestId(page, 'dashboard-page')).toBeVisible()
  await expect(byTestId(page, 'dashboard-earned-total')).toContainText('20')
  await expect(byTestId(page, 'dashboard-earned-period')).toContainText('20')
  await expect(byTestId(page, 'dashboard-style-generations')).toHaveText('1')
  await expect(byTestId(page, 'dashboard-style-earned')).toHaveText('20')
  await expect(byTestId(page, 'dashboard-licence')).toHaveCount(1)
  await expect(byTestId(page, 'dashboard-licence')).toContainText(BUYER)
  // Today's bar carries the sale.
  await expect(byTestId(page, 'bar').last()).toHaveAttribute('data-value', '20')
  await shot(page, 'dashboard')
  await switchLanguage(page, 'ko')
  await expect(byTestId(page, 'dashboard-page')).toContainText(message('ko', 'dashboard.title'))
  await shot(page, 'dashboard', 'ko')
  await closeUser(page)
})

test('the artist pauses the style (buyers cannot generate) and resumes it', async ({ browser }) => {
  const artist = await newUserPage(browser)
  await signIn(artist, ARTIST)
  await artist.goto(`/styles/${state.styleId}`)
  await byTestId(artist, 'style-pause-toggle').click()
  await expect(byTestId(artist, 'style-paused-badge')).toBeVisible()

  const buyer = await newUserPage(browser)
  await signIn(buyer, BUYER)
  await buyer.goto(`/styles/${state.styleId}`)
  await expect(byTestId(buyer, 'style-paused')).toHaveText(message('en', 'styles.pausedNotice'))
  await expect(byTestId(buyer, 'generate-form')).toHaveCount(0)
  const listed = await buyer.request.get('/api/styles')
  expect((await listed.json()).data.results.map((s) => s.id)).not.toContain(state.styleId)

  await byTestId(artist, 'style-pause-toggle').click()
  await expect(byTestId(artist, 'style-paused-badge')).toHaveCount(0)
  await buyer.reload()
  await expect(byTestId(buyer, 'generate-form')).toBeVisible()
  await closeUser(buyer)
  await closeUser(artist)
})

test('a training image reserved from AI training is refused by name, in English and in Korean', async ({
  browser,
}) => {
  const page = await newUserPage(browser)
  await signIn(page, 'daon')
  await becomeArtist(page, 'Daon Kim')
  const images = trainingImages(10, 120, { prefix: 'night' })
  images[3] = pngFile('reserved-night.png', withXmp(paintingPng(123, 512), NO_AI_TRAINING_XMP))
  await fillStyleForm(page, { ...STYLE, title: 'Night Harbor', images })
  await byTestId(page, 'style-submit').click()
  const refusal = byTestId(page, 'style-refusal')
  await expect(refusal).toHaveText(
    message('en', 'styleForm.refusal.TRAINING_NOT_ALLOWED', { name: 'reserved-night.png', n: 4 }),
  )
  // The selection is kept; the refused file is marked.
  await expect(byTestId(page, 'image-item')).toHaveCount(10)
  await expect(byTestId(page, 'image-item').nth(3)).toHaveAttribute('data-invalid', 'true')
  await shot(page, 'style-refusal')

  await switchLanguage(page, 'ko')
  await byTestId(page, 'style-submit').click()
  await expect(refusal).toHaveText(
    message('ko', 'styleForm.refusal.TRAINING_NOT_ALLOWED', { name: 'reserved-night.png', n: 4 }),
  )
  await shot(page, 'style-refusal', 'ko')
  await closeUser(page)
})
