import { defineStore } from 'pinia'
import { ref } from 'vue'
import * as notificationsApi from '@/api/notifications'
import { createPoller } from '@/composables/usePolling'

export const NOTIFICATION_POLL_MS = 30000

export const useNotificationsStore = defineStore('notifications', () => {
  const unreadCount = ref(0)
  const items = ref([])
  const nextCursor = ref(null)
  const hasMore = ref(false)
  const loading = ref(false)
  const error = ref(null)
  const poller = createPoller(() => refreshCount(), { intervalMs: NOTIFICATION_POLL_MS })

  function applyPage(page, append) {
    items.value = append ? [...items.value, ...page.results] : page.results
    nextCursor.value = page.next_cursor ?? null
    hasMore.value = Boolean(page.has_more && page.next_cursor)
    if (typeof page.unread_count === 'number') unreadCount.value = page.unread_count
  }

  /** First page of the list (also refreshes the unread count). */
  async function load() {
    loading.value = true
    error.value = null
    try {
      applyPage(await notificationsApi.getNotifications(null), false)
    } catch (e) {
      error.value = e
    } finally {
      loading.value = false
    }
  }

  async function loadMore() {
    if (!nextCursor.value) return
    loading.value = true
    try {
      applyPage(await notificationsApi.getNotifications(nextCursor.value), true)
    } catch (e) {
      error.value = e
    } finally {
      loading.value = false
    }
  }

  /** Only the unread count, for the header badge. */
  async function refreshCount() {
    unreadCount.value = await notificationsApi.getUnreadCount()
    return unreadCount.value
  }

  async function markRead(notification) {
    if (notification.is_read) return
    const result = await notificationsApi.markRead(notification.id)
    items.value = items.value.map((n) => (n.id === notification.id ? { ...n, is_read: true } : n))
    unreadCount.value =
      typeof result?.unread_count === 'number'
        ? result.unread_count
        : Math.max(0, unreadCount.value - 1)
  }

  async function markAllRead() {
    await notificationsApi.markAllRead()
    items.value = items.value.map((n) => ({ ...n, is_read: true }))
    unreadCount.value = 0
  }

  /** Polls the unread count every 30 s; idempotent. */
  function startPolling() {
    if (poller.active) return
    refreshCount().catch(() => {})
    poller.start()
  }

  function stopPolling() {
    poller.stop()
  }

  function isPolling() {
    return poller.active
  }

  function reset() {
    stopPolling()
    unreadCount.value = 0
    items.value = []
    nextCursor.value = null
    hasMore.value = false
  }

  return {
    unreadCount,
    items,
    hasMore,
    loading,
    error,
    load,
    loadMore,
    refreshCount,
    markRead,
    markAllRead,
    startPolling,
    stopPolling,
    isPolling,
    reset,
  }
})
