// The server owns every limit: GET /api/config publishes them (stylelicense/limits.py) and main.js applies
// them with applyServerLimits() before any form is built. These values are only the fallback for when
// the config cannot be read; tests/test_config_api.py fails if they drift from the server's.
// They are also passed to translations as parameters.
const MB = 1024 * 1024

export const LIMITS = {
  minImages: 10,
  maxImages: 100,
  minSide: 512,
  maxImageMb: 10,
  maxImageBytes: 10 * MB,
  maxSignatureMb: 5,
  maxProfileImageMb: 5,
  minPrice: 1,
  maxPrice: 10000,
  maxTitle: 100,
  maxStyleDescription: 2000,
  maxTagLength: 50,
  maxTagsPerImage: 20,
  maxPromptTags: 20,
  maxGenerationDescription: 500,
  maxSeed: 4294967295,
  minUsername: 3,
  maxUsername: 30,
  maxBio: 500,
  maxArtistName: 50,
  maxComment: 1000,
  // POST /api/verify
  maxVerifyMb: 10,
  maxVerifyBytes: 10 * MB,
  minVerifySide: 64,
}

// Server name (GET /api/config → limits) → SPA name.
export const SERVER_NAMES = Object.freeze({
  min_images: 'minImages',
  max_images: 'maxImages',
  min_image_side: 'minSide',
  max_image_bytes: 'maxImageBytes',
  max_price: 'maxPrice',
  min_price: 'minPrice',
  max_title: 'maxTitle',
  max_style_description: 'maxStyleDescription',
  max_tag_length: 'maxTagLength',
  max_tags_per_image: 'maxTagsPerImage',
  max_prompt_tags: 'maxPromptTags',
  max_generation_description: 'maxGenerationDescription',
  max_seed: 'maxSeed',
  min_username: 'minUsername',
  max_username: 'maxUsername',
  max_bio: 'maxBio',
  max_artist_name: 'maxArtistName',
  max_comment: 'maxComment',
  max_verify_bytes: 'maxVerifyBytes',
  min_verify_side: 'minVerifySide',
})

/** Take the server's limits (GET /api/config → ``limits``); unknown or non-numeric entries are ignored. */
export function applyServerLimits(server) {
  if (!server || typeof server !== 'object') return LIMITS
  for (const [name, key] of Object.entries(SERVER_NAMES)) {
    if (Number.isFinite(server[name])) LIMITS[key] = server[name]
  }
  const mb = (bytes, fallback) => (Number.isFinite(bytes) ? Math.floor(bytes / MB) : fallback)
  LIMITS.maxImageMb = mb(server.max_image_bytes, LIMITS.maxImageMb)
  LIMITS.maxSignatureMb = mb(server.max_signature_bytes, LIMITS.maxSignatureMb)
  LIMITS.maxProfileImageMb = mb(server.max_profile_image_bytes, LIMITS.maxProfileImageMb)
  LIMITS.maxVerifyMb = mb(server.max_verify_bytes, LIMITS.maxVerifyMb)
  return LIMITS
}

export const IMAGE_TYPES = Object.freeze(['image/jpeg', 'image/png'])
export const VERIFY_TYPES = Object.freeze(['image/jpeg', 'image/png', 'image/webp'])
export const ASPECT_RATIOS = Object.freeze(['1:1', '2:2', '1:2'])
