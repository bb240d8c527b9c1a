import { onBeforeUnmount } from 'vue'

/**
 * Calls `tick` every `intervalMs` while `shouldContinue()` is true. The next tick is scheduled only
 * after the previous one settles, so slow responses never pile up. Stops on unmount.
 */
export function createPoller(tick, { intervalMs = 5000, shouldContinue = () => true } = {}) {
  let timer = null
  let running = false

  const schedule = () => {
    timer = setTimeout(async () => {
      timer = null
      if (!running) return
      try {
        await tick()
      } catch {
        // a failed poll is retried at the next interval
      }
      if (running && shouldContinue()) schedule()
      else running = false
    }, intervalMs)
  }

  return {
    start() {
      if (running) return
      if (!shouldContinue()) return
      running = true
      schedule()
    },
    stop() {
      running = false
      if (timer) clearTimeout(timer)
      timer = null
    },
    get active() {
      return running
    },
  }
}

export function usePolling(tick, options) {
  const poller = createPoller(tick, options)
  onBeforeUnmount(() => poller.stop())
  return poller
}
