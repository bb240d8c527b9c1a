import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import { ApiError } from '@/api/client'
import { mountWith } from './helpers'

vi.mock('@/api/generations', () => ({
  createGeneration: vi.fn(),
  getGeneration: vi.fn(),
  getMyGenerations: vi.fn(),
  updateGeneration: vi.fn(),
  like: vi.fn(),
  unlike: vi.fn(),
}))
vi.mock('@/api/tokens', () => ({ getBalance: vi.fn() }))
const generationsApi = await import('@/api/generations')
const tokensApi = await import('@/api/tokens')
const { default: TagChipsInput } = await import('@/components/common/TagChipsInput.vue')
const { default: GenerateForm } = await import('@/components/styles/GenerateForm.vue')
const { default: LikeButton } = await import('@/components/feed/LikeButton.vue')
const { default: TrainingProgress } = await import('@/components/styles/TrainingProgress.vue')
const { default: GenerationProgress } =
  await import('@/components/generations/GenerationProgress.vue')
const { default: LanguageSwitch } = await import('@/components/layout/LanguageSwitch.vue')
const { useAuthStore } = await import('@/stores/auth')
const { i18n } = await import('@/i18n')

let mounted = []
const mountTracked = (...args) => {
  const result = mountWith(...args)
  mounted.push(result.wrapper)
  return result
}
beforeEach(() => vi.clearAllMocks())
afterEach(() => {
  mounted.forEach((w) => w.unmount())
  mounted = []
})

describe('TagChipsInput', () => {
  it('adds lowercased English tags on Enter and comma', async () => {
    const { wrapper } = mountTracked(TagChipsInput, {
      props: { id: 't', label: 'Tags', modelValue: [] },
    })
    const input = wrapper.get('[data-testid="tag-input"]')
    await input.setValue('Sunset, Woman')
    await input.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('update:modelValue').at(-1)[0]).toEqual(['sunset', 'woman'])
  })

  it('refuses a Korean tag with a translated message in the current language', async () => {
    for (const [locale, expected] of [
      ['en', 'Tags must be in English'],
      ['ko', '태그는 영어로 입력해 주세요'],
    ]) {
      const { wrapper } = mountTracked(TagChipsInput, {
        props: { id: 't', label: 'Tags', modelValue: [] },
        locale,
      })
      const input = wrapper.get('[data-testid="tag-input"]')
      await input.setValue('고양이')
      await input.trigger('keydown', { key: 'Enter' })
      expect(wrapper.emitted('update:modelValue')).toBeUndefined()
      expect(wrapper.get('[data-testid="tag-error"]').text()).toContain(expected)
    }
  })

  it('removes the last tag with Backspace on an empty field', async () => {
    const { wrapper } = mountTracked(TagChipsInput, {
      props: { id: 't', label: 'Tags', modelValue: ['a', 'b'] },
    })
    await wrapper.get('[data-testid="tag-input"]').trigger('keydown', { key: 'Backspace' })
    expect(wrapper.emitted('update:modelValue')[0][0]).toEqual(['a'])
  })
})

describe('GenerateForm', () => {
  const styleItem = {
    id: 4,
    title: 'Ink',
    generation_cost_tokens: 10,
    training_status: 'completed',
  }

  function mountForm(balance) {
    const result = mountTracked(GenerateForm, { props: { styleItem } })
    useAuthStore().setUser({
      id: 1,
      username: 'u',
      role: 'user',
      token_balance: balance,
      artist: null,
    })
    return result
  }

  it('shows the price, the balance and a Payment link when tokens are short, without calling the API', async () => {
    const { wrapper } = mountForm(5)
    await nextTick()
    expect(wrapper.get('[data-testid="generate-price"]').text()).toContain('10')
    expect(wrapper.get('[data-testid="generate-balance"]').text()).toContain('5')
    const warning = wrapper.get('[data-testid="insufficient-tokens"]')
    expect(warning.text()).toContain('Not enough tokens')
    expect(warning.get('[data-testid="buy-tokens-link"]').attributes('href')).toBe('/payment')

    await wrapper.get('[data-testid="generate-tags"]').setValue('cat')
    await wrapper.get('[data-testid="generate-form"]').trigger('submit')
    expect(generationsApi.createGeneration).not.toHaveBeenCalled()
    expect(wrapper.get('[data-testid="generate-error"]').attributes('data-error-code')).toBe(
      'INSUFFICIENT_TOKENS',
    )
  })

  it('requires a tag, then sends the generation with the typed tag', async () => {
    generationsApi.createGeneration.mockResolvedValue({ id: 50, status: 'queued', cost_tokens: 10 })
    tokensApi.getBalance.mockResolvedValue({ token_balance: 90 })
    const { wrapper } = mountForm(100)
    await wrapper.get('[data-testid="generate-form"]').trigger('submit')
    expect(wrapper.get('[data-testid="generate-tags-error"]').text()).toContain('at least one tag')
    expect(generationsApi.createGeneration).not.toHaveBeenCalled()

    await wrapper.get('[data-testid="generate-tags"]').setValue('Cat')
    await wrapper.get('[data-testid="aspect-1-2"]').setValue(true)
    await wrapper.get('[data-testid="generate-seed"]').setValue('7')
    await wrapper.get('[data-testid="generate-form"]').trigger('submit')
    await vi.waitFor(() => expect(generationsApi.createGeneration).toHaveBeenCalled())
    expect(generationsApi.createGeneration).toHaveBeenCalledWith({
      styleId: 4,
      promptTags: ['cat'],
      description: '',
      aspectRatio: '1:2',
      seed: 7,
      expectedCostTokens: 10,
    })
    await vi.waitFor(() => expect(wrapper.emitted('created')).toBeTruthy())
    expect(useAuthStore().balance).toBe(90)
  })

  it('shows the new price after PRICE_CHANGED and sends it when asked again', async () => {
    generationsApi.createGeneration.mockRejectedValueOnce(
      new ApiError('PRICE_CHANGED', 'changed', {
        status: 409,
        details: { current_cost_tokens: 12 },
      }),
    )
    generationsApi.createGeneration.mockResolvedValueOnce({
      id: 51,
      status: 'queued',
      cost_tokens: 12,
    })
    tokensApi.getBalance.mockResolvedValue({ token_balance: 88 })
    const { wrapper } = mountForm(100)
    await wrapper.get('[data-testid="generate-tags"]').setValue('cat')
    await wrapper.get('[data-testid="generate-form"]').trigger('submit')
    await vi.waitFor(() =>
      expect(wrapper.find('[data-testid="price-changed"]').exists()).toBe(true),
    )
    expect(wrapper.get('[data-testid="price-changed"]').text()).toContain('12')
    expect(wrapper.get('[data-testid="generate-price"]').text()).toContain('12')
    expect(wrapper.emitted('created')).toBeFalsy()

    await wrapper.get('[data-testid="generate-form"]').trigger('submit')
    await vi.waitFor(() => expect(wrapper.emitted('created')).toBeTruthy())
    expect(generationsApi.createGeneration).toHaveBeenLastCalledWith(
      expect.objectContaining({ expectedCostTokens: 12 }),
    )
  })

  it('shows the server refusal translated', async () => {
    generationsApi.createGeneration.mockRejectedValue(
      new ApiError('RATE_LIMITED', 'slow', { status: 429 }),
    )
    const { wrapper } = mountForm(100)
    await wrapper.get('[data-testid="generate-tags"]').setValue('cat')
    await wrapper.get('[data-testid="generate-form"]').trigger('submit')
    await vi.waitFor(() =>
      expect(wrapper.find('[data-testid="generate-error"]').exists()).toBe(true),
    )
    expect(wrapper.get('[data-testid="generate-error"]').text()).toContain('Too many requests')
  })
})

describe('LikeButton', () => {
  it('toggles optimistically and takes the server count', async () => {
    generationsApi.like.mockResolvedValue({ liked: true, like_count: 8 })
    const { wrapper } = mountTracked(LikeButton, {
      props: { generationId: 3, liked: false, count: 6 },
    })
    await wrapper.get('[data-testid="like-button"]').trigger('click')
    const changes = wrapper.emitted('change').map(([c]) => c)
    expect(changes[0]).toEqual({ liked: true, count: 7 })
    await vi.waitFor(() => expect(wrapper.emitted('change')).toHaveLength(2))
    expect(wrapper.emitted('change')[1][0]).toEqual({ liked: true, count: 8 })
  })

  it('keeps "liked" when the server says it already was (409) and reverts on other errors', async () => {
    generationsApi.like.mockRejectedValueOnce(new ApiError('CONFLICT', '', { status: 409 }))
    const { wrapper } = mountTracked(LikeButton, {
      props: { generationId: 3, liked: false, count: 6 },
    })
    await wrapper.get('[data-testid="like-button"]').trigger('click')
    await vi.waitFor(() => expect(wrapper.emitted('change')).toHaveLength(2))
    expect(wrapper.emitted('change')[1][0]).toEqual({ liked: true, count: 6 })

    generationsApi.like.mockRejectedValueOnce(new ApiError('NOT_FOUND', '', { status: 404 }))
    const other = mountTracked(LikeButton, {
      props: { generationId: 3, liked: false, count: 6 },
    }).wrapper
    await other.get('[data-testid="like-button"]').trigger('click')
    await vi.waitFor(() => expect(other.emitted('error')).toBeTruthy())
    expect(other.emitted('change')[1][0]).toEqual({ liked: false, count: 6 })
  })
})

describe('progress bars', () => {
  it('shows training epoch, percent and time left while training', () => {
    const { wrapper } = mountTracked(TrainingProgress, {
      props: {
        styleItem: {
          id: 1,
          training_status: 'training',
          progress: {
            current_epoch: 3,
            total_epochs: 10,
            progress_percent: 30,
            estimated_seconds: 125,
          },
        },
      },
    })
    const bar = wrapper.get('[data-testid="training-progress"]')
    expect(bar.attributes('role')).toBe('progressbar')
    expect(bar.attributes('aria-valuenow')).toBe('30')
    expect(wrapper.get('[data-testid="training-detail"]').text()).toMatch(
      /Step 3 of 10.*30%.*2 min 5 s/s,
    )
  })

  it('is indeterminate while pending and full when completed', () => {
    const pending = mountTracked(TrainingProgress, {
      props: { styleItem: { id: 1, training_status: 'pending', progress: null } },
    }).wrapper
    expect(
      pending.get('[data-testid="training-progress"]').attributes('aria-valuenow'),
    ).toBeUndefined()
    const done = mountTracked(TrainingProgress, {
      props: { styleItem: { id: 1, training_status: 'completed', progress: null } },
    }).wrapper
    expect(done.get('[data-testid="training-progress"]').attributes('aria-valuenow')).toBe('100')
    expect(done.find('[data-testid="training-complete"]').exists()).toBe(true)
  })

  it('shows generation steps in Korean', () => {
    const { wrapper } = mountTracked(GenerationProgress, {
      props: {
        generation: {
          id: 1,
          status: 'processing',
          progress: {
            current_step: 12,
            total_steps: 30,
            progress_percent: 40,
            estimated_seconds: 9,
          },
        },
      },
      locale: 'ko',
    })
    expect(wrapper.get('[data-testid="generation-progress"]').attributes('aria-valuenow')).toBe(
      '40',
    )
    expect(wrapper.get('[data-testid="generation-status"]').text()).toBe('생성 중')
    expect(wrapper.get('[data-testid="generation-progress-detail"]').text()).toContain(
      '30단계 중 12단계',
    )
  })
})

describe('LanguageSwitch', () => {
  it('switches the language and remembers it', async () => {
    const { mount } = await import('@vue/test-utils')
    const wrapper = mount(LanguageSwitch, { global: { plugins: [i18n] } })
    mounted.push(wrapper)
    await wrapper.get('[data-testid="language-switch"]').setValue('ko')
    expect(i18n.global.locale.value).toBe('ko')
    expect(localStorage.getItem('stylelicense.locale')).toBe('ko')
    expect(document.documentElement.lang).toBe('ko')
    await wrapper.get('[data-testid="language-switch"]').setValue('en')
    expect(localStorage.getItem('stylelicense.locale')).toBe('en')
  })
})
