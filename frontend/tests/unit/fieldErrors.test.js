import { describe, expect, it, vi } from 'vitest'
import { flushPromises } from '@vue/test-utils'
import { ApiError } from '@/api/client'
import ko from '@/i18n/locales/ko.json'
import { serverFieldErrors } from '@/composables/useFieldErrors'
import { mountWith } from './helpers'

vi.mock('@/api/styles', () => ({ createStyle: vi.fn(), getMyStyles: vi.fn(async () => []) }))
const stylesApi = await import('@/api/styles')
const { default: StyleCreateView } = await import('@/views/styles/StyleCreateView.vue')

describe('field errors', () => {
  it('maps server VALIDATION_ERROR details to fields and i18n keys', () => {
    const error = new ApiError('VALIDATION_ERROR', '', {
      status: 422,
      details: {
        fields: [
          { field: 'generation_cost_tokens', type: 'less_than_equal', le: 10000, message: 'x' },
          { field: 'trigger', type: 'tag_not_english', message: 'y' },
        ],
      },
    })
    const found = serverFieldErrors(error, { generation_cost_tokens: 'price' })
    expect(found.price.key).toBe('validation.server.tooLarge')
    expect(found.price.params.max).toBe(10000)
    expect(found.trigger.key).toBe('validation.tagNotEnglish')
    expect(serverFieldErrors(new ApiError('INSUFFICIENT_TOKENS'))).toEqual({})
  })

  it('shows a Korean error on its field when it loses focus and clears it once fixed', async () => {
    const { wrapper } = mountWith(StyleCreateView, { locale: 'ko' })
    await flushPromises()
    const trigger = wrapper.get('[data-testid="style-trigger"]')
    await trigger.setValue('수채화')
    await trigger.trigger('blur')
    const error = wrapper.get('[data-testid="style-trigger-error"]')
    expect(error.text()).toBe(ko.validation.triggerNotEnglish)
    expect(trigger.attributes('aria-invalid')).toBe('true')
    await trigger.setValue('watercolor')
    expect(wrapper.find('[data-testid="style-trigger-error"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('puts a server refusal on its field in the UI language, and clears it when the field changes', async () => {
    const { wrapper } = mountWith(StyleCreateView, { locale: 'ko' })
    await flushPromises()
    // Pretend the browser checks passed but the server refused the title.
    const fields = wrapper.vm.$.setupState.fields
    fields.setServerError(
      new ApiError('VALIDATION_ERROR', '', {
        status: 422,
        details: { fields: [{ field: 'title', type: 'string_too_long', max_length: 100 }] },
      }),
    )
    await flushPromises()
    const error = wrapper.get('[data-testid="style-title-error"]')
    expect(error.text()).toBe(ko.validation.server.tooLong.replace('{max}', '100'))
    await wrapper.get('[data-testid="style-title"]').setValue('수채화의 꿈')
    expect(wrapper.find('[data-testid="style-title-error"]').exists()).toBe(false)
    expect(stylesApi.createStyle).not.toHaveBeenCalled()
    wrapper.unmount()
  })
})
