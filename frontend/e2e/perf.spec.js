// `npx playwright test --project=perf`: time to first content on the feed and a style page, and the
// bytes of the image the detail page loads. Prints numbers (no pass/fail thresholds): run it before
// and after a change. Builds one trained style and one public image through the pages first.
import { expect, test } from '@playwright/test'
import {
  becomeArtist,
  byTestId,
  closeUser,
  fillStyleForm,
  newUserPage,
  requestImage,
  signIn,
  submitStyle,
  trainingImages,
  watchGeneration,
  watchTraining,
} from './support/flows.js'

test.setTimeout(10 * 60_000)
const RUNS = 5

/** Cold load of `path` in a fresh context: ms from navigation start to the first paint and to the
 * first element matching `selector` (the page's real content) being in the DOM. */
async function firstContent(browser, path, selector) {
  const page = await newUserPage(browser)
  await page.goto(path, { waitUntil: 'commit' })
  const handle = await page.waitForFunction(
    (sel) => document.querySelector(sel) && performance.now(),
    selector,
    { polling: 'raf', timeout: 30_000 },
  )
  const content = await handle.jsonValue()
  const paint = await page.evaluate(
    () =>
      performance.getEntriesByName('first-contentful-paint')[0]?.startTime ??
      performance.getEntriesByType('paint').at(-1)?.startTime ??
      null,
  )
  await closeUser(page)
  return { content, paint }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

test('time to first content and detail image bytes', async ({ browser }) => {
  const artist = await newUserPage(browser)
  await signIn(artist, 'perfartist')
  await becomeArtist(artist, 'Perf Artist')
  await fillStyleForm(artist, {
    title: 'Perf Harbor',
    description: 'Measuring.',
    price: 10,
    images: trainingImages(10),
    tag: 'harbor',
  })
  const styleId = await submitStyle(artist)
  const seen = await watchTraining(artist)
  expect(seen.at(-1).status).toBe('completed')
  await artist.goto(`/styles/${styleId}`)
  await requestImage(artist, { tags: ['boats'], seed: 7 })
  const latest = byTestId(artist, 'latest-generation')
  await expect(latest).toBeVisible()
  await watchGeneration(artist, latest)
  await byTestId(artist, 'latest-generation-link').click()
  await expect(byTestId(artist, 'feed-detail-page')).toBeVisible()
  const generationId = Number(new URL(artist.url()).pathname.split('/').pop())
  const toggle = byTestId(artist, 'visibility-toggle')
  await toggle.click()
  await expect(toggle).toHaveAttribute('data-public', 'true')
  await closeUser(artist)

  const results = {}
  for (const [name, path, selector] of [
    ['feed', '/', '[data-testid="feed-card"] img'],
    ['style', `/styles/${styleId}`, '[data-testid="style-title"]'],
  ]) {
    await firstContent(browser, path, selector) // warm the server and caches once
    const runs = []
    for (let i = 0; i < RUNS; i++) runs.push(await firstContent(browser, path, selector))
    results[name] = {
      first_content_ms: Math.round(median(runs.map((r) => r.content))),
      first_paint_ms: Math.round(median(runs.map((r) => r.paint ?? NaN))),
    }
  }

  // The detail page as its public visitor sees it: which image, how many bytes.
  const visitor = await newUserPage(browser)
  const sizes = []
  visitor.on('response', async (response) => {
    if (response.request().resourceType() !== 'image') return
    const body = await response.body().catch(() => null)
    sizes.push({
      url: response.url(),
      bytes: body?.length ?? 0,
      type: response.headers()['content-type'],
    })
  })
  await visitor.goto(`/feed/${generationId}`)
  const image = byTestId(visitor, 'generation-image')
  await expect(image).toBeVisible()
  await image.evaluate((img) => img.decode())
  const src = await image.evaluate((img) => img.currentSrc)
  await visitor.waitForLoadState('networkidle')
  results.detail_image = sizes.find((s) => s.url === src) ?? { url: src, bytes: null }
  await closeUser(visitor)
  console.log('PERF', JSON.stringify(results))
})
