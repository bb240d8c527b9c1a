import { api } from './client'
import { commentSchema, listOf } from './schemas'

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

export const editComment = (id, body) => api.patch(`/comments/${id}`, { body })
export const deleteComment = (id) => api.delete(`/comments/${id}`)
