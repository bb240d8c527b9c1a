// Zod schemas of the API responses (SPEC §6.1). Fields the SPEC names are required; fields the SPA
// can live without are optional/nullish so that a backend adding or omitting extras does not break
// pages. Objects are loose: unknown keys pass through untouched.
import { z } from 'zod'

const id = z.union([z.number().int(), z.string().min(1)])
const nullableString = z.string().nullish()
const count = z.number().int().nonnegative().nullish()

export const listOf = (item) =>
  z.looseObject({
    results: z.array(item),
    next_cursor: z.union([z.string(), z.number()]).nullish(),
    has_more: z.boolean().nullish().default(false),
  })

export const csrfSchema = z.looseObject({ csrf_token: z.string().min(1) })

export const configSchema = z.looseObject({
  google_login: z.boolean().default(false),
  dev_login: z.boolean().default(false),
  toss_client_key: nullableString,
  sandbox_checkout: z.boolean().default(false),
  // The server's limits and codes (stylelicense/limits.py); validation/limits.js applies them.
  limits: z.record(z.string(), z.number()).nullish(),
  packages: z
    .array(z.looseObject({ id: z.string(), tokens: z.number(), price: z.number() }))
    .nullish(),
  error_codes: z.array(z.string()).nullish(),
})

export const artistSummarySchema = z.looseObject({
  id,
  artist_name: z.string(),
  // Optional extras the SPA uses when present (see docs/FRONTEND.md "Contract assumptions").
  user_id: id.nullish(),
  username: nullableString,
  profile_image_url: nullableString,
  follower_count: count,
  is_following: z.boolean().nullish(),
})

export const meSchema = z.looseObject({
  id,
  username: z.string(),
  email: nullableString,
  role: z.enum(['user', 'artist']).or(z.string()),
  token_balance: z.number().int(),
  profile_image_url: nullableString,
  bio: nullableString,
  artist: z
    .looseObject({
      id,
      artist_name: z.string(),
      earned_token_balance: z.number().int().nullish(),
      follower_count: count,
      contact_email: nullableString,
    })
    .nullish(),
})

export const userRefSchema = z.looseObject({
  id,
  username: nullableString,
  profile_image_url: nullableString,
})

export const publicUserSchema = z.looseObject({
  id,
  username: z.string(),
  bio: nullableString,
  profile_image_url: nullableString,
  role: nullableString,
  artist: z
    .looseObject({
      id,
      artist_name: z.string(),
      follower_count: count,
      style: z
        .looseObject({
          id,
          title: z.string(),
          thumbnail_url: nullableString,
          generation_cost_tokens: z.number().int().nullish(),
          generations_count: count,
        })
        .nullish(),
    })
    .nullish(),
  is_following: z.boolean().nullish(),
  stats: z.record(z.string(), z.any()).nullish(),
  created_at: nullableString,
})

// SPEC §13: a waiting job's place in its queue and estimated seconds to its result.
export const queueSchema = z.looseObject({
  position: z.number().int(),
  eta_seconds: z.number().nullish(),
})

export const trainingProgressSchema = z.looseObject({
  current_epoch: z.number().nullish(),
  total_epochs: z.number().nullish(),
  progress_percent: z.number().nullish(),
  estimated_seconds: z.number().nullish(),
  last_updated: nullableString,
})

export const styleSchema = z.looseObject({
  id,
  title: z.string(),
  description: nullableString,
  generation_cost_tokens: z.number().int(),
  training_status: z.string(),
  progress: trainingProgressSchema.nullish(),
  queue: queueSchema.nullish(),
  thumbnail_url: nullableString,
  tags: z.array(z.string()).nullish().default([]),
  artist: artistSummarySchema.nullish(),
  generations_count: count,
  created_at: nullableString,
  matched_by: nullableString,
  is_paused: z.boolean().nullish().default(false),
  samples: z
    .array(
      z.looseObject({
        url: z.string(),
        thumbnail_url: z.string(),
        prompt: z.string(),
        seed: z.number().int(),
        width: z.number().int(),
        height: z.number().int(),
        without_style_url: z.string(),
      }),
    )
    .nullish()
    .default([]),
  training_report: z
    .looseObject({
      loss: z.array(z.tuple([z.number(), z.number()])),
      steps: z.number(),
      seconds: z.number(),
      images: z.number(),
      resolution: z.number(),
    })
    .nullish(),
})

export const generationProgressSchema = z.looseObject({
  current_step: z.number().nullish(),
  total_steps: z.number().nullish(),
  progress_percent: z.number().nullish(),
  estimated_seconds: z.number().nullish(),
  last_updated: nullableString,
})

export const generationSchema = z.looseObject({
  id,
  style_id: id.nullish(),
  status: z.string(),
  progress: generationProgressSchema.nullish(),
  queue: queueSchema.nullish(),
  prompt_tags: z.array(z.string()).nullish().default([]),
  description: nullableString,
  aspect_ratio: nullableString,
  seed: z.number().int().nullish(),
  is_public: z.boolean().nullish().default(false),
  result_url: nullableString,
  thumbnail_url: nullableString,
  display_url: nullableString,
  like_count: z.number().int().nullish().default(0),
  comment_count: z.number().int().nullish().default(0),
  cost_tokens: z.number().int().nullish(),
  attempts: z.number().int().nullish(),
  created_at: nullableString,
  width: z.number().int().nullish(),
  height: z.number().int().nullish(),
  completed_at: nullableString,
  error_code: nullableString,
  licence_url: nullableString,
  // owner, style and artist summaries (the artist's `id` is the artist's user id)
  owner: userRefSchema.nullish(),
  user: userRefSchema.nullish(),
  style: z
    .looseObject({
      id,
      title: nullableString,
      artist: artistSummarySchema.nullish(),
      is_paused: z.boolean().nullish(),
    })
    .nullish(),
  artist: artistSummarySchema.nullish(),
  // whether the signed-in viewer liked it (optional: the like button copes without it)
  is_liked: z.boolean().nullish(),
  liked_by_me: z.boolean().nullish(),
})

/** The owner of a generation, whichever key the server used. */
export const generationOwner = (generation) => generation?.owner ?? generation?.user ?? null
/** Whether the viewer liked it, when the server says so. */
export const generationLiked = (generation) =>
  Boolean(generation?.is_liked ?? generation?.liked_by_me ?? generation?.liked ?? false)

export const commentDeletedSchema = z
  .looseObject({
    id: id.nullish(),
    deleted: z.boolean().nullish(),
    kept_as_placeholder: z.boolean().nullish(),
    comment_count: z.number().int().nullish(),
  })
  .nullish()

export const likeResultSchema = z
  .looseObject({ like_count: z.number().int().nullish(), liked: z.boolean().nullish() })
  .nullish()

const commentBase = {
  id,
  body: z.string().nullish().default(''),
  parent_id: id.nullish(),
  author: userRefSchema.nullish(),
  created_at: nullableString,
  updated_at: nullableString,
  is_deleted: z.boolean().nullish().default(false),
  is_mine: z.boolean().nullish(),
}

export const replySchema = z.looseObject(commentBase)
export const commentSchema = z.looseObject({
  ...commentBase,
  replies: z.array(replySchema).nullish().default([]),
})

export const notificationSchema = z.looseObject({
  id,
  type: z.string(),
  actor: userRefSchema.nullish(),
  target_type: nullableString,
  target_id: id.nullish(),
  // summary of the target (generation/style/comment/user); null when it is gone
  target: z.looseObject({}).nullish(),
  is_read: z.boolean(),
  created_at: nullableString,
})

export const unreadCountSchema = z.object({ unread_count: z.number().int() })

export const notificationListSchema = listOf(notificationSchema).extend({
  unread_count: z.number().int().nonnegative().nullish().default(0),
})

export const packageSchema = z.looseObject({
  id: z.string(),
  tokens: z.number().int(),
  price: z.number(),
  currency: z.string(),
})

// Packages come as a bare array (SPEC §6.1); a list envelope is accepted as well.
export const packagesSchema = z.union([
  z.array(packageSchema),
  z.looseObject({ results: z.array(packageSchema) }).transform((v) => v.results),
  z.looseObject({ packages: z.array(packageSchema) }).transform((v) => v.packages),
])

export const purchaseSchema = z.looseObject({
  order_id: z.string(),
  amount: z.number(),
  currency: z.string(),
  order_name: z.string(),
  client_key: nullableString,
  customer_key: nullableString,
  success_url: nullableString,
  fail_url: nullableString,
})

export const confirmSchema = z.looseObject({
  status: nullableString,
  token_balance: z.number().int().nullish(),
})

export const balanceSchema = z.looseObject({ token_balance: z.number().int() })

export const transactionSchema = z.looseObject({
  id,
  transaction_type: z.string(),
  amount: z.number(),
  direction: z.enum(['in', 'out']).or(z.string()),
  status: nullableString,
  memo: nullableString,
  balance_after: z.number().nullish(),
  related_generation_id: id.nullish(),
  created_at: nullableString,
})

// An artist card: `id` is the artist's user id (the follow target); the artist profile is nested.
export const artistCardSchema = z.looseObject({
  id,
  username: nullableString,
  profile_image_url: nullableString,
  artist: z
    .looseObject({ id: id.nullish(), artist_name: nullableString, follower_count: count })
    .nullish(),
  style: styleSchema.nullish(),
  is_following: z.boolean().nullish(),
  // flat variants tolerated
  artist_name: nullableString,
  follower_count: count,
  user_id: id.nullish(),
  matched_by: nullableString,
})
export const searchArtistSchema = artistCardSchema

// GET /api/search (SPEC §6.1): each list holds hits of its own shape with `matched_by`.
export const searchStyleHitSchema = styleSchema
  .pick({
    id: true,
    title: true,
    description: true,
    generation_cost_tokens: true,
    training_status: true,
    thumbnail_url: true,
    tags: true,
    artist: true,
    generations_count: true,
    created_at: true,
  })
  .extend({ matched_by: z.enum(['tag', 'name']), matched_tag: z.string().nullish() })
export const searchArtistHitSchema = z.looseObject({
  id,
  user_id: id.nullish(),
  username: z.string(),
  artist_name: z.string(),
  follower_count: count,
  profile_image_url: nullableString,
  matched_by: z.enum(['tag', 'name']),
})

export const followingSchema = artistCardSchema.extend({
  styles: z.array(styleSchema).nullish(),
  followed_at: nullableString,
})

// Licences and verification (issue 7). The certificate never carries the full-size image.
const namedRefSchema = z.looseObject({ id, name: z.string() })
const sha256 = z.string().regex(/^[0-9a-f]{64}$/i)

export const licenceTermsSchema = z.looseObject({
  version: z.string().min(1),
  effective: nullableString,
  document: nullableString,
  url: nullableString,
  // Stable codes ("commercial_use", "resell_style", …) the SPA translates.
  permissions: z.array(z.string()).default([]),
  requirements: z.array(z.string()).default([]),
  prohibitions: z.array(z.string()).default([]),
})

export const certificateSchema = z.looseObject({
  serial: z.string().min(1),
  status: z.string().min(1),
  issued_at: nullableString,
  terms: licenceTermsSchema,
  artist: namedRefSchema,
  style: namedRefSchema,
  generation_id: id,
  licensed_to: nullableString,
  is_public: z.boolean().nullish(),
  thumbnail_url: nullableString,
  sha256,
  certificate_url: nullableString,
})

export const verifyLicenceSchema = z.looseObject({
  serial: z.string().min(1),
  certificate_url: nullableString,
  artist: namedRefSchema,
  style: namedRefSchema,
  terms_version: nullableString,
})

export const verifyResultSchema = z.looseObject({
  verdict: z.enum(['verified', 'derived', 'unknown']),
  confidence: z.number().min(0).max(1),
  licence: verifyLicenceSchema.nullish(),
  private_licence: z.boolean().nullish().default(false),
  // Signed-in callers only.
  method: nullableString,
  c2pa: z.looseObject({}).nullish(),
})

// Artist dashboard (SPEC §13)
export const dashboardSchema = z.looseObject({
  earned_total: z.number().int(),
  earned_in_period: z.number().int(),
  daily: z.array(
    z.looseObject({ date: z.string(), tokens: z.number().int(), generations: z.number().int() }),
  ),
  styles: z.array(
    z.looseObject({
      id,
      title: z.string(),
      training_status: z.string(),
      is_paused: z.boolean(),
      generation_cost_tokens: z.number().int(),
      generations: z.number().int(),
      earned: z.number().int(),
    }),
  ),
  recent_licences: z.array(
    z.looseObject({
      serial: z.string(),
      created_at: nullableString,
      style_id: id,
      licensee: userRefSchema,
    }),
  ),
})
