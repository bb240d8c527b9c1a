/** Alt text of a generated image: its description, else its prompt tags and style. */
export function generationAlt(t, generation) {
  if (generation?.description) return generation.description
  const tags = (generation?.prompt_tags ?? []).join(', ')
  const style = generation?.style?.title
  if (style) return t('feed.altWithStyle', { tags: tags || '—', style })
  return t('feed.alt', { tags: tags || '—' })
}
