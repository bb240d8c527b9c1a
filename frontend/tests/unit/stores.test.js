import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { ApiError } from '@/api/client'

vi.mock('@/api/auth', () => ({
  getMe: vi.fn(),
  devLogin: vi.fn(),
  logout: vi.fn(),
  getConfig: vi.fn(),
}))
vi.mock('@/api/tokens', () => ({ getBalance: vi.fn() }))
vi.mock('@/api/notifications', () => ({
  getNotifications: vi.fn(),
  getUnreadCount: vi.fn(),
  markRead: vi.fn(),
  markAllRead: vi.fn(),
}))
vi.mock('@/api/generations', () => ({
  getMyGenerations: vi.fn(),
  getGeneration: vi.fn(),
  createGeneration: vi.fn(),
  updateGeneration: vi.fn(),
}))
vi.mock('@/api/users', () => ({ getFollowing: vi.fn(), follow: vi.fn(), unfollow: vi.fn() }))

const authApi = await import('@/api/auth')
const tokensApi = await import('@/api/tokens')
const notificationsApi = await import('@/api/notifications')
const generationsApi = await import('@/api/generations')
const usersApi = await import('@/api/users')
const { useAuthStore } = await import('@/stores/auth')
const { useNotificationsStore, NOTIFICATION_POLL_MS } = await import('@/stores/notifications')
const { useGenerationsStore, GENERATION_POLL_MS } = await import('@/stores/generations')
const { useFollowingStore } = await import('@/stores/following')

const me = {
  id: 1,
  username: 'ana',
  email: 'a@x.io',
  role: 'user',
  token_balance: 100,
  artist: null,
}
const page = (results, extra = {}) => ({ results, next_cursor: null, has_more: false, ...extra })

beforeEach(() => {
  setActivePinia(createPinia())
  vi.clearAllMocks()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('auth store', () => {
  it('treats 401 from /auth/me as logged out', async () => {
    authApi.getMe.mockRejectedValue(new ApiError('UNAUTHORIZED', '', { status: 401 }))
    const auth = useAuthStore()
    await expect(auth.fetchMe()).resolves.toBeNull()
    expect(auth.isLoggedIn).toBe(false)
    expect(auth.loaded).toBe(true)
  })

  it('checks the session only once for concurrent guards', async () => {
    authApi.getMe.mockResolvedValue(me)
    const auth = useAuthStore()
    await Promise.all([auth.ensureLoaded(), auth.ensureLoaded(), auth.ensureLoaded()])
    await auth.ensureLoaded()
    expect(authApi.getMe).toHaveBeenCalledTimes(1)
    expect(auth.user.username).toBe('ana')
  })

  it('knows artists and keeps the balance current', async () => {
    authApi.devLogin.mockResolvedValue({
      ...me,
      role: 'artist',
      artist: { id: 9, artist_name: 'A' },
    })
    tokensApi.getBalance.mockResolvedValue({ token_balance: 55 })
    const auth = useAuthStore()
    await auth.devLogin({ email: 'a@x.io', username: 'ana' })
    expect(auth.isArtist).toBe(true)
    expect(auth.balance).toBe(100)
    await auth.refreshBalance()
    expect(auth.balance).toBe(55)
  })

  it('forgets the user on logout even when the request fails', async () => {
    authApi.getMe.mockResolvedValue(me)
    authApi.logout.mockRejectedValue(new ApiError('NETWORK_ERROR'))
    const auth = useAuthStore()
    await auth.fetchMe()
    await auth.logout().catch(() => {})
    expect(auth.user).toBeNull()
  })
})

describe('notifications store polling', () => {
  it('polls the unread count every 30 s while started, and stops', async () => {
    vi.useFakeTimers()
    notificationsApi.getUnreadCount.mockResolvedValue(3)
    const store = useNotificationsStore()
    store.startPolling()
    store.startPolling() // idempotent: still one timer
    await vi.advanceTimersByTimeAsync(0)
    expect(notificationsApi.getUnreadCount).toHaveBeenCalledTimes(1)
    expect(store.unreadCount).toBe(3)
    await vi.advanceTimersByTimeAsync(NOTIFICATION_POLL_MS)
    expect(notificationsApi.getUnreadCount).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(NOTIFICATION_POLL_MS * 2)
    expect(notificationsApi.getUnreadCount).toHaveBeenCalledTimes(4)

    store.stopPolling()
    expect(store.isPolling()).toBe(false)
    await vi.advanceTimersByTimeAsync(NOTIFICATION_POLL_MS * 3)
    expect(notificationsApi.getUnreadCount).toHaveBeenCalledTimes(4)
  })

  it('restarts after a stop and reset clears the count', async () => {
    vi.useFakeTimers()
    notificationsApi.getUnreadCount.mockResolvedValue(2)
    const store = useNotificationsStore()
    store.startPolling()
    store.stopPolling()
    store.startPolling()
    await vi.advanceTimersByTimeAsync(NOTIFICATION_POLL_MS)
    expect(store.isPolling()).toBe(true)
    expect(store.unreadCount).toBe(2)
    store.reset()
    expect(store.isPolling()).toBe(false)
    expect(store.unreadCount).toBe(0)
  })

  it('marks one and all as read', async () => {
    notificationsApi.getNotifications.mockResolvedValue(
      page(
        [
          { id: 1, type: 'like', is_read: false },
          { id: 2, type: 'follow', is_read: false },
        ],
        { unread_count: 2 },
      ),
    )
    notificationsApi.markRead.mockResolvedValue({ id: 1, unread_count: 1 })
    notificationsApi.markAllRead.mockResolvedValue({ updated: 1, unread_count: 0 })
    const store = useNotificationsStore()
    await store.load()
    expect(store.unreadCount).toBe(2)
    await store.markRead(store.items[0])
    expect(notificationsApi.markRead).toHaveBeenCalledWith(1)
    expect(store.items[0].is_read).toBe(true)
    expect(store.unreadCount).toBe(1)
    await store.markRead(store.items[0]) // already read: no request
    expect(notificationsApi.markRead).toHaveBeenCalledTimes(1)
    await store.markAllRead()
    expect(store.items.every((n) => n.is_read)).toBe(true)
    expect(store.unreadCount).toBe(0)
  })
})

describe('generations store polling', () => {
  const running = { id: 7, status: 'processing', progress: { progress_percent: 40 } }
  const done = { id: 8, status: 'completed', is_public: false }

  it('does not poll when nothing runs', async () => {
    vi.useFakeTimers()
    generationsApi.getMyGenerations.mockResolvedValue(page([done]))
    const store = useGenerationsStore()
    await store.load()
    expect(store.isPolling()).toBe(false)
    await vi.advanceTimersByTimeAsync(GENERATION_POLL_MS * 3)
    expect(generationsApi.getGeneration).not.toHaveBeenCalled()
  })

  it('polls running generations every 5 s and stops when they finish', async () => {
    vi.useFakeTimers()
    generationsApi.getMyGenerations.mockResolvedValue(page([running, done]))
    generationsApi.getGeneration
      .mockResolvedValueOnce({ ...running, progress: { progress_percent: 80 } })
      .mockResolvedValueOnce({ id: 7, status: 'completed', result_url: '/r.png' })
    const finished = vi.fn()
    const store = useGenerationsStore()
    store.onFinished(finished)
    await store.load()
    expect(store.isPolling()).toBe(true)
    expect(store.running.map((g) => g.id)).toEqual([7])

    await vi.advanceTimersByTimeAsync(GENERATION_POLL_MS)
    expect(generationsApi.getGeneration).toHaveBeenCalledTimes(1)
    expect(generationsApi.getGeneration).toHaveBeenCalledWith(7) // only the running one
    expect(store.byId(7).progress.progress_percent).toBe(80)
    expect(store.isPolling()).toBe(true)

    await vi.advanceTimersByTimeAsync(GENERATION_POLL_MS)
    expect(store.byId(7).status).toBe('completed')
    expect(finished).toHaveBeenCalledWith(expect.objectContaining({ id: 7, status: 'completed' }))
    expect(store.isPolling()).toBe(false)

    await vi.advanceTimersByTimeAsync(GENERATION_POLL_MS * 4)
    expect(generationsApi.getGeneration).toHaveBeenCalledTimes(2)
  })

  it('starts polling when a new generation is created and keeps polling through a failed tick', async () => {
    vi.useFakeTimers()
    generationsApi.createGeneration.mockResolvedValue({ id: 11, status: 'queued' })
    generationsApi.getGeneration
      .mockRejectedValueOnce(new ApiError('NETWORK_ERROR'))
      .mockResolvedValueOnce({ id: 11, status: 'retrying' })
      .mockResolvedValueOnce({ id: 11, status: 'failed' })
    const store = useGenerationsStore()
    expect(store.isPolling()).toBe(false)
    await store.create({ styleId: 1, promptTags: ['cat'], aspectRatio: '1:1' })
    expect(store.items[0].id).toBe(11)
    expect(store.isPolling()).toBe(true)
    await vi.advanceTimersByTimeAsync(GENERATION_POLL_MS)
    expect(store.isPolling()).toBe(true)
    await vi.advanceTimersByTimeAsync(GENERATION_POLL_MS)
    expect(store.byId(11).status).toBe('retrying')
    expect(store.isPolling()).toBe(true)
    await vi.advanceTimersByTimeAsync(GENERATION_POLL_MS)
    expect(store.byId(11).status).toBe('failed')
    expect(store.isPolling()).toBe(false)
  })

  it('passes the visibility filter to the API and resets on logout', async () => {
    generationsApi.getMyGenerations.mockResolvedValue(page([done]))
    const store = useGenerationsStore()
    await store.load('private')
    expect(generationsApi.getMyGenerations).toHaveBeenLastCalledWith(null, 'private')
    store.reset()
    expect(store.items).toEqual([])
    expect(store.visibility).toBe('all')
  })
})

describe('following store', () => {
  it('loads every page and treats a duplicate follow as following', async () => {
    usersApi.getFollowing
      .mockResolvedValueOnce(
        page([{ id: 3, username: 'b' }], { next_cursor: 'c1', has_more: true }),
      )
      .mockResolvedValueOnce(page([{ id: 4, username: 'c' }]))
    usersApi.follow.mockRejectedValue(new ApiError('DUPLICATE_FOLLOW'))
    usersApi.unfollow.mockResolvedValue({ following: false })
    const store = useFollowingStore()
    await store.load()
    expect(usersApi.getFollowing).toHaveBeenNthCalledWith(2, 'c1')
    expect(store.isFollowing(3)).toBe(true)
    expect(store.isFollowing('4')).toBe(true)
    await store.follow(5)
    expect(store.isFollowing(5)).toBe(true)
    await store.unfollow(3)
    expect(store.isFollowing(3)).toBe(false)
  })

  it('surfaces other follow errors', async () => {
    usersApi.follow.mockRejectedValue(new ApiError('SELF_FOLLOW_NOT_ALLOWED'))
    const store = useFollowingStore()
    await expect(store.follow(1)).rejects.toMatchObject({ code: 'SELF_FOLLOW_NOT_ALLOWED' })
    expect(store.isFollowing(1)).toBe(false)
  })
})
