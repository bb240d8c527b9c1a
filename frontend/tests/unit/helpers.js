import { createPinia, setActivePinia } from 'pinia'
import { createI18n } from 'vue-i18n'
import { createMemoryHistory, createRouter } from 'vue-router'
import { mount } from '@vue/test-utils'
import en from '@/i18n/locales/en.json'
import ko from '@/i18n/locales/ko.json'
import { routes } from '@/router'

/** Mounts a component with the real messages, a fresh Pinia and an in-memory router. */
export function mountWith(component, { props = {}, locale = 'en', pinia } = {}) {
  const activePinia = pinia ?? createPinia()
  setActivePinia(activePinia)
  const i18n = createI18n({ legacy: false, locale, fallbackLocale: 'en', messages: { en, ko } })
  const router = createRouter({ history: createMemoryHistory(), routes })
  const wrapper = mount(component, {
    props,
    global: { plugins: [activePinia, i18n, router] },
    attachTo: document.body,
  })
  return { wrapper, router, i18n, pinia: activePinia }
}
