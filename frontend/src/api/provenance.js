import { api } from './client'
import { certificateSchema, verifyResultSchema } from './schemas'

/** The certificate behind a public serial (404 for a private image unless it is yours). */
export const getLicence = (serial) =>
  api.get(`/licences/${encodeURIComponent(serial)}`, { schema: certificateSchema })

/** The certificate of a generation, under the same visibility rules. */
export const getGenerationLicence = (generationId) =>
  api.get(`/generations/${encodeURIComponent(generationId)}/licence`, {
    schema: certificateSchema,
  })

/** Uploads one image to `POST /api/verify` (multipart field `image`). */
export function verifyImage(file, onUploadProgress) {
  const form = new FormData()
  form.append('image', file, file.name)
  return api.post('/verify', form, { schema: verifyResultSchema, onUploadProgress })
}
