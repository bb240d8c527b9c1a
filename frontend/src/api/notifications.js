import { api } from './client'
import { notificationListSchema, unreadCountSchema } from './schemas'

export const getNotifications = (cursor) =>
  api.get('/notifications', {
    params: cursor ? { cursor } : undefined,
    schema: notificationListSchema,
  })

/** The header badge's poll: the count alone (one cheap query on the server). */
export const getUnreadCount = () =>
  api
    .get('/notifications/unread-count', { schema: unreadCountSchema })
    .then((data) => data.unread_count)

export const markRead = (id) => api.patch(`/notifications/${id}/read`, {})
export const markAllRead = () => api.post('/notifications/read-all', {})
