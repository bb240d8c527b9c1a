import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { i18n, currentLocale } from './i18n'
import { setLocaleGetter } from './api/client'
import { getConfig } from './api/auth'
import { applyServerLimits } from './validation/limits'
import { useConfigStore } from './stores/config'
import './style.css'

setLocaleGetter(currentLocale)

// The server's limits come first: the form schemas are built from them when the views' modules load,
// so App and the router are imported only after GET /api/config answered (or failed: fallbacks apply).
async function start() {
  const config = await getConfig().catch(() => null)
  if (config) applyServerLimits(config.limits)
  const [{ default: App }, { createAppRouter }] = await Promise.all([
    import('./App.vue'),
    import('./router'),
  ])
  const app = createApp(App)
  const pinia = createPinia()
  app.use(pinia)
  if (config) useConfigStore(pinia).prime(config)
  app.use(createAppRouter())
  app.use(i18n)
  app.mount('#app')
}

start()
