/**
 * Where a notification leads: generation → /feed/:id, style → /styles/:id, user → /users/:id,
 * comment → the image it is on (`target.generation_id`). Null when the target is gone.
 */
export function notificationTarget(notification) {
  if (!notification) return null
  const id = notification.target_id
  const summary = notification.target
  // the server sends `target: null` when the thing is gone or no longer visible
  if (summary === null) return null
  switch (notification.target_type) {
    case 'generation':
      return id == null ? null : { name: 'feed-detail', params: { id: String(id) } }
    case 'style':
      return id == null ? null : { name: 'style-detail', params: { id: String(id) } }
    case 'user':
      return id == null ? null : { name: 'user-profile', params: { id: String(id) } }
    case 'comment': {
      const generationId = summary?.generation_id
      return generationId == null
        ? null
        : { name: 'feed-detail', params: { id: String(generationId) } }
    }
    default:
      return null
  }
}

/** A thumbnail to show beside the notification, when the target has one. */
export function notificationThumbnail(notification) {
  const summary = notification?.target
  return summary?.thumbnail_url ?? summary?.generation_thumbnail_url ?? null
}

/** The i18n key of the notification's sentence. */
export function notificationTextKey(notification) {
  if (notification?.type === 'comment' && notification.target?.is_reply) {
    return 'notifications.types.reply'
  }
  return `notifications.types.${notification?.type}`
}
