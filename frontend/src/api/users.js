import { api } from './client'
import { followingSchema, listOf, meSchema, publicUserSchema } from './schemas'

export const getUser = (id) => api.get(`/users/${id}`, { schema: publicUserSchema })

/**
 * Updates the own profile. JSON when only text changes; multipart (`username`, `bio`,
 * `profile_image`) when a new profile image is sent.
 */
export function updateMe({ username, bio, profileImage }) {
  if (profileImage) {
    const form = new FormData()
    form.append('username', username)
    form.append('bio', bio ?? '')
    form.append('profile_image', profileImage)
    return api.patch('/users/me', form, { schema: meSchema })
  }
  return api.patch('/users/me', { username, bio: bio ?? '' }, { schema: meSchema })
}

export function upgradeToArtist({ artistName, contactEmail, signatureImage }) {
  const form = new FormData()
  form.append('artist_name', artistName)
  form.append('contact_email', contactEmail)
  form.append('signature_image', signatureImage)
  return api.post('/users/me/upgrade-to-artist', form)
}

export const follow = (userId) => api.post(`/users/${userId}/follow`, {})
export const unfollow = (userId) => api.delete(`/users/${userId}/follow`)

export const getFollowing = (cursor) =>
  api.get('/users/me/following', {
    params: cursor ? { cursor } : undefined,
    schema: listOf(followingSchema),
  })
