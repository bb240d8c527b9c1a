import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises } from '@vue/test-utils'
import { ApiError } from '@/api/client'
import { certificateSchema, verifyResultSchema } from '@/api/schemas'
import { verifyFileError } from '@/validation/forms'
import { formatFromBytes, imageFormatFromBytes } from '@/validation/imageFiles'
import { mountWith } from './helpers'

vi.mock('@/api/provenance', () => ({
  getLicence: vi.fn(),
  getGenerationLicence: vi.fn(),
  verifyImage: vi.fn(),
}))
vi.mock('@/api/styles', () => ({ getStyle: vi.fn() }))
const provenanceApi = await import('@/api/provenance')
const stylesApi = await import('@/api/styles')
const { methodKey, verifyErrorKey } = await import('@/composables/useVerify')
const { default: LicenceCertificateView } =
  await import('@/views/provenance/LicenceCertificateView.vue')

const MB = 1024 * 1024
const SHA = 'a'.repeat(64)

// The shape of stylelicense/provenance/operations.serialize_certificate.
const certificate = (overrides = {}) => ({
  serial: 'SL-0000-0000-0000-04D2',
  status: 'valid',
  issued_at: '2025-03-01T10:00:00Z',
  terms: {
    version: 'sl-1.0',
    effective: '2025-01-01',
    document: 'docs/LICENSE_TERMS.md',
    url: 'http://localhost/licence',
    permissions: ['commercial_use', 'modification'],
    requirements: ['attribution'],
    prohibitions: ['resell_style', 'some_future_rule'],
  },
  artist: { id: 3, name: 'Mira Seo' },
  style: { id: 7, name: 'Harbor Mornings' },
  generation_id: 42,
  licensed_to: 'jun',
  is_public: true,
  thumbnail_url: 'http://localhost/media/g42-thumb.webp',
  sha256: SHA,
  certificate_url: 'http://localhost/licences/SL-0000-0000-0000-04D2',
  ...overrides,
})

describe('/verify file check', () => {
  const meta = (overrides = {}) => ({
    size: 2 * MB,
    format: 'png',
    width: 512,
    height: 512,
    ...overrides,
  })

  it('accepts JPG, PNG and WebP up to 10 MB and from 64×64', () => {
    for (const format of ['jpeg', 'png', 'webp'])
      expect(verifyFileError(meta({ format }))).toBe(null)
    expect(verifyFileError(meta({ size: 10 * MB }))).toBe(null)
    expect(verifyFileError(meta({ width: 64, height: 64 }))).toBe(null)
  })

  it('refuses other formats, files over 10 MB, images under 64 px and no file', () => {
    expect(verifyFileError(meta({ format: null }))).toBe('validation.verifyFormat')
    expect(verifyFileError(meta({ size: 10 * MB + 1 }))).toBe('validation.verifyTooLarge')
    expect(verifyFileError(meta({ width: 63 }))).toBe('validation.verifyTooSmall')
    expect(verifyFileError(meta({ height: 10, width: 4000 }))).toBe('validation.verifyTooSmall')
    expect(verifyFileError(meta({ width: null, height: null }))).toBe('validation.imageUnreadable')
    expect(verifyFileError(null)).toBe('validation.verifyFileRequired')
  })

  it('recognises WebP by its bytes for /verify only', () => {
    const webp = new TextEncoder().encode('RIFF\u0000\u0000\u0000\u0000WEBPVP8 ')
    expect(imageFormatFromBytes(webp)).toBe('webp')
    expect(formatFromBytes(webp)).toBe(null) // styles and profiles still take JPG/PNG only
    expect(imageFormatFromBytes(new TextEncoder().encode('RIFF\u0000\u0000\u0000\u0000WAVE'))).toBe(
      null,
    )
    expect(imageFormatFromBytes(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg')
  })
})

describe('verify error messages', () => {
  it('uses the /verify wording for refused images and the shared mapping otherwise', () => {
    const refused = (reason) =>
      new ApiError('INVALID_IMAGE_FORMAT', 'x', {
        status: 400,
        details: { field: 'image', reason },
      })
    expect(verifyErrorKey(refused('too_small'))).toBe('verify.reasons.too_small')
    expect(verifyErrorKey(refused('corrupt'))).toBe('verify.reasons.corrupt')
    expect(verifyErrorKey(refused('something_new'))).toBe('validation.verifyFormat')
    expect(verifyErrorKey(new ApiError('IMAGE_SIZE_EXCEEDED'))).toBe('validation.verifyTooLarge')
    expect(verifyErrorKey(new ApiError('PAYLOAD_TOO_LARGE'))).toBe('validation.verifyTooLarge')
    expect(verifyErrorKey(new ApiError('RATE_LIMITED', '', { status: 429 }))).toBe(null)
    expect(verifyErrorKey(null)).toBe(null)
  })

  it('names each verification method', () => {
    expect(methodKey('watermark-resized')).toBe('verify.methods.watermarkResized')
    expect(methodKey('c2pa')).toBe('verify.methods.c2pa')
    expect(methodKey('something-else')).toBe('verify.methods.other')
    expect(methodKey(null)).toBe('verify.methods.other')
  })
})

describe('certificate and verify response schemas', () => {
  it('accept the API shapes', () => {
    expect(certificateSchema.safeParse(certificate()).success).toBe(true)
    expect(
      certificateSchema.safeParse(certificate({ issued_at: null, thumbnail_url: null })).success,
    ).toBe(true)
    const anonymous = {
      verdict: 'derived',
      confidence: 0.9375,
      licence: {
        serial: 'SL-0000-0000-0000-04D2',
        certificate_url: 'http://localhost/licences/SL-0000-0000-0000-04D2',
        artist: { id: 3, name: 'Mira Seo' },
        style: { id: 7, name: 'Harbor Mornings' },
        terms_version: 'sl-1.0',
      },
      private_licence: false,
    }
    const parsed = verifyResultSchema.parse(anonymous)
    expect(parsed.method).toBeUndefined()
    expect(parsed.licence.artist.name).toBe('Mira Seo')
    const signedIn = {
      ...anonymous,
      verdict: 'verified',
      confidence: 1,
      method: 'c2pa',
      c2pa: { valid: true },
    }
    expect(verifyResultSchema.parse(signedIn).method).toBe('c2pa')
    const unknown = { verdict: 'unknown', confidence: 0, licence: null, private_licence: false }
    expect(verifyResultSchema.parse(unknown).licence).toBe(null)
  })

  it('refuse broken answers', () => {
    expect(certificateSchema.safeParse(certificate({ sha256: 'abc' })).success).toBe(false)
    expect(certificateSchema.safeParse(certificate({ terms: undefined })).success).toBe(false)
    expect(certificateSchema.safeParse(certificate({ artist: { id: 3 } })).success).toBe(false)
    const base = { verdict: 'verified', confidence: 1, licence: null, private_licence: false }
    expect(verifyResultSchema.safeParse({ ...base, verdict: 'maybe' }).success).toBe(false)
    expect(verifyResultSchema.safeParse({ ...base, confidence: 1.5 }).success).toBe(false)
    expect(verifyResultSchema.safeParse({ ...base, confidence: '1' }).success).toBe(false)
  })
})

describe('LicenceCertificateView', () => {
  let wrapper
  beforeEach(() => vi.clearAllMocks())
  afterEach(() => wrapper?.unmount())

  it('shows the serial, artist profile link, style, buyer, terms and hash', async () => {
    provenanceApi.getLicence.mockResolvedValue(certificateSchema.parse(certificate()))
    stylesApi.getStyle.mockResolvedValue({ id: 7, artist: { id: 11, artist_name: 'Mira Seo' } })
    ;({ wrapper } = mountWith(LicenceCertificateView, {
      props: { serial: 'SL-0000-0000-0000-04D2' },
    }))
    await flushPromises()
    expect(provenanceApi.getLicence).toHaveBeenCalledWith('SL-0000-0000-0000-04D2')
    const page = wrapper.get('[data-testid="licence-certificate"]')
    expect(page.text()).toContain('Licence certificate')
    expect(wrapper.get('[data-testid="licence-serial"]').text()).toBe('SL-0000-0000-0000-04D2')
    expect(wrapper.get('[data-testid="licence-artist"] a').attributes('href')).toBe('/users/11')
    expect(wrapper.get('[data-testid="licence-style"] a').attributes('href')).toBe('/styles/7')
    expect(wrapper.get('[data-testid="licence-buyer"]').text()).toBe('jun')
    expect(wrapper.get('[data-testid="licence-status"]').text()).toBe('Valid licence')
    expect(wrapper.get('[data-term="commercial_use"]').text()).toContain('commercially')
    expect(wrapper.get('[data-term="attribution"]').text()).toContain('Style by Mira Seo')
    expect(wrapper.get('[data-testid="licence-prohibitions"]').text()).toContain(
      'Resell the style itself',
    )
    // a code this build does not know yet is still listed
    expect(wrapper.get('[data-term="some_future_rule"]').text()).toContain('some future rule')
    expect(wrapper.get('[data-testid="licence-sha256"]').text()).toBe(SHA)
  })

  it('says "not found or private" on a 404, in Korean too', async () => {
    provenanceApi.getGenerationLicence.mockRejectedValue(
      new ApiError('NOT_FOUND', '', { status: 404 }),
    )
    ;({ wrapper } = mountWith(LicenceCertificateView, {
      props: { generationId: '9' },
      locale: 'ko',
    }))
    await flushPromises()
    expect(provenanceApi.getGenerationLicence).toHaveBeenCalledWith('9')
    expect(wrapper.find('[data-testid="licence-certificate"]').exists()).toBe(false)
    expect(wrapper.get('[data-testid="licence-not-found"]').text()).toContain('비공개')
    expect(stylesApi.getStyle).not.toHaveBeenCalled()
  })
})
