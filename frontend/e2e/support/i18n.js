// The locale files as the tests see them: expected messages, and a check that a page in Korean
// shows no English UI text.
import { readFileSync } from 'node:fs'

const load = (locale) =>
  JSON.parse(
    readFileSync(new URL(`../../src/i18n/locales/${locale}.json`, import.meta.url), 'utf8'),
  )

export const MESSAGES = { en: load('en'), ko: load('ko') }

// Same values as src/validation/limits.js (the SPA passes them to every validation message).
export const LIMITS = { minImages: 10, maxImages: 100, minSide: 512, maxTagLength: 50 }

function lookup(locale, key) {
  const value = key.split('.').reduce((node, part) => node?.[part], MESSAGES[locale])
  if (typeof value !== 'string') throw new Error(`no message ${key} in ${locale}.json`)
  return value
}

/** The message as the SPA renders it (named parameters; the first plural form unless n > 1). */
export function message(locale, key, params = {}) {
  let text = lookup(locale, key)
  if (text.includes(' | ')) {
    const forms = text.split(' | ')
    text = forms[Math.min(forms.length - 1, params.n > 1 ? forms.length - 1 : 0)]
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? `{${name}}`))
}

function flatten(node, prefix = '', out = {}) {
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'string') out[prefix + key] = value
    else flatten(value, `${prefix}${key}.`, out)
  }
  return out
}

const EN = flatten(MESSAGES.en)
const KO = flatten(MESSAGES.ko)

// Latin words the Korean translation itself uses (brand, "English", JPG, example tags...).
const KOREAN_LATIN = new Set(
  Object.values(KO)
    .flatMap((v) => v.replace(/\{\w+\}/g, ' ').match(/[A-Za-z]{2,}/g) ?? [])
    .map((w) => w.toLowerCase()),
)

// The literal parts of every English message that differs in Korean, for naming the key a
// leftover came from.
const ENGLISH_FRAGMENTS = Object.entries(EN)
  .filter(([key, value]) => KO[key] !== value)
  .flatMap(([key, value]) =>
    value
      .split(/\{\w+\}|\|/)
      .map((part) => part.trim())
      .filter((part) => /[A-Za-z]{3,}/.test(part))
      .map((part) => ({ key, part })),
  )

/** Every rendered text of the page and the labels people read: placeholders, alt, aria-label, title. */
async function pageTexts(page) {
  return page.evaluate(() => {
    const texts = []
    const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE'])
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    while (walker.nextNode()) {
      const node = walker.currentNode
      const el = node.parentElement
      const text = node.textContent.replace(/\s+/g, ' ').trim()
      if (!text || !el || skip.has(el.tagName)) continue
      if (!el.checkVisibility({ visibilityProperty: true })) continue
      texts.push(text)
    }
    for (const el of document.body.querySelectorAll('[placeholder],[alt],[aria-label],[title]')) {
      if (!el.checkVisibility({ visibilityProperty: true })) continue
      for (const attr of ['placeholder', 'alt', 'aria-label', 'title']) {
        const value = el.getAttribute(attr)?.trim()
        if (value) texts.push(value)
      }
    }
    return texts
  })
}

/**
 * English words left on a page shown in Korean. `userContent` lists what users typed (usernames,
 * titles, tags, comments...), which stays as written.
 */
export async function englishLeftovers(page, userContent = []) {
  const content = [...new Set(userContent.filter(Boolean).map((c) => c.toLowerCase()))].sort(
    (a, b) => b.length - a.length,
  )
  const problems = []
  for (const text of await pageTexts(page)) {
    // User content is matched without case: tags and usernames are stored lowercased.
    let rest = text.toLowerCase()
    for (const item of content) rest = rest.split(item).join(' ')
    const words = (rest.match(/[A-Za-z]{2,}/g) ?? []).filter(
      (w) => !KOREAN_LATIN.has(w.toLowerCase()),
    )
    if (words.length === 0) continue
    const source = ENGLISH_FRAGMENTS.find(({ part }) => rest.includes(part.toLowerCase()))
    problems.push(source ? `${text}  (en.json ${source.key})` : text)
  }
  return [...new Set(problems)]
}
