/** Where a notification leads: generation → /feed/:id, style → /styles/:id, user → /users/:id. */
export function notificationTarget(notification) {
  const id = notification?.target_id
  if (id === null || id === undefined) {
    return notification?.actor
      ? { name: 'user-profile', params: { id: notification.actor.id } }
      : null
  }
  switch (notification.target_type) {
    case 'generation':
      return { name: 'feed-detail', params: { id: String(id) } }
    case 'style':
      return { name: 'style-detail', params: { id: String(id) } }
    case 'user':
      return { name: 'user-profile', params: { id: String(id) } }
    case 'comment':
      return null
    default:
      return null
  }
}
