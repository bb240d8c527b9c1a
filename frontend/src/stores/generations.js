import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as generationsApi from '@/api/generations'
import { createPoller } from '@/composables/usePolling'

// Every second while one of my jobs runs (the worker reports each step); nothing when none does.
export const GENERATION_POLL_MS = 1000
export const RUNNING_STATUSES = ['queued', 'processing', 'retrying']
export const isRunning = (generation) => RUNNING_STATUSES.includes(generation?.status)

/** The signed-in user's generations (My Page), with live progress of the running ones. */
export const useGenerationsStore = defineStore('generations', () => {
  const items = ref([])
  const nextCursor = ref(null)
  const hasMore = ref(false)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref(null)
  const visibility = ref('all')
  const poller = createPoller(() => refreshRunning(), {
    intervalMs: GENERATION_POLL_MS,
    shouldContinue: () => hasRunning.value,
  })
  // Notified when a generation leaves the running states (e.g. to refresh the balance).
  const finishedListeners = new Set()

  const running = computed(() => items.value.filter(isRunning))
  const hasRunning = computed(() => running.value.length > 0)

  function upsert(generation) {
    const index = items.value.findIndex((g) => String(g.id) === String(generation.id))
    if (index === -1) items.value = [generation, ...items.value]
    else {
      const next = items.value.slice()
      next[index] = { ...next[index], ...generation }
      items.value = next
    }
  }

  /** First page of my generations; visibility: 'all' | 'public' | 'private'. */
  async function load(nextVisibility = visibility.value) {
    visibility.value = nextVisibility
    loading.value = true
    error.value = null
    try {
      const page = await generationsApi.getMyGenerations(null, visibility.value)
      items.value = page.results
      nextCursor.value = page.next_cursor ?? null
      hasMore.value = Boolean(page.has_more && page.next_cursor)
      loaded.value = true
    } catch (e) {
      error.value = e
    } finally {
      loading.value = false
    }
    syncPolling()
  }

  async function loadMore() {
    if (!nextCursor.value) return
    loading.value = true
    try {
      const page = await generationsApi.getMyGenerations(nextCursor.value, visibility.value)
      const known = new Set(items.value.map((g) => String(g.id)))
      items.value = [...items.value, ...page.results.filter((g) => !known.has(String(g.id)))]
      nextCursor.value = page.next_cursor ?? null
      hasMore.value = Boolean(page.has_more && page.next_cursor)
    } catch (e) {
      error.value = e
    } finally {
      loading.value = false
    }
    syncPolling()
  }

  /** Re-fetches each running generation once. */
  async function refreshRunning() {
    const current = running.value
    await Promise.all(
      current.map(async (generation) => {
        try {
          const fresh = await generationsApi.getGeneration(generation.id)
          upsert(fresh)
          if (!isRunning(fresh)) finishedListeners.forEach((fn) => fn(fresh))
        } catch {
          // keep the last known state; the next tick tries again
        }
      }),
    )
    syncPolling()
  }

  /** Polls every GENERATION_POLL_MS while something runs, and stops as soon as nothing does. */
  function syncPolling() {
    if (hasRunning.value && !poller.active) poller.start()
    else if (!hasRunning.value && poller.active) stopPolling()
  }

  function stopPolling() {
    poller.stop()
  }

  function isPolling() {
    return poller.active
  }

  async function create(payload) {
    const generation = await generationsApi.createGeneration(payload)
    upsert(generation)
    syncPolling()
    return generation
  }

  /** Cancels a queued generation (the server refunds it); the caller refreshes the balance. */
  async function cancel(id) {
    const generation = await generationsApi.cancelGeneration(id)
    upsert(generation)
    syncPolling()
    finishedListeners.forEach((fn) => fn(generation))
    return generation
  }

  async function update(id, changes) {
    const generation = await generationsApi.updateGeneration(id, changes)
    upsert(generation)
    return generation
  }

  /** Starts tracking one generation (e.g. opened from a link) so it is polled while it runs. */
  function track(generation) {
    upsert(generation)
    syncPolling()
  }

  function byId(id) {
    return items.value.find((g) => String(g.id) === String(id)) ?? null
  }

  function onFinished(fn) {
    finishedListeners.add(fn)
    return () => finishedListeners.delete(fn)
  }

  function reset() {
    stopPolling()
    items.value = []
    nextCursor.value = null
    hasMore.value = false
    loaded.value = false
    visibility.value = 'all'
  }

  return {
    items,
    visibility,
    hasMore,
    loading,
    loaded,
    error,
    running,
    hasRunning,
    load,
    loadMore,
    refreshRunning,
    syncPolling,
    stopPolling,
    isPolling,
    create,
    cancel,
    update,
    track,
    byId,
    onFinished,
    reset,
  }
})
