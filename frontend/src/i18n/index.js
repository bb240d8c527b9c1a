import { createI18n } from 'vue-i18n'
import en from './locales/en.json'
import ko from './locales/ko.json'

export const SUPPORTED_LOCALES = ['en', 'ko']
export const LOCALE_STORAGE_KEY = 'stylelicense.locale'

/** The remembered language, else the browser's if supported, else English. */
export function detectLocale() {
  try {
    const saved = localStorage.getItem(LOCALE_STORAGE_KEY)
    if (SUPPORTED_LOCALES.includes(saved)) return saved
  } catch {
    // storage can be unavailable (private mode); fall through
  }
  const browser = (typeof navigator !== 'undefined' && navigator.language) || 'en'
  return browser.toLowerCase().startsWith('ko') ? 'ko' : 'en'
}

export const i18n = createI18n({
  legacy: false,
  globalInjection: true,
  locale: detectLocale(),
  fallbackLocale: 'en',
  messages: { en, ko },
})

function applyDocumentLang(locale) {
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}
applyDocumentLang(i18n.global.locale.value)

export function setLocale(locale) {
  if (!SUPPORTED_LOCALES.includes(locale)) return
  i18n.global.locale.value = locale
  applyDocumentLang(locale)
  try {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
  } catch {
    // not remembered, still switched
  }
}

export function currentLocale() {
  return i18n.global.locale.value
}
