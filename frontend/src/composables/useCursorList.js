import { ref } from 'vue'

/** A cursor-paginated list with "load more": `fetchPage(cursor)` returns the list envelope. */
export function useCursorList(fetchPage) {
  const items = ref([])
  const cursor = ref(null)
  const hasMore = ref(false)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref(null)
  let generation = 0

  async function load(reset = false) {
    if (reset) {
      generation += 1
      items.value = []
      cursor.value = null
      hasMore.value = false
      loaded.value = false
    }
    const mine = generation
    loading.value = true
    error.value = null
    try {
      const page = await fetchPage(reset ? null : cursor.value)
      if (mine !== generation) return
      items.value = reset ? page.results : [...items.value, ...page.results]
      cursor.value = page.next_cursor ?? null
      hasMore.value = Boolean(page.has_more && page.next_cursor)
      loaded.value = true
    } catch (e) {
      if (mine === generation) error.value = e
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  return {
    items,
    hasMore,
    loading,
    loaded,
    error,
    reload: () => load(true),
    loadMore: () => load(false),
  }
}
