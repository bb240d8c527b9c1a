import { afterEach, describe, expect, it } from 'vitest'
import { generationSchema, styleSchema } from '@/api/schemas'
import { mountWith } from './helpers'

const { default: QueueEta } = await import('@/components/generations/QueueEta.vue')
const { default: GenerationProgress } =
  await import('@/components/generations/GenerationProgress.vue')
const { default: TrainingProgress } = await import('@/components/styles/TrainingProgress.vue')

let mounted = []
const mount = (...args) => {
  const result = mountWith(...args)
  mounted.push(result.wrapper)
  return result.wrapper
}
afterEach(() => {
  mounted.forEach((w) => w.unmount())
  mounted = []
})

describe('QueueEta', () => {
  it('shows the place in line and the estimate, in English and Korean', () => {
    const queue = { position: 3, eta_seconds: 95 }
    expect(mount(QueueEta, { props: { queue } }).get('[data-testid="queue-eta"]').text()).toBe(
      'Number 3 in line · ready in about 1 min 35 s',
    )
    expect(
      mount(QueueEta, { props: { queue }, locale: 'ko' }).get('[data-testid="queue-eta"]').text(),
    ).toMatch(/^대기 3번째 · 약 .+ 후 완료 예상$/)
  })

  it('says when there is no estimate yet and shows nothing without a queue', () => {
    const wrapper = mount(QueueEta, { props: { queue: { position: 1, eta_seconds: null } } })
    expect(wrapper.text()).toBe('Number 1 in line · no time estimate yet')
    expect(
      mount(QueueEta, { props: { queue: null } })
        .find('[data-testid="queue-eta"]')
        .exists(),
    ).toBe(false)
  })

  it('appears on the generation card only while queued and on the training panel while pending', () => {
    const queue = { position: 2, eta_seconds: 12 }
    const queued = mount(GenerationProgress, {
      props: { generation: { id: 1, status: 'queued', queue } },
    })
    expect(queued.get('[data-testid="queue-eta"]').text()).toContain('Number 2 in line')
    const running = mount(GenerationProgress, {
      props: { generation: { id: 1, status: 'processing', queue: null, progress: null } },
    })
    expect(running.find('[data-testid="queue-eta"]').exists()).toBe(false)
    const pending = mount(TrainingProgress, {
      props: { styleItem: { id: 1, training_status: 'pending', progress: null, queue } },
    })
    expect(pending.get('[data-testid="queue-eta"]').text()).toContain('12 s')
  })

  it('is part of the validated API shapes', () => {
    const g = generationSchema.parse({
      id: 1,
      status: 'queued',
      queue: { position: 1, eta_seconds: 4 },
    })
    expect(g.queue).toEqual({ position: 1, eta_seconds: 4 })
    const s = styleSchema.safeParse({
      id: 1,
      title: 'x',
      generation_cost_tokens: 1,
      training_status: 'pending',
      generations_count: 0,
      queue: { position: 'first' },
    })
    expect(s.success).toBe(false)
  })
})
