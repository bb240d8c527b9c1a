import { defineStore } from 'pinia'
import { ref } from 'vue'
import { getConfig } from '@/api/auth'

// Used when GET /api/config is unreachable: offer Google, and dev login only in a Vite dev build.
const FALLBACK = {
  google_login: true,
  dev_login: Boolean(import.meta.env?.DEV),
  toss_client_key: null,
  sandbox_checkout: false,
}

export const useConfigStore = defineStore('config', () => {
  const config = ref({ ...FALLBACK })
  const loaded = ref(false)
  let pending = null

  function load() {
    if (loaded.value) return Promise.resolve(config.value)
    if (!pending) {
      pending = getConfig()
        .then((data) => {
          config.value = { ...FALLBACK, ...data }
        })
        .catch(() => {
          config.value = { ...FALLBACK }
        })
        .finally(() => {
          loaded.value = true
          pending = null
        })
    }
    return pending.then(() => config.value)
  }

  /** Take a config already fetched (main.js reads it before the app starts). */
  function prime(data) {
    config.value = { ...FALLBACK, ...data }
    loaded.value = true
  }

  return { config, loaded, load, prime }
})
