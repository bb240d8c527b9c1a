import { api } from './client'

import { searchArtistSchema, styleSchema } from './schemas'
import { z } from 'zod'

const resultSchema = z.looseObject({
  styles: z.array(styleSchema).nullish(),
  artists: z.array(searchArtistSchema).nullish(),
  results: z.array(z.looseObject({})).nullish(),
  next_cursor: z.union([z.string(), z.number()]).nullish(),
  has_more: z.boolean().nullish(),
})

/**
 * Searches styles and artists. The API answers a list of hits
 * `{ results: [{ type: 'style'|'artist', matched_by, matched_tag, style, artist }], next_cursor, has_more }`,
 * split here into `styles` and `artists` (a `{ styles, artists }` object is accepted as well).
 */
export async function search(q, type = 'all', cursor = null) {
  const params = { q, type }
  if (cursor) params.cursor = cursor
  const data = await api.get('/search', { params, schema: resultSchema })
  if (data.styles || data.artists) {
    return { styles: data.styles ?? [], artists: data.artists ?? [] }
  }
  const styles = []
  const artists = []
  for (const item of data.results ?? []) {
    const kind = item.type ?? item.kind ?? item.result_type
    if (kind === 'artist' || kind === 'artists') {
      const parsed = searchArtistSchema.safeParse(item.artist ?? item)
      if (parsed.success) artists.push({ ...parsed.data, matched_by: item.matched_by ?? null })
    } else {
      const parsed = styleSchema.safeParse(item.style ?? item)
      if (parsed.success) {
        styles.push({
          ...parsed.data,
          matched_by: item.matched_by ?? null,
          matched_tag: item.matched_tag ?? null,
        })
      }
    }
  }
  return {
    styles,
    artists,
    next_cursor: data.next_cursor ?? null,
    has_more: Boolean(data.has_more),
  }
}

/** The user id of a style's artist (the follow target and profile id): `artist.id` is the user id. */
export function artistUserId(styleArtist) {
  if (!styleArtist) return null
  return styleArtist.user_id ?? styleArtist.id ?? null
}
