// Zod schemas of the SPA's forms. Each message is an i18n key (translated with LIMITS as
// parameters), so the same check shows the same words in English and Korean.
import { z } from 'zod'
import { ASPECT_RATIOS, IMAGE_TYPES, LIMITS } from './limits'

export const TAG_PATTERN = /^[a-z0-9 -]+$/

/** Lowercases, trims and collapses inner whitespace ("  Sun  Set " → "sun set"). */
export function normalizeTag(raw) {
  return String(raw ?? '')
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ')
}

export const tagSchema = z
  .string()
  .min(1, 'validation.tagEmpty')
  .max(LIMITS.maxTagLength, 'validation.tagTooLong')
  .regex(TAG_PATTERN, 'validation.tagNotEnglish')
  .refine((tag) => /[a-z0-9]/.test(tag), 'validation.tagNotEnglish')

/** Returns the i18n key of what is wrong with a tag (after normalization), or null. */
export function tagError(raw) {
  const result = tagSchema.safeParse(normalizeTag(raw))
  return result.success ? null : result.error.issues[0].message
}

/** Metadata of a chosen image: the browser reads width/height and sniffs the format. */
export const imageMetaSchema = z
  .object({
    name: z.string(),
    type: z.string(),
    size: z.number(),
    width: z.number().nullable(),
    height: z.number().nullable(),
    format: z.enum(['jpeg', 'png']).nullable().optional(),
  })
  .superRefine((meta, ctx) => {
    const formatKnown = meta.format !== undefined
    const isImage = formatKnown ? meta.format !== null : IMAGE_TYPES.includes(meta.type)
    if (!isImage) {
      ctx.addIssue({ code: 'custom', message: 'validation.imageFormat', path: ['type'] })
      return
    }
    if (meta.size > LIMITS.maxImageBytes) {
      ctx.addIssue({ code: 'custom', message: 'validation.imageTooLarge', path: ['size'] })
    }
    if (meta.width === null || meta.height === null) {
      ctx.addIssue({ code: 'custom', message: 'validation.imageUnreadable', path: ['width'] })
    } else if (meta.width < LIMITS.minSide || meta.height < LIMITS.minSide) {
      ctx.addIssue({ code: 'custom', message: 'validation.imageTooSmall', path: ['width'] })
    }
  })

/** All i18n error keys of one image's metadata (empty when it is acceptable). */
export function imageErrors(meta) {
  const result = imageMetaSchema.safeParse(meta)
  return result.success ? [] : [...new Set(result.error.issues.map((i) => i.message))]
}

const tagsOfImage = z.array(tagSchema).max(LIMITS.maxTagsPerImage, 'validation.tooManyTags')

export const styleUploadSchema = z.object({
  title: z
    .string()
    .trim()
    .min(1, 'validation.required')
    .max(LIMITS.maxTitle, 'validation.titleTooLong'),
  // Optional: the style's English tag (the title may be in any language).
  trigger: z
    .string()
    .transform(normalizeTag)
    .refine((v) => v === '' || tagSchema.safeParse(v).success, 'validation.triggerNotEnglish')
    .optional(),
  description: z.string().max(LIMITS.maxStyleDescription, 'validation.descriptionTooLong'),
  price: z.coerce
    .number({ message: 'validation.priceRange' })
    .int('validation.priceRange')
    .min(LIMITS.minPrice, 'validation.priceRange')
    .max(LIMITS.maxPrice, 'validation.priceRange'),
  images: z
    .array(z.object({ meta: imageMetaSchema, tags: tagsOfImage }))
    .min(LIMITS.minImages, 'validation.tooFewImages')
    .max(LIMITS.maxImages, 'validation.tooManyImages'),
})

export const styleEditSchema = styleUploadSchema.pick({
  title: true,
  description: true,
  price: true,
})

const optionalSeed = z
  .any()
  .transform((v) => (v === '' || v === null || v === undefined ? null : Number(v)))
  .refine(
    (v) => v === null || (Number.isInteger(v) && v >= 0 && v <= LIMITS.maxSeed),
    'validation.seedRange',
  )

export const generationFormSchema = z.object({
  prompt_tags: z
    .array(tagSchema)
    .min(1, 'validation.promptTagsRequired')
    .max(LIMITS.maxPromptTags, 'validation.tooManyTags'),
  description: z
    .string()
    .max(LIMITS.maxGenerationDescription, 'validation.descriptionTooLong')
    .default(''),
  aspect_ratio: z.enum(ASPECT_RATIOS, { message: 'validation.aspectRatio' }),
  seed: optionalSeed,
})

const username = z
  .string()
  .trim()
  .min(LIMITS.minUsername, 'validation.usernameLength')
  .max(LIMITS.maxUsername, 'validation.usernameLength')
  .regex(/^[A-Za-z0-9_]+$/, 'validation.usernameChars')

export const devLoginSchema = z.object({
  email: z.string().trim().email('validation.email'),
  username,
})

export const profileSchema = z.object({
  username,
  bio: z.string().max(LIMITS.maxBio, 'validation.bioTooLong'),
})

export const upgradeArtistSchema = z.object({
  artist_name: z
    .string()
    .trim()
    .min(1, 'validation.required')
    .max(LIMITS.maxArtistName, 'validation.artistNameTooLong'),
  contact_email: z.string().trim().email('validation.email'),
  signature: z
    .object({ type: z.string(), size: z.number() }, { message: 'validation.signatureRequired' })
    .refine((f) => IMAGE_TYPES.includes(f.type), 'validation.imageFormat')
    .refine((f) => f.size <= LIMITS.maxSignatureMb * 1024 * 1024, 'validation.imageTooLarge'),
})

export const commentFormSchema = z.object({
  body: z
    .string()
    .trim()
    .min(1, 'validation.commentEmpty')
    .max(LIMITS.maxComment, 'validation.commentTooLong'),
})

/**
 * The file chosen on /verify (metadata read in the browser): JPG, PNG or WebP by its magic bytes,
 * at most 10 MB, at least 64×64 pixels. `file` is null until one is chosen.
 */
export const verifyFileSchema = z
  .object(
    {
      size: z.number(),
      format: z.enum(['jpeg', 'png', 'webp']).nullable(),
      width: z.number().nullable(),
      height: z.number().nullable(),
    },
    { message: 'validation.verifyFileRequired' },
  )
  .superRefine((meta, ctx) => {
    if (meta.format === null) {
      ctx.addIssue({ code: 'custom', message: 'validation.verifyFormat' })
      return
    }
    if (meta.size > LIMITS.maxVerifyBytes) {
      ctx.addIssue({ code: 'custom', message: 'validation.verifyTooLarge' })
    }
    if (meta.width === null || meta.height === null) {
      ctx.addIssue({ code: 'custom', message: 'validation.imageUnreadable' })
    } else if (Math.min(meta.width, meta.height) < LIMITS.minVerifySide) {
      ctx.addIssue({ code: 'custom', message: 'validation.verifyTooSmall' })
    }
  })

/** The first i18n error key of a /verify file's metadata, or null when it may be sent. */
export function verifyFileError(meta) {
  const result = verifyFileSchema.safeParse(meta ?? undefined)
  return result.success ? null : result.error.issues[0].message
}

/** Flattens a Zod error into `{ "path.to.field": "i18n.key" }` (first message per field). */
export function fieldErrors(error) {
  const out = {}
  for (const issue of error?.issues ?? []) {
    const key = issue.path.join('.') || '_form'
    if (!(key in out)) out[key] = issue.message
  }
  return out
}
