// Loads the Toss Payments JS SDK v2 on demand and opens its card checkout.
export const TOSS_SDK_URL = 'https://js.tosspayments.com/v2/standard'

let sdkPromise = null

export function loadTossSdk() {
  if (typeof window !== 'undefined' && window.TossPayments)
    return Promise.resolve(window.TossPayments)
  if (!sdkPromise) {
    sdkPromise = new Promise((resolve, reject) => {
      const script = document.createElement('script')
      script.src = TOSS_SDK_URL
      script.async = true
      script.onload = () =>
        window.TossPayments
          ? resolve(window.TossPayments)
          : reject(new Error('TossPayments missing'))
      script.onerror = () => {
        sdkPromise = null
        reject(new Error('Toss SDK failed to load'))
      }
      document.head.appendChild(script)
    })
  }
  return sdkPromise
}

/** Redirects the browser to Toss checkout for a purchase created by POST /api/tokens/purchase. */
export async function requestTossPayment(order) {
  const TossPayments = await loadTossSdk()
  const payment = TossPayments(order.client_key).payment({ customerKey: order.customer_key })
  return payment.requestPayment({
    method: 'CARD',
    amount: { currency: order.currency || 'KRW', value: order.amount },
    orderId: order.order_id,
    orderName: order.order_name,
    successUrl: order.success_url || `${window.location.origin}/payment/success`,
    failUrl: order.fail_url || `${window.location.origin}/payment/fail`,
  })
}
