import { api } from './client'

import { searchArtistHitSchema, searchStyleHitSchema } from './schemas'
import { z } from 'zod'

export const searchResultSchema = z.looseObject({
  styles: z.array(searchStyleHitSchema),
  artists: z.array(searchArtistHitSchema),
})

/**
 * Searches styles and artists (SPEC §6.1): `{ styles: [style + matched_by, matched_tag],
 * artists: [{ id, username, artist_name, follower_count, profile_image_url, matched_by }] }`,
 * each list the best `limit` hits (the list of a type not asked for is empty).
 */
export async function search(q, type = 'all', limit = 20) {
  return api.get('/search', { params: { q, type, limit }, schema: searchResultSchema })
}

/** The user id of a style's artist (the follow target and profile id): `artist.id` is the user id. */
export function artistUserId(styleArtist) {
  if (!styleArtist) return null
  return styleArtist.user_id ?? styleArtist.id ?? null
}
