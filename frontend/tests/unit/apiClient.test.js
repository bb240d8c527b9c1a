import { AxiosError } from 'axios'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { ApiError, api, http, isCsrfFailure, resetCsrfToken } from '@/api/client'

// A fake axios adapter: each handler gets the request config and returns [status, body].
let calls
let handler
const originalAdapter = http.defaults.adapter

function respond(config, status, data) {
  const response = { data, status, statusText: String(status), headers: {}, config, request: {} }
  if (status >= 400) {
    throw new AxiosError(`HTTP ${status}`, 'ERR_BAD_RESPONSE', config, {}, response)
  }
  return response
}

beforeEach(() => {
  calls = []
  resetCsrfToken()
  http.defaults.adapter = async (config) => {
    calls.push({ method: config.method, url: config.url, headers: { ...config.headers } })
    const result = handler(config, calls.length)
    if (result instanceof Error) throw result
    const [status, body] = result
    return respond(config, status, body)
  }
})

afterEach(() => {
  http.defaults.adapter = originalAdapter
})

const csrfOk = (token = 'tok-1') => [200, { success: true, data: { csrf_token: token } }]

describe('envelopes', () => {
  it('returns the data of a success envelope', async () => {
    handler = () => [200, { success: true, data: { token_balance: 42 } }]
    await expect(api.get('/tokens/balance')).resolves.toEqual({ token_balance: 42 })
  })

  it('turns an error envelope into an ApiError with code, status and details', async () => {
    handler = () => [
      402,
      {
        success: false,
        error: { code: 'INSUFFICIENT_TOKENS', message: 'Not enough tokens.', details: { need: 5 } },
      },
    ]
    const error = await api.get('/x').catch((e) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error.code).toBe('INSUFFICIENT_TOKENS')
    expect(error.status).toBe(402)
    expect(error.details).toEqual({ need: 5 })
  })

  it('maps a bare 500 to INTERNAL_ERROR and a 413 to PAYLOAD_TOO_LARGE', async () => {
    handler = () => [500, '<html>oops</html>']
    expect((await api.get('/x').catch((e) => e)).code).toBe('INTERNAL_ERROR')
    handler = () => [413, '<html>too big</html>']
    expect((await api.get('/x').catch((e) => e)).code).toBe('PAYLOAD_TOO_LARGE')
  })

  it('reports a network failure as NETWORK_ERROR', async () => {
    handler = (config) => new AxiosError('Network Error', 'ERR_NETWORK', config, {})
    expect((await api.get('/x').catch((e) => e)).code).toBe('NETWORK_ERROR')
  })

  it('refuses a 200 that is not a success envelope', async () => {
    handler = () => [200, '<!doctype html><html></html>']
    expect((await api.get('/x').catch((e) => e)).code).toBe('INVALID_RESPONSE')
  })

  it('validates the payload with the given schema', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    handler = () => [200, { success: true, data: { token_balance: 'lots' } }]
    const schema = z.object({ token_balance: z.number() })
    const error = await api.get('/tokens/balance', { schema }).catch((e) => e)
    expect(error.code).toBe('INVALID_RESPONSE')
    handler = () => [200, { success: true, data: { token_balance: 7 } }]
    await expect(api.get('/tokens/balance', { schema })).resolves.toEqual({ token_balance: 7 })
  })
})

describe('CSRF', () => {
  it('attaches X-CSRFToken to POST, PATCH and DELETE but not to GET, fetching the token once', async () => {
    handler = (config) =>
      config.url === '/auth/csrf' ? csrfOk('abc') : [200, { success: true, data: null }]
    await api.get('/things')
    await api.post('/things', { a: 1 })
    await api.patch('/things/1', { a: 2 })
    await api.delete('/things/1')
    const csrfFetches = calls.filter((c) => c.url === '/auth/csrf')
    expect(csrfFetches).toHaveLength(1)
    const byMethod = Object.fromEntries(
      calls.filter((c) => c.url !== '/auth/csrf').map((c) => [c.method, c.headers['X-CSRFToken']]),
    )
    expect(byMethod).toEqual({ get: undefined, post: 'abc', patch: 'abc', delete: 'abc' })
  })

  it('shares one token request between concurrent writes', async () => {
    handler = (config) =>
      config.url === '/auth/csrf' ? csrfOk() : [200, { success: true, data: 1 }]
    await Promise.all([api.post('/a', {}), api.post('/b', {}), api.delete('/c')])
    expect(calls.filter((c) => c.url === '/auth/csrf')).toHaveLength(1)
  })

  it('refreshes the token and retries once after a CSRF failure', async () => {
    let tokens = 0
    let attempts = 0
    handler = (config) => {
      if (config.url === '/auth/csrf') return csrfOk(`tok-${++tokens}`)
      attempts += 1
      if (config.headers['X-CSRFToken'] === 'tok-1') {
        return [
          403,
          { success: false, error: { code: 'CSRF_FAILED', message: 'CSRF check failed' } },
        ]
      }
      return [201, { success: true, data: { ok: true } }]
    }
    await expect(api.post('/generations', { style_id: 1 })).resolves.toEqual({ ok: true })
    expect(tokens).toBe(2)
    expect(attempts).toBe(2)
    expect(calls.at(-1).headers['X-CSRFToken']).toBe('tok-2')
  })

  it('gives up after one retry', async () => {
    let attempts = 0
    handler = (config) => {
      if (config.url === '/auth/csrf') return csrfOk()
      attempts += 1
      return [
        400,
        { success: false, error: { code: 'CSRF_FAILED', message: 'The CSRF token is missing.' } },
      ]
    }
    const error = await api.post('/x', {}).catch((e) => e)
    expect(error.code).toBe('CSRF_FAILED')
    expect(attempts).toBe(2)
  })

  it('does not retry other 403s', async () => {
    let attempts = 0
    handler = (config) => {
      if (config.url === '/auth/csrf') return csrfOk()
      attempts += 1
      return [403, { success: false, error: { code: 'ARTIST_ONLY', message: 'Only artists.' } }]
    }
    expect((await api.post('/styles', {}).catch((e) => e)).code).toBe('ARTIST_ONLY')
    expect(attempts).toBe(1)
  })

  it('recognises CSRF failures by code or message only on 400/403', () => {
    expect(isCsrfFailure(403, { error: { code: 'CSRF_FAILED' } })).toBe(true)
    expect(
      isCsrfFailure(400, { error: { code: 'X', message: 'The CSRF token has expired.' } }),
    ).toBe(true)
    expect(isCsrfFailure(422, { error: { code: 'CSRF_FAILED' } })).toBe(false)
    expect(isCsrfFailure(403, { error: { code: 'FORBIDDEN', message: 'no' } })).toBe(false)
  })
})
