// The browser tab says where you are: "<page> · Style License". Routes give a fixed title through
// `meta.title` (an i18n key, set in App.vue); pages about one thing (a style, an image) set their own.
import { onBeforeUnmount, watch } from 'vue'
import { useI18n } from 'vue-i18n'

let pageTitle = null

export function applyTitle(t, routeTitleKey) {
  const name = t('app.name')
  const part = pageTitle || (routeTitleKey ? t(routeTitleKey) : '')
  document.title = part ? `${part} · ${name}` : name
}

/** `source`: a function returning the page's title (or '' while it loads). */
export function usePageTitle(source) {
  const { t } = useI18n()
  const stop = watch(
    source,
    (value) => {
      pageTitle = value || null
      applyTitle(t, null)
    },
    { immediate: true },
  )
  onBeforeUnmount(() => {
    stop()
    pageTitle = null
  })
}
