// Every published version of the licence terms, in each language, as the files are written
// (docs/LICENSE_TERMS*.md). Files carry the URL /licence-terms/<version>: a version listed here
// must never be removed. A new version: archive the old text under its own file name and add it.
import en from '../../../../docs/LICENSE_TERMS.md?raw'
import ko from '../../../../docs/LICENSE_TERMS.ko.md?raw'

export const CURRENT_TERMS_VERSION = 'sl-1.0'

export const TERMS = {
  'sl-1.0': { en, ko },
}

/** The text of `version` in `locale` (English when there is no translation), or null. */
export function termsText(version, locale) {
  const texts = TERMS[version]
  if (!texts) return null
  return texts[locale] ?? texts.en
}
