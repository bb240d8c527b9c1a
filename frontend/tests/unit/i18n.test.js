import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'
import { createI18n } from 'vue-i18n'
import en from '@/i18n/locales/en.json'
import ko from '@/i18n/locales/ko.json'

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src')

/** Every leaf key ("a.b.c") of a message tree, with its value. */
function leaves(tree, prefix = '') {
  return Object.entries(tree).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key
    return value !== null && typeof value === 'object' ? leaves(value, path) : [[path, value]]
  })
}
const enKeys = new Map(leaves(en))
const koKeys = new Map(leaves(ko))

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(vue|js)$/.test(name) ? [path] : []
  })
}

describe('en.json and ko.json', () => {
  it('have the same keys in both directions', () => {
    const missingInKo = [...enKeys.keys()].filter((k) => !koKeys.has(k))
    const missingInEn = [...koKeys.keys()].filter((k) => !enKeys.has(k))
    expect(missingInKo).toEqual([])
    expect(missingInEn).toEqual([])
  })

  it('have no empty or non-string messages', () => {
    for (const [locale, keys] of [
      ['en', enKeys],
      ['ko', koKeys],
    ]) {
      const bad = [...keys].filter(([, v]) => typeof v !== 'string' || v.trim() === '')
      expect(bad, locale).toEqual([])
    }
  })

  it('use the same placeholders in both languages', () => {
    const placeholders = (text) =>
      [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort()
    const differing = [...enKeys]
      .filter(
        ([key, value]) => placeholders(value).join() !== placeholders(koKeys.get(key) ?? '').join(),
      )
      .map(([key]) => key)
    expect(differing).toEqual([])
  })

  it('actually translate (Korean text is not left in English)', () => {
    const hangul = /[\uac00-\ud7a3]/
    const untranslated = [...koKeys]
      .filter(([key]) => !key.startsWith('languages.') && key !== 'app.name')
      .filter(([, value]) => !hangul.test(value))
      .map(([key]) => key)
    expect(untranslated).toEqual([])
  })

  it('compile and render every message in both languages without warnings', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const i18n = createI18n({ legacy: false, locale: 'en', messages: { en, ko } })
    const params = new Proxy(
      {},
      { get: (_, name) => (typeof name === 'string' ? `<${name}>` : undefined), has: () => true },
    )
    for (const locale of ['en', 'ko']) {
      i18n.global.locale.value = locale
      for (const key of enKeys.keys()) {
        const text = i18n.global.t(key, params)
        expect(text, `${locale}:${key}`).not.toBe(key)
        expect(text.length).toBeGreaterThan(0)
      }
    }
    expect(warn).not.toHaveBeenCalled()
  })

  it('translate every error code of SPEC §6 and the client-side ones', () => {
    const codes = [
      'UNAUTHORIZED',
      'FORBIDDEN',
      'ARTIST_ONLY',
      'INSUFFICIENT_TOKENS',
      'PAYMENT_FAILED',
      'STYLE_LIMIT_REACHED',
      'STYLE_NOT_READY',
      'TRAINING_FAILED',
      'INVALID_IMAGE_FORMAT',
      'IMAGE_SIZE_EXCEEDED',
      'GENERATION_FAILED',
      'DUPLICATE_FOLLOW',
      'SELF_FOLLOW_NOT_ALLOWED',
      'REPLY_DEPTH_EXCEEDED',
      'VALIDATION_ERROR',
      'NOT_FOUND',
      'RATE_LIMITED',
      'CONFLICT',
      'PAYLOAD_TOO_LARGE',
      'INTERNAL_ERROR',
      'CSRF_FAILED',
      'NETWORK_ERROR',
      'INVALID_RESPONSE',
      'UNKNOWN_ERROR',
    ]
    for (const code of codes) {
      expect(enKeys.has(`errors.${code}`), code).toBe(true)
      expect(koKeys.has(`errors.${code}`), code).toBe(true)
    }
  })

  it('contain every key the source code uses', () => {
    const used = new Set()
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/\bt\(\s*'([A-Za-z0-9_.]+)'/g)) used.add(m[1])
      for (const m of text.matchAll(/'((?:validation|errors)\.[A-Za-z_]+)'/g)) used.add(m[1])
    }
    // keys built at run time, listed by family
    const families = {
      'generation.status': ['queued', 'processing', 'retrying', 'completed', 'failed'],
      'training.status': ['pending', 'training', 'completed', 'failed'],
      'styles.statusNotice': ['training', 'failed'],
      'search.matchedBy': ['tag', 'name'],
      'search.types': ['all', 'styles', 'artists'],
      'myPage.filters': ['all', 'public', 'private'],
      'generate.ratios': ['1_1', '2_2', '1_2'],
      languages: ['en', 'ko'],
      'verify.verdicts': ['verified', 'derived', 'unknown'],
      'verify.verdictHelp': ['verified', 'derived', 'unknown'],
      'verify.methods': [
        'c2pa',
        'sha256',
        'watermark',
        'watermarkResized',
        'registration',
        'other',
      ],
      'verify.reasons': [
        'unsupported',
        'corrupt',
        'too_small',
        'multi_frame',
        'too_many_pixels',
        'missing',
      ],
      'licence.groups': ['permissions', 'requirements', 'prohibitions'],
      // the codes of terms sl-1.0 (stylelicense/provenance/terms.py)
      'licence.terms': [
        'commercial_use',
        'modification',
        'sell_derived_works',
        'attribution',
        'keep_serial',
        'disclose_ai',
        'resell_image_standalone',
        'resell_style',
        'train_models',
        'strip_provenance_to_misattribute',
        'unlawful_or_deceptive_use',
      ],
      'notifications.types': [
        'follow',
        'like',
        'comment',
        'reply',
        'generation_complete',
        'generation_failed',
        'style_training_complete',
        'style_training_failed',
        'other',
      ],
    }
    for (const [prefix, names] of Object.entries(families)) {
      for (const name of names) used.add(`${prefix}.${name}`)
    }
    const missing = [...used].filter((key) => !enKeys.has(key))
    expect(used.size).toBeGreaterThan(200)
    expect(missing).toEqual([])
  })
})
