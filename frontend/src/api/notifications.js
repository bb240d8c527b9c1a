import { api } from './client'
import { notificationListSchema } from './schemas'

export const getNotifications = (cursor) =>
  api.get('/notifications', {
    params: cursor ? { cursor } : undefined,
    schema: notificationListSchema,
  })

/** Only the unread count matters to the header badge: ask for the smallest page. */
export const getUnreadCount = () =>
  api
    .get('/notifications', { params: { limit: 1 }, schema: notificationListSchema })
    .then((page) => page.unread_count ?? 0)

export const markRead = (id) => api.patch(`/notifications/${id}/read`, {})
export const markAllRead = () => api.post('/notifications/read-all', {})
