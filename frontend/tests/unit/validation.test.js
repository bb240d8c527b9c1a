import { describe, expect, it } from 'vitest'
import {
  devLoginSchema,
  fieldErrors,
  generationFormSchema,
  imageErrors,
  normalizeTag,
  profileSchema,
  styleUploadSchema,
  tagError,
  upgradeArtistSchema,
} from '@/validation/forms'
import { formatFromBytes } from '@/validation/imageFiles'

const MB = 1024 * 1024
const goodMeta = (i = 0) => ({
  name: `img${i}.png`,
  type: 'image/png',
  size: 2 * MB,
  width: 768,
  height: 512,
  format: 'png',
})
const images = (n, meta = goodMeta) =>
  Array.from({ length: n }, (_, i) => ({ meta: meta(i), tags: ['flower', 'ink wash'] }))
const styleForm = (overrides = {}) => ({
  title: 'Watercolor Dreams',
  description: '',
  price: 10,
  images: images(10),
  ...overrides,
})
const errorsOf = (schema, value) => {
  const result = schema.safeParse(value)
  return result.success ? {} : fieldErrors(result.error)
}

describe('style upload form', () => {
  it('accepts 10 to 100 valid images', () => {
    expect(styleUploadSchema.safeParse(styleForm()).success).toBe(true)
    expect(styleUploadSchema.safeParse(styleForm({ images: images(100) })).success).toBe(true)
  })

  it('refuses 9 and 101 images', () => {
    expect(errorsOf(styleUploadSchema, styleForm({ images: images(9) })).images).toBe(
      'validation.tooFewImages',
    )
    expect(errorsOf(styleUploadSchema, styleForm({ images: images(101) })).images).toBe(
      'validation.tooManyImages',
    )
  })

  it('refuses a file over 10 MB, under 512 px, or that is not JPG/PNG', () => {
    const big = (i) => ({ ...goodMeta(i), size: i === 3 ? 10 * MB + 1 : 2 * MB })
    expect(
      errorsOf(styleUploadSchema, styleForm({ images: images(10, big) }))['images.3.meta.size'],
    ).toBe('validation.imageTooLarge')
    const small = (i) => ({ ...goodMeta(i), width: i === 0 ? 511 : 600 })
    expect(
      errorsOf(styleUploadSchema, styleForm({ images: images(10, small) }))['images.0.meta.width'],
    ).toBe('validation.imageTooSmall')
    const gif = (i) => ({ ...goodMeta(i), format: i === 5 ? null : 'png' })
    expect(
      errorsOf(styleUploadSchema, styleForm({ images: images(10, gif) }))['images.5.meta.type'],
    ).toBe('validation.imageFormat')
  })

  it('accepts exactly 10 MB and exactly 512×512', () => {
    expect(imageErrors({ ...goodMeta(), size: 10 * MB, width: 512, height: 512 })).toEqual([])
  })

  it('judges the format by content when it is known, by MIME type otherwise', () => {
    // a GIF renamed .png: the browser may say image/png, the bytes say otherwise
    expect(imageErrors({ ...goodMeta(), type: 'image/png', format: null })).toEqual([
      'validation.imageFormat',
    ])
    const noSniff = { ...goodMeta() }
    delete noSniff.format
    expect(imageErrors({ ...noSniff, type: 'image/gif' })).toEqual(['validation.imageFormat'])
    expect(imageErrors(noSniff)).toEqual([])
  })

  it('reports undecodable images', () => {
    expect(imageErrors({ ...goodMeta(), width: null, height: null })).toEqual([
      'validation.imageUnreadable',
    ])
  })

  it('refuses non-English tags on an image', () => {
    const withTags = images(10)
    withTags[2].tags = ['수채화']
    expect(errorsOf(styleUploadSchema, styleForm({ images: withTags }))['images.2.tags.0']).toBe(
      'validation.tagNotEnglish',
    )
  })

  it('checks the price range 1–10000 and the title', () => {
    expect(errorsOf(styleUploadSchema, styleForm({ price: 0 })).price).toBe('validation.priceRange')
    expect(errorsOf(styleUploadSchema, styleForm({ price: 10001 })).price).toBe(
      'validation.priceRange',
    )
    expect(errorsOf(styleUploadSchema, styleForm({ price: 2.5 })).price).toBe(
      'validation.priceRange',
    )
    expect(errorsOf(styleUploadSchema, styleForm({ price: '' })).price).toBe(
      'validation.priceRange',
    )
    expect(styleUploadSchema.safeParse(styleForm({ price: '10000' })).data.price).toBe(10000)
    expect(errorsOf(styleUploadSchema, styleForm({ title: '   ' })).title).toBe(
      'validation.required',
    )
  })
})

describe('tags', () => {
  it('normalizes case and whitespace', () => {
    expect(normalizeTag('  Sun   Set ')).toBe('sun set')
  })

  it.each([
    ['watercolor', null],
    ['ink-wash 2', null],
    ['수채화', 'validation.tagNotEnglish'],
    ['café', 'validation.tagNotEnglish'],
    ['a_b', 'validation.tagNotEnglish'],
    ['---', 'validation.tagNotEnglish'],
    ['', 'validation.tagEmpty'],
    ['x'.repeat(51), 'validation.tagTooLong'],
  ])('%j → %s', (tag, expected) => {
    expect(tagError(tag)).toBe(expected)
  })
})

describe('generation form', () => {
  const form = (overrides = {}) => ({
    prompt_tags: ['woman', 'portrait'],
    description: '',
    aspect_ratio: '1:1',
    seed: '',
    ...overrides,
  })

  it('accepts a minimal form with a random seed', () => {
    const result = generationFormSchema.safeParse(form())
    expect(result.success).toBe(true)
    expect(result.data.seed).toBeNull()
  })

  it('needs at least one tag and at most 20', () => {
    expect(errorsOf(generationFormSchema, form({ prompt_tags: [] })).prompt_tags).toBe(
      'validation.promptTagsRequired',
    )
    const many = Array.from({ length: 21 }, (_, i) => `tag${i}`)
    expect(errorsOf(generationFormSchema, form({ prompt_tags: many })).prompt_tags).toBe(
      'validation.tooManyTags',
    )
  })

  it('accepts only the three aspect ratios', () => {
    for (const ratio of ['1:1', '2:2', '1:2']) {
      expect(generationFormSchema.safeParse(form({ aspect_ratio: ratio })).success).toBe(true)
    }
    expect(errorsOf(generationFormSchema, form({ aspect_ratio: '16:9' })).aspect_ratio).toBe(
      'validation.aspectRatio',
    )
  })

  it('checks the seed range', () => {
    expect(generationFormSchema.safeParse(form({ seed: '42' })).data.seed).toBe(42)
    expect(generationFormSchema.safeParse(form({ seed: 4294967295 })).success).toBe(true)
    for (const bad of [-1, 4294967296, 1.5, 'abc']) {
      expect(errorsOf(generationFormSchema, form({ seed: bad })).seed).toBe('validation.seedRange')
    }
  })

  it('refuses a non-English prompt tag and a long description', () => {
    expect(errorsOf(generationFormSchema, form({ prompt_tags: ['고양이'] }))['prompt_tags.0']).toBe(
      'validation.tagNotEnglish',
    )
    expect(errorsOf(generationFormSchema, form({ description: 'x'.repeat(501) })).description).toBe(
      'validation.descriptionTooLong',
    )
  })
})

describe('account forms', () => {
  it('validates dev login and profile usernames like the server (a-z, 0-9, _; 3–30)', () => {
    expect(devLoginSchema.safeParse({ email: 'a@b.io', username: 'ana_1' }).success).toBe(true)
    expect(errorsOf(devLoginSchema, { email: 'nope', username: 'ana' }).email).toBe(
      'validation.email',
    )
    expect(errorsOf(profileSchema, { username: 'ab', bio: '' }).username).toBe(
      'validation.usernameLength',
    )
    expect(errorsOf(profileSchema, { username: 'ana.b', bio: '' }).username).toBe(
      'validation.usernameChars',
    )
  })

  it('requires a PNG/JPG signature', () => {
    const form = { artist_name: 'Ana', contact_email: 'ana@x.io' }
    expect(errorsOf(upgradeArtistSchema, form).signature).toBe('validation.signatureRequired')
    expect(
      errorsOf(upgradeArtistSchema, { ...form, signature: { type: 'image/gif', size: 10 } })
        .signature,
    ).toBe('validation.imageFormat')
    expect(
      upgradeArtistSchema.safeParse({ ...form, signature: { type: 'image/png', size: 10 } })
        .success,
    ).toBe(true)
  })
})

describe('format sniffing', () => {
  it('recognises JPEG and PNG magic bytes only', () => {
    expect(formatFromBytes(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg')
    expect(formatFromBytes(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(
      'png',
    )
    expect(formatFromBytes(new TextEncoder().encode('GIF89a..'))).toBeNull()
    expect(formatFromBytes(new Uint8Array([0xff]))).toBeNull()
  })
})

describe('server limits', () => {
  it('takes the limits GET /api/config publishes (sizes in bytes become MB for messages)', async () => {
    const { LIMITS, applyServerLimits } = await import('@/validation/limits')
    const before = { ...LIMITS }
    try {
      applyServerLimits({
        max_tags_per_image: 7,
        max_signature_bytes: 3 * 1024 * 1024,
        max_title: 'x',
      })
      expect(LIMITS.maxTagsPerImage).toBe(7)
      expect(LIMITS.maxSignatureMb).toBe(3)
      expect(LIMITS.maxTitle).toBe(before.maxTitle) // not a number: ignored
    } finally {
      Object.assign(LIMITS, before)
    }
  })
})
