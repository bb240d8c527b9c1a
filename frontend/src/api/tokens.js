import { api } from './client'
import {
  balanceSchema,
  confirmSchema,
  listOf,
  packagesSchema,
  purchaseSchema,
  transactionSchema,
} from './schemas'

export const getBalance = () => api.get('/tokens/balance', { schema: balanceSchema })
export const getPackages = () => api.get('/tokens/packages', { schema: packagesSchema })

export const createPurchase = (packageId) =>
  api.post('/tokens/purchase', { package_id: packageId }, { schema: purchaseSchema })

export const confirmPurchase = ({ paymentKey, orderId, amount }) =>
  api.post(
    '/tokens/purchase/confirm',
    { payment_key: paymentKey, order_id: orderId, amount: Number(amount) },
    { schema: confirmSchema },
  )

/** type: 'purchase' | 'usage' | 'all' */
export const getTransactions = (type, cursor) =>
  api.get('/tokens/transactions', {
    params: cursor ? { type, cursor } : { type },
    schema: listOf(transactionSchema),
  })

/** Closes a pending order after the checkout came back on fail_url (code/message from Toss). */
export function failPurchase({ orderId, code, message }) {
  const body = { order_id: orderId }
  if (code) body.code = String(code).slice(0, 64)
  if (message) body.message = String(message).slice(0, 255)
  return api.post('/tokens/purchase/fail', body)
}
