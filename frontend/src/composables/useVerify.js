import { ref } from 'vue'
import { verifyImage } from '@/api/provenance'
import { useObjectUrl } from './useObjectUrl'
import { readImageDimensions, sniffFormat } from '@/validation/imageFiles'
import { verifyFileError } from '@/validation/forms'

// Reasons the server gives in INVALID_IMAGE_FORMAT details for /verify (see provenance/operations).
export const VERIFY_REJECT_REASONS = Object.freeze([
  'unsupported',
  'corrupt',
  'too_small',
  'multi_frame',
  'too_many_pixels',
  'missing',
])

/**
 * The i18n key for a refused /verify upload when the generic `errors.<CODE>` would mislead
 * (the generic image messages speak of JPG/PNG and 512 px, the style upload's limits);
 * null means "use the shared error-code mapping" (RATE_LIMITED, NETWORK_ERROR, …).
 */
export function verifyErrorKey(error) {
  const code = error?.code
  if (code === 'INVALID_IMAGE_FORMAT') {
    const reason = error.details?.reason
    return VERIFY_REJECT_REASONS.includes(reason)
      ? `verify.reasons.${reason}`
      : 'validation.verifyFormat'
  }
  if (code === 'IMAGE_SIZE_EXCEEDED' || code === 'PAYLOAD_TOO_LARGE') {
    return 'validation.verifyTooLarge'
  }
  return null
}

/** 'watermark-resized' → the i18n key `verify.methods.watermarkResized` (unknown → `other`). */
export function methodKey(method) {
  const known = ['c2pa', 'sha256', 'watermark', 'watermarkResized', 'registration']
  const name = String(method ?? '').replace(/-(\w)/g, (_, c) => c.toUpperCase())
  return `verify.methods.${known.includes(name) ? name : 'other'}`
}

/** One /verify check: the chosen file (checked in the browser first), upload progress, result. */
export function useVerify() {
  const file = ref(null)
  const fileError = ref(null)
  const progress = ref(null)
  const busy = ref(false)
  const result = ref(null)
  const error = ref(null)
  const preview = useObjectUrl()

  async function choose(chosen) {
    result.value = null
    error.value = null
    progress.value = null
    file.value = chosen ?? null
    if (!chosen) {
      fileError.value = 'validation.verifyFileRequired'
      preview.set(null)
      return
    }
    const format = await sniffFormat(chosen, { webp: true })
    const { width, height } = format
      ? await readImageDimensions(chosen)
      : { width: null, height: null }
    fileError.value = verifyFileError({ size: chosen.size, format, width, height })
    preview.set(fileError.value ? null : chosen)
  }

  async function submit() {
    if (!file.value) fileError.value = 'validation.verifyFileRequired'
    if (fileError.value || busy.value) return
    busy.value = true
    error.value = null
    result.value = null
    progress.value = 0
    try {
      result.value = await verifyImage(file.value, (event) => {
        progress.value = event.total ? (event.loaded / event.total) * 100 : null
      })
    } catch (e) {
      error.value = e
    } finally {
      busy.value = false
    }
  }

  function reset() {
    file.value = null
    fileError.value = null
    progress.value = null
    result.value = null
    error.value = null
    preview.set(null)
  }

  return {
    file,
    fileError,
    progress,
    busy,
    result,
    error,
    previewUrl: preview.url,
    choose,
    submit,
    reset,
  }
}
