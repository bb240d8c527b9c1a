import { api } from './client'
import { notificationListSchema } from './schemas'

export const getNotifications = (cursor) =>
  api.get('/notifications', {
    params: cursor ? { cursor } : undefined,
    schema: notificationListSchema,
  })

export const markRead = (id) => api.patch(`/notifications/${id}/read`, {})
export const markAllRead = () => api.post('/notifications/read-all', {})
