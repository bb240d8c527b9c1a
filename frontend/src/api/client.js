// The one HTTP client of the SPA. It sends the session cookie, attaches the CSRF header to every
// state-changing request, unwraps the `{"success", "data"}` envelope, validates the payload with a
// Zod schema when one is given, and turns every failure into an `ApiError` carrying a stable code.
// JSON keys stay snake_case exactly as the API sends them (no case conversion anywhere).
import axios from 'axios'

export const CSRF_HEADER = 'X-CSRFToken'
const UNSAFE_METHODS = new Set(['post', 'put', 'patch', 'delete'])

export class ApiError extends Error {
  constructor(code, message = '', { status = 0, details = null } = {}) {
    super(message || code)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    this.details = details
  }
}

// Codes used when the server did not send an error envelope (proxy errors, HTML pages, offline).
const STATUS_CODES = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  402: 'INSUFFICIENT_TOKENS',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'VALIDATION_ERROR',
  429: 'RATE_LIMITED',
}

export const http = axios.create({
  baseURL: '/api',
  withCredentials: true,
  // Flask-WTF reads the token from our header; axios' own XSRF cookie logic is not used.
  xsrfCookieName: null,
  xsrfHeaderName: null,
  headers: { Accept: 'application/json' },
})

let csrfToken = null
let csrfPromise = null
let localeGetter = () => null

/** Lets the i18n module tell the client which language to announce (Accept-Language). */
export function setLocaleGetter(fn) {
  localeGetter = fn
}

/** Forgets the CSRF token (after login/logout the server session, and so the token, changes). */
export function resetCsrfToken() {
  csrfToken = null
  csrfPromise = null
}

/** Fetches the CSRF token once; concurrent callers share one request. */
export function fetchCsrfToken() {
  if (csrfToken) return Promise.resolve(csrfToken)
  if (!csrfPromise) {
    csrfPromise = http
      .get('/auth/csrf', { skipCsrf: true })
      .then((res) => {
        const token = res.data?.data?.csrf_token
        if (!token) throw new ApiError('INVALID_RESPONSE', 'CSRF token missing')
        csrfToken = token
        return token
      })
      .finally(() => {
        csrfPromise = null
      })
  }
  return csrfPromise
}

/** True when an error response says the CSRF token was missing, expired or wrong. */
export function isCsrfFailure(status, body) {
  if (status !== 400 && status !== 403) return false
  const error = body?.error
  const text = `${error?.code ?? ''} ${error?.message ?? ''} ${typeof body === 'string' ? body : ''}`
  return /csrf/i.test(text)
}

http.interceptors.request.use(async (config) => {
  const locale = localeGetter()
  if (locale) config.headers['Accept-Language'] = locale
  const method = (config.method || 'get').toLowerCase()
  if (UNSAFE_METHODS.has(method) && !config.skipCsrf) {
    config.headers[CSRF_HEADER] = await fetchCsrfToken()
  }
  return config
})

http.interceptors.response.use(
  (response) => response,
  async (error) => {
    const { config, response } = error
    if (
      response &&
      config &&
      !config._csrfRetried &&
      !config.skipCsrf &&
      isCsrfFailure(response.status, response.data)
    ) {
      // The session's token rotated (login, expiry): fetch a fresh one and retry exactly once.
      resetCsrfToken()
      config._csrfRetried = true
      return http.request(config)
    }
    return Promise.reject(error)
  },
)

/** Converts anything thrown by axios into an ApiError with a code from SPEC §6. */
export function toApiError(error) {
  if (error instanceof ApiError) return error
  if (axios.isCancel?.(error)) return new ApiError('CANCELLED', error.message)
  const response = error?.response
  if (!response) return new ApiError('NETWORK_ERROR', error?.message || 'Network error')
  const body = response.data
  const envelope = body && typeof body === 'object' ? body.error : null
  if (envelope && typeof envelope.code === 'string') {
    return new ApiError(envelope.code, envelope.message || '', {
      status: response.status,
      details: envelope.details ?? null,
    })
  }
  const code =
    STATUS_CODES[response.status] || (response.status >= 500 ? 'INTERNAL_ERROR' : 'UNKNOWN_ERROR')
  return new ApiError(code, `HTTP ${response.status}`, { status: response.status })
}

/**
 * Sends one request and returns the envelope's `data`, validated by `schema` when given.
 * Options: data, params, schema, onUploadProgress, signal, headers.
 */
export async function request(method, url, options = {}) {
  const { data, params, schema, onUploadProgress, signal, headers } = options
  let response
  try {
    response = await http.request({ method, url, data, params, onUploadProgress, signal, headers })
  } catch (error) {
    throw toApiError(error)
  }
  const body = response.data
  if (!body || typeof body !== 'object' || body.success !== true) {
    if (body && body.success === false && body.error) {
      throw new ApiError(body.error.code || 'UNKNOWN_ERROR', body.error.message || '', {
        status: response.status,
        details: body.error.details ?? null,
      })
    }
    throw new ApiError('INVALID_RESPONSE', 'Response is not a success envelope', {
      status: response.status,
    })
  }
  if (!schema) return body.data
  const parsed = schema.safeParse(body.data)
  if (!parsed.success) {
    if (import.meta.env?.DEV) console.warn(`Unexpected response shape from ${url}`, parsed.error)
    throw new ApiError('INVALID_RESPONSE', `Unexpected response shape from ${url}`, {
      status: response.status,
      details: parsed.error.issues,
    })
  }
  return parsed.data
}

export const api = {
  get: (url, options) => request('get', url, options),
  post: (url, data, options = {}) => request('post', url, { ...options, data }),
  patch: (url, data, options = {}) => request('patch', url, { ...options, data }),
  put: (url, data, options = {}) => request('put', url, { ...options, data }),
  delete: (url, options) => request('delete', url, options),
}
