import { api } from './client'
import { generationSchema, listOf, likeResultSchema } from './schemas'

/** Optional fields are left out when empty, so the server applies its own defaults.
 * `expectedCostTokens` is the price the form showed: a changed price answers PRICE_CHANGED. */
export function createGeneration({
  styleId,
  promptTags,
  description,
  aspectRatio,
  seed,
  expectedCostTokens,
}) {
  const body = { style_id: styleId, prompt_tags: promptTags, aspect_ratio: aspectRatio }
  if (expectedCostTokens !== undefined && expectedCostTokens !== null)
    body.expected_cost_tokens = expectedCostTokens
  if (description) body.description = description
  if (seed !== null && seed !== undefined && seed !== '') body.seed = Number(seed)
  return api.post('/generations', body, { schema: generationSchema })
}

export const getGeneration = (id) => api.get(`/generations/${id}`, { schema: generationSchema })

/** Public images, newest first; `styleId` narrows them to one style (its page's gallery). */
export const getFeed = (cursor, { styleId, limit } = {}) => {
  const params = {}
  if (cursor) params.cursor = cursor
  if (styleId != null) params.style_id = styleId
  if (limit) params.limit = limit
  return api.get('/generations/feed', { params, schema: listOf(generationSchema) })
}

/** visibility: 'all' | 'public' | 'private' */
export const getMyGenerations = (cursor, visibility = 'all') => {
  const params = {}
  if (cursor) params.cursor = cursor
  if (visibility && visibility !== 'all') params.visibility = visibility
  return api.get('/generations/me', { params, schema: listOf(generationSchema) })
}

/** Only while queued: the server answers 409 GENERATION_STARTED once a worker took it. */
export const cancelGeneration = (id) =>
  api.post(`/generations/${id}/cancel`, {}, { schema: generationSchema })

/** changes: { is_public?, description? } */
export const updateGeneration = (id, changes) =>
  api.patch(`/generations/${id}`, changes, { schema: generationSchema })

export const like = (id) => api.post(`/generations/${id}/like`, {}, { schema: likeResultSchema })
export const unlike = (id) => api.delete(`/generations/${id}/like`, { schema: likeResultSchema })
