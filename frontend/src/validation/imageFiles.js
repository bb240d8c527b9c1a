// Browser-side reading of chosen image files: real format (magic bytes) and pixel dimensions.

const ascii = (bytes, start, text) =>
  [...text].every((c, i) => bytes[start + i] === c.charCodeAt(0))

/** 'jpeg' | 'png' | 'webp' | null from the first 12 bytes of a file. */
export function imageFormatFromBytes(bytes) {
  if (!bytes || bytes.length < 4) return null
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg'
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png'
  if (bytes.length >= 12 && ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return 'webp'
  return null
}

/** 'jpeg' | 'png' | null: the formats styles and profiles accept (WebP only for /verify). */
export function formatFromBytes(bytes) {
  const format = imageFormatFromBytes(bytes)
  return format === 'webp' ? null : format
}

export async function sniffFormat(file, { webp = false } = {}) {
  try {
    const bytes = new Uint8Array(await file.slice(0, 12).arrayBuffer())
    return webp ? imageFormatFromBytes(bytes) : formatFromBytes(bytes)
  } catch {
    return null
  }
}

/** Natural width/height of an image file, or nulls when the browser cannot decode it. */
export function readImageDimensions(file) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file)
    const img = new Image()
    img.onload = () => {
      resolve({ width: img.naturalWidth, height: img.naturalHeight })
      URL.revokeObjectURL(url)
    }
    img.onerror = () => {
      resolve({ width: null, height: null })
      URL.revokeObjectURL(url)
    }
    img.src = url
  })
}

/** Everything imageMetaSchema needs about one file. */
export async function readImageMeta(file) {
  const format = await sniffFormat(file)
  const { width, height } = format ? await readImageDimensions(file) : { width: null, height: null }
  return { name: file.name, type: file.type, size: file.size, width, height, format }
}
