import { useI18n } from 'vue-i18n'

/** Translates an error (ApiError, validation key or anything thrown) into a user message. */
export function translateError(t, te, error) {
  if (!error) return ''
  const code = typeof error === 'string' ? error : error.code
  if (code && te(`errors.${code}`)) return t(`errors.${code}`)
  return t('errors.UNKNOWN_ERROR')
}

export function useErrorMessage() {
  const { t, te } = useI18n()
  return (error) => translateError(t, te, error)
}
