import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as authApi from '@/api/auth'
import { getBalance } from '@/api/tokens'

export const useAuthStore = defineStore('auth', () => {
  const user = ref(null)
  const loaded = ref(false)
  let pending = null

  const isLoggedIn = computed(() => user.value !== null)
  const isArtist = computed(() =>
    Boolean(user.value && (user.value.artist || user.value.role === 'artist')),
  )
  const balance = computed(() => user.value?.token_balance ?? 0)

  /** Loads the current user; a 401 simply means "logged out". */
  async function fetchMe() {
    try {
      user.value = await authApi.getMe()
    } catch (error) {
      if (error.code !== 'UNAUTHORIZED' && error.status !== 401) {
        loaded.value = true
        throw error
      }
      user.value = null
    }
    loaded.value = true
    return user.value
  }

  /** Resolves once the session has been checked (shared by the router guards). */
  function ensureLoaded() {
    if (loaded.value) return Promise.resolve(user.value)
    if (!pending) {
      pending = fetchMe()
        .catch(() => null)
        .finally(() => {
          pending = null
        })
    }
    return pending
  }

  async function devLogin(credentials) {
    user.value = await authApi.devLogin(credentials)
    loaded.value = true
    return user.value
  }

  async function logout() {
    try {
      await authApi.logout()
    } finally {
      user.value = null
    }
  }

  function setUser(next) {
    user.value = next
  }

  function setBalance(tokenBalance) {
    if (user.value && typeof tokenBalance === 'number') {
      user.value = { ...user.value, token_balance: tokenBalance }
    }
  }

  async function refreshBalance() {
    if (!user.value) return
    try {
      const data = await getBalance()
      setBalance(data.token_balance)
    } catch {
      // the header keeps the last known balance
    }
  }

  return {
    user,
    loaded,
    isLoggedIn,
    isArtist,
    balance,
    fetchMe,
    ensureLoaded,
    devLogin,
    logout,
    setUser,
    setBalance,
    refreshBalance,
  }
})
