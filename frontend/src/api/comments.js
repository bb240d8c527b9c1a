import { api } from './client'
import { commentDeletedSchema, commentSchema, listOf, replySchema } from './schemas'

export const getComments = (generationId, cursor) =>
  api.get(`/generations/${generationId}/comments`, {
    params: cursor ? { cursor } : undefined,
    schema: listOf(commentSchema),
  })

export function addComment(generationId, { body, parentId = null }) {
  const payload = { body }
  if (parentId !== null && parentId !== undefined) payload.parent_id = parentId
  return api.post(`/generations/${generationId}/comments`, payload, { schema: commentSchema })
}

export const editComment = (id, body) =>
  api.patch(`/comments/${id}`, { body }, { schema: replySchema.nullish() })

/** Returns `{ kept_as_placeholder, comment_count }` (a comment with replies stays as a placeholder). */
export const deleteComment = (id) => api.delete(`/comments/${id}`, { schema: commentDeletedSchema })
