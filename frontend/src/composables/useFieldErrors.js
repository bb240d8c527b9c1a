// One way for every form to show what is wrong, on the field it concerns, in the UI language:
// - the form's Zod schema checks a field when it loses focus (validateField) and everything on
//   submit (validateAll); a shown error is re-checked on every change and disappears once fixed;
// - a server VALIDATION_ERROR (details.fields: [{field, type, message, ...limits}]) is put on its
//   field (translated from its `type`, not the server's English message) and cleared as soon as
//   that field changes. Errors are { key, params } so the template translates them at render time
//   (switching the language re-renders them).
import { ref, watch } from 'vue'
import { useI18n } from 'vue-i18n'
import { LIMITS } from '@/validation/limits'

// Server error types (pydantic's, and ours from stylelicense/text.py and tags) → i18n keys.
const SERVER_TYPES = {
  missing: 'validation.required',
  string_too_short: 'validation.required',
  string_too_long: 'validation.server.tooLong',
  too_long: 'validation.server.tooLong',
  greater_than_equal: 'validation.server.tooSmall',
  greater_than: 'validation.server.tooSmall',
  less_than_equal: 'validation.server.tooLarge',
  less_than: 'validation.server.tooLarge',
  int_parsing: 'validation.server.notNumber',
  int_type: 'validation.server.notNumber',
  tag_not_english: 'validation.tagNotEnglish',
}

/** `details.fields` of a VALIDATION_ERROR as { field: {key, params} } (field names mapped by
 * `fieldMap`, e.g. { generation_cost_tokens: 'price' }); {} for any other error. */
export function serverFieldErrors(error, fieldMap = {}) {
  const fields = error?.code === 'VALIDATION_ERROR' ? error.details?.fields : null
  const out = {}
  for (const detail of Array.isArray(fields) ? fields : []) {
    const name = String(detail.field ?? '').replace(/^body\./, '')
    const field = fieldMap[name] ?? name
    if (!field || field in out) continue
    const params = {
      ...LIMITS,
      max: detail.max_length ?? detail.le ?? detail.lt ?? '',
      min: detail.min_length ?? detail.ge ?? detail.gt ?? '',
    }
    out[field] = { key: SERVER_TYPES[detail.type] ?? 'validation.server.invalid', params }
  }
  return out
}

/**
 * @param schema  Zod schema of the whole form (messages are i18n keys)
 * @param values  a function returning the form's current values, as the schema reads them
 */
export function useFieldErrors(schema, values, { fieldMap = {} } = {}) {
  const { t } = useI18n()
  const errors = ref({})
  const fromServer = new Set()

  function clientErrors() {
    const result = schema.safeParse(values())
    const out = {}
    if (!result.success) {
      for (const issue of result.error.issues) {
        const field = issue.path.join('.') || '_form'
        if (!(field in out)) out[field] = { key: issue.message, params: LIMITS }
      }
    }
    return { result, out }
  }

  function set(field, error) {
    const next = { ...errors.value }
    if (error) next[field] = error
    else delete next[field]
    errors.value = next
  }

  /** On blur: check one field. */
  function validateField(field) {
    if (fromServer.has(field)) return
    set(field, clientErrors().out[field] ?? null)
  }

  /** On submit: check everything; returns Zod's result (use `.data` when `.success`). */
  function validateAll() {
    fromServer.clear()
    const { result, out } = clientErrors()
    errors.value = out
    return result
  }

  /** Puts a server validation error on its fields; false when it names none (show it as a whole). */
  function setServerError(error) {
    const found = serverFieldErrors(error, fieldMap)
    if (!Object.keys(found).length) return false
    for (const field of Object.keys(found)) fromServer.add(field)
    errors.value = { ...errors.value, ...found }
    return true
  }

  // A shown error follows its field: a server error goes when the value changes, a client error
  // is re-checked on every change (and goes once the value is valid).
  let last = { ...values() }
  watch(
    values,
    (now) => {
      const changed = Object.keys(now).filter((k) => now[k] !== last[k])
      last = { ...now }
      if (!changed.length) return
      const shown = changed.filter((field) => field in errors.value)
      if (!shown.length) return
      const { out } = clientErrors()
      for (const field of shown) {
        fromServer.delete(field)
        set(field, out[field] ?? null)
      }
    },
    { deep: true },
  )

  const message = (field) => {
    const error = errors.value[field]
    return error ? t(error.key, error.params) : ''
  }

  return { errors, validateField, validateAll, setServerError, message }
}
