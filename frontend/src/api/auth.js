import { api, resetCsrfToken } from './client'
import { configSchema, meSchema } from './schemas'

export const getConfig = () => api.get('/config', { schema: configSchema })

export const getMe = () => api.get('/auth/me', { schema: meSchema })

export async function devLogin({ email, username }) {
  const user = await api.post('/auth/dev-login', { email, username }, { schema: meSchema })
  // The server clears the session on login, so the old CSRF token is gone with it.
  resetCsrfToken()
  return user
}

export async function logout() {
  try {
    await api.post('/auth/logout', {})
  } finally {
    resetCsrfToken()
  }
}

/** Google login is a full-page navigation (the OAuth redirect dance cannot run inside XHR). */
export const GOOGLE_LOGIN_URL = '/api/auth/google/login'
