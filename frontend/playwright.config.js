// Browser end-to-end tests against the real stack (scripts/e2e_stack.py), in Debian's Chromium.
// Playwright never downloads a browser here: install with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1.
import { createServer } from 'node:net'
import process from 'node:process'
import { defineConfig } from '@playwright/test'

/** A port nobody listens on, so parallel runs on one machine do not collide. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// Chosen once by the runner; its worker processes inherit it through the environment.
process.env.E2E_PORT ||= String(await freePort())
const PORT = Number(process.env.E2E_PORT)
const BASE_URL = `http://127.0.0.1:${PORT}`
const PYTHON = process.env.E2E_PYTHON || '.venv/bin/python'

export default defineConfig({
  testDir: './e2e',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  // Training and generation run on CPU with the tiny model.
  timeout: 300_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: BASE_URL,
    browserName: 'chromium',
    locale: 'en-US',
    timezoneId: 'Asia/Seoul',
    viewport: { width: 1280, height: 800 },
    actionTimeout: 20_000,
    navigationTimeout: 30_000,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'e2e', testMatch: ['flows.spec.js', 'trust.spec.js', 'newcomer.spec.js'] },
    { name: 'screenshots', testMatch: 'screenshots.spec.js' },
    { name: 'perf', testMatch: 'perf.spec.js' },
  ],
  webServer: {
    command: `${PYTHON} scripts/e2e_stack.py --port ${PORT}`,
    cwd: '..',
    url: `${BASE_URL}/readyz`,
    reuseExistingServer: false,
    // The first run on a machine builds the tiny model cache.
    timeout: 600_000,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 60_000 },
    stdout: 'ignore',
    stderr: 'pipe',
  },
})
