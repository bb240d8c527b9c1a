import { useI18n } from 'vue-i18n'

/** Locale-aware formatting of dates, numbers, money and durations. */
export function useFormat() {
  const { t, locale } = useI18n()

  const date = (value) => {
    if (!value) return ''
    const d = new Date(value)
    if (Number.isNaN(d.getTime())) return ''
    return new Intl.DateTimeFormat(locale.value, {
      dateStyle: 'medium',
      timeStyle: 'short',
    }).format(d)
  }
  const number = (value) => new Intl.NumberFormat(locale.value).format(value ?? 0)
  const money = (value, currency = 'KRW') =>
    new Intl.NumberFormat(locale.value, { style: 'currency', currency }).format(value ?? 0)
  const duration = (seconds) => {
    if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return ''
    const s = Math.max(0, Math.round(Number(seconds)))
    if (s < 60) return t('time.seconds', { n: s })
    const m = Math.floor(s / 60)
    if (m < 60) return t('time.minutesSeconds', { m, s: s % 60 })
    return t('time.hoursMinutes', { h: Math.floor(m / 60), m: m % 60 })
  }
  return { date, number, money, duration }
}
