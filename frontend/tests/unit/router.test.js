import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory } from 'vue-router'
import { ApiError } from '@/api/client'

vi.mock('@/api/auth', () => ({ getMe: vi.fn(), devLogin: vi.fn(), logout: vi.fn() }))
const authApi = await import('@/api/auth')
const { createAppRouter, safeRedirect } = await import('@/router')

const user = { id: 1, username: 'ana', role: 'user', token_balance: 5, artist: null }
const artist = { ...user, role: 'artist', artist: { id: 3, artist_name: 'Ana' } }

async function visit(path) {
  const router = createAppRouter(createMemoryHistory())
  await router.push(path)
  return router.currentRoute.value
}

beforeEach(() => {
  setActivePinia(createPinia())
  vi.clearAllMocks()
})

describe('route guards', () => {
  it('sends anonymous visitors of login-only pages to the login page with a redirect', async () => {
    authApi.getMe.mockRejectedValue(new ApiError('UNAUTHORIZED', '', { status: 401 }))
    const route = await visit('/payment?x=1')
    expect(route.name).toBe('login')
    expect(route.query.redirect).toBe('/payment?x=1')
  })

  it('lets anyone see public pages', async () => {
    authApi.getMe.mockRejectedValue(new ApiError('UNAUTHORIZED', '', { status: 401 }))
    expect((await visit('/styles/5')).name).toBe('style-detail')
    expect((await visit('/feed/9')).name).toBe('feed-detail')
  })

  it('sends non-artists away from artist-only pages', async () => {
    authApi.getMe.mockResolvedValue(user)
    const route = await visit('/styles/new')
    expect(route.name).toBe('become-artist')
    expect(route.query.reason).toBe('artist_only')
  })

  it('lets artists manage styles', async () => {
    authApi.getMe.mockResolvedValue(artist)
    expect((await visit('/styles/new')).name).toBe('style-create')
    expect((await visit('/styles/4/edit')).name).toBe('style-edit')
  })

  it('sends signed-in users away from the login page to the redirect target', async () => {
    authApi.getMe.mockResolvedValue(user)
    expect((await visit('/login?redirect=/notifications')).name).toBe('notifications')
  })
})

describe('safeRedirect', () => {
  it.each([
    ['/me', '/me'],
    ['//evil.example', '/'],
    ['https://evil.example', '/'],
    ['/\\evil', '/'],
    [undefined, '/'],
  ])('%s → %s', (input, expected) => {
    expect(safeRedirect(input)).toBe(expected)
  })
})
