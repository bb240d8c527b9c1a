import { describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory } from 'vue-router'
import { ApiError } from '@/api/client'
import { renderMarkdown } from '@/components/provenance/markdown'
import { CURRENT_TERMS_VERSION, TERMS, termsText } from '@/views/provenance/licenceTerms'

vi.mock('@/api/auth', () => ({ getMe: vi.fn(), devLogin: vi.fn(), logout: vi.fn() }))
const authApi = await import('@/api/auth')
const { createAppRouter } = await import('@/router')

// The paths the server writes into files and certificates (stylelicense/provenance/terms.py
// terms_path, provenance.operations.certificate_url) and the old /licence of earlier files.
const WRITTEN_PATHS = [
  `/licence-terms/${CURRENT_TERMS_VERSION}`,
  '/licences/SL-ABCD-EFGH-JKLM-NPQR',
  '/licence',
]

describe('licence terms', () => {
  it('every URL the platform writes into a file opens a real page', async () => {
    setActivePinia(createPinia())
    authApi.getMe.mockRejectedValue(new ApiError('UNAUTHORIZED', '', { status: 401 }))
    for (const path of WRITTEN_PATHS) {
      const router = createAppRouter(createMemoryHistory())
      await router.push(path)
      expect(router.currentRoute.value.name, path).not.toBe('not-found')
    }
    const router = createAppRouter(createMemoryHistory())
    await router.push('/licence')
    expect(router.currentRoute.value.name).toBe('licence-terms')
  })

  it('has the current version in English and Korean', () => {
    expect(Object.keys(TERMS)).toContain(CURRENT_TERMS_VERSION)
    expect(termsText(CURRENT_TERMS_VERSION, 'en')).toContain(`Version \`${CURRENT_TERMS_VERSION}\``)
    expect(termsText(CURRENT_TERMS_VERSION, 'ko')).toContain(`버전 \`${CURRENT_TERMS_VERSION}\``)
    expect(termsText('sl-9.9', 'en')).toBeNull()
  })

  it('renders the Markdown subset and escapes markup', () => {
    const html = renderMarkdown(
      '# Title\n\nSome **bold** and `code` <script>x</script>\n\n1. one\n   wrapped\n2. two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n',
    )
    expect(html).toContain('<h1>Title</h1>')
    expect(html).toContain('<strong>bold</strong>')
    expect(html).toContain('<code>code</code>')
    expect(html).toContain('&lt;script&gt;')
    expect(html).not.toContain('<script>')
    expect(html).toContain('<ol><li>one wrapped</li><li>two</li></ol>')
    expect(html).toContain('<td>1</td><td>2</td>')
  })
})
