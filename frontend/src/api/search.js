import { api } from './client'

import { searchArtistSchema, styleSchema } from './schemas'
import { z } from 'zod'

const resultSchema = z.looseObject({
  styles: z.array(styleSchema).nullish(),
  artists: z.array(searchArtistSchema).nullish(),
  results: z.array(z.looseObject({})).nullish(),
})

/**
 * Searches styles and artists. The expected shape is `{ styles: [...], artists: [...] }`; a mixed
 * list `{ results: [{ type|kind: 'style'|'artist', ... }] }` is split into the same two arrays.
 */
export async function search(q, type = 'all') {
  const data = await api.get('/search', { params: { q, type }, schema: resultSchema })
  if (data.styles || data.artists) {
    return { styles: data.styles ?? [], artists: data.artists ?? [] }
  }
  const styles = []
  const artists = []
  for (const item of data.results ?? []) {
    const kind = item.type ?? item.kind ?? item.result_type
    if (kind === 'artist' || kind === 'artists') {
      const parsed = searchArtistSchema.safeParse(item.artist ?? item)
      if (parsed.success) artists.push({ matched_by: item.matched_by, ...parsed.data })
    } else {
      const parsed = styleSchema.safeParse(item.style ?? item)
      if (parsed.success) styles.push({ matched_by: item.matched_by, ...parsed.data })
    }
  }
  return { styles, artists }
}
