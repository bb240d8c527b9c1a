// The same limits the server enforces (SPEC §4.3, §4.4); also passed to translations as parameters.
export const LIMITS = Object.freeze({
  minImages: 10,
  maxImages: 100,
  minSide: 512,
  maxImageMb: 10,
  maxImageBytes: 10 * 1024 * 1024,
  maxSignatureMb: 10,
  maxProfileImageMb: 10,
  minPrice: 1,
  maxPrice: 10000,
  maxTitle: 100,
  maxStyleDescription: 2000,
  maxTagLength: 50,
  maxTagsPerImage: 30,
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
  maxVerifyBytes: 10 * 1024 * 1024,
  minVerifySide: 64,
})

export const IMAGE_TYPES = Object.freeze(['image/jpeg', 'image/png'])
export const VERIFY_TYPES = Object.freeze(['image/jpeg', 'image/png', 'image/webp'])
export const ASPECT_RATIOS = Object.freeze(['1:1', '2:2', '1:2'])
