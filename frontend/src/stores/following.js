import { defineStore } from 'pinia'
import { ref } from 'vue'
import * as usersApi from '@/api/users'

const MAX_PAGES = 20

/** The artists the signed-in user follows, keyed by the artist's *user* id (the follow target). */
export const followTargetId = (entry) => String(entry?.user_id ?? entry?.id)

export const useFollowingStore = defineStore('following', () => {
  const entries = ref([])
  const ids = ref(new Set())
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref(null)

  async function load() {
    loading.value = true
    error.value = null
    try {
      const all = []
      let cursor = null
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const data = await usersApi.getFollowing(cursor)
        all.push(...data.results)
        if (!data.has_more || !data.next_cursor) break
        cursor = data.next_cursor
      }
      entries.value = all
      ids.value = new Set(all.map(followTargetId))
      loaded.value = true
    } catch (e) {
      error.value = e
    } finally {
      loading.value = false
    }
  }

  function ensureLoaded() {
    return loaded.value ? Promise.resolve() : load()
  }

  function isFollowing(userId) {
    return ids.value.has(String(userId))
  }

  function mark(userId, following) {
    const next = new Set(ids.value)
    if (following) next.add(String(userId))
    else next.delete(String(userId))
    ids.value = next
  }

  /** Follows; a duplicate follow means we already do, which is the state the user asked for. */
  async function follow(userId) {
    try {
      await usersApi.follow(userId)
    } catch (e) {
      if (e.code !== 'DUPLICATE_FOLLOW') throw e
    }
    mark(userId, true)
    loaded.value = false
  }

  async function unfollow(userId) {
    try {
      await usersApi.unfollow(userId)
    } catch (e) {
      if (e.code !== 'NOT_FOUND') throw e
    }
    mark(userId, false)
    entries.value = entries.value.filter((entry) => followTargetId(entry) !== String(userId))
  }

  function reset() {
    entries.value = []
    ids.value = new Set()
    loaded.value = false
  }

  return {
    entries,
    loaded,
    loading,
    error,
    load,
    ensureLoaded,
    isFollowing,
    follow,
    unfollow,
    reset,
  }
})
