import { onBeforeUnmount, ref } from 'vue'

/** A preview URL for a chosen file, revoked when replaced or when the component goes away. */
export function useObjectUrl() {
  const url = ref(null)
  function set(file) {
    if (url.value) URL.revokeObjectURL(url.value)
    url.value = file ? URL.createObjectURL(file) : null
  }
  onBeforeUnmount(() => set(null))
  return { url, set }
}
