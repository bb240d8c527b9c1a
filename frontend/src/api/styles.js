import { z } from 'zod'
import { api } from './client'
import { listOf, styleSchema } from './schemas'

export const listStyles = ({ sort = 'recent', tag, cursor } = {}) => {
  const params = { sort }
  if (tag) params.tag = tag
  if (cursor) params.cursor = cursor
  return api.get('/styles', { params, schema: listOf(styleSchema) })
}

export const getStyle = (id) => api.get(`/styles/${id}`, { schema: styleSchema })

// `GET /api/styles/me` may answer a list envelope, a bare array, one style or null: all become a list.
const myStylesSchema = z.union([
  z.null().transform(() => []),
  z.array(styleSchema),
  listOf(styleSchema).transform((v) => v.results),
  styleSchema.transform((v) => [v]),
])
export const getMyStyles = () => api.get('/styles/me', { schema: myStylesSchema })

/** Multipart upload of a new style; `items` are `{ file, tags }` in upload order. */
export function createStyle({ title, trigger, description, price, items }, onUploadProgress) {
  const form = new FormData()
  form.append('title', title)
  // optional English tag of the style (else the title's, when the title is English)
  if (trigger) form.append('trigger', trigger)
  form.append('description', description ?? '')
  form.append('generation_cost_tokens', String(price))
  for (const item of items) form.append('images', item.file, item.file.name)
  form.append('image_tags', JSON.stringify(items.map((item) => item.tags)))
  return api.post('/styles', form, { schema: styleSchema, onUploadProgress })
}

export const updateStyle = (id, { title, description, price }) =>
  api.patch(
    `/styles/${id}`,
    { title, description: description ?? '', generation_cost_tokens: price },
    { schema: styleSchema },
  )

/** Pause (true) or resume (false) the sales of my style. */
export const setStylePaused = (id, isPaused) =>
  api.patch(`/styles/${id}`, { is_paused: isPaused }, { schema: styleSchema })
