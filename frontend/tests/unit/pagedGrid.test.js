import { describe, expect, it } from 'vitest'
import { h } from 'vue'
import { mountWith } from './helpers'
import PagedGrid from '@/components/common/PagedGrid.vue'

const slots = {
  default: ({ item }) => h('article', { 'data-testid': 'card' }, item.title),
  empty: () => h('a', { 'data-testid': 'cta' }, 'Find a style'),
}

function mountGrid(props) {
  return mountWith(
    { render: () => h(PagedGrid, { emptyMessage: 'Nothing yet', ...props }, slots) },
    {},
  ).wrapper
}

describe('PagedGrid', () => {
  it('shows one card per item and Load more while there is more', () => {
    const wrapper = mountGrid({
      items: [
        { id: 1, title: 'a' },
        { id: 2, title: 'b' },
      ],
      loaded: true,
      hasMore: true,
    })
    expect(wrapper.findAll('[data-testid="card"]').map((c) => c.text())).toEqual(['a', 'b'])
    expect(wrapper.find('[data-testid="load-more"]').exists()).toBe(true)
    wrapper.unmount()
  })

  it('shows the empty state with its call to action once loaded with nothing', () => {
    const wrapper = mountGrid({ items: [], loaded: true, emptyTestid: 'feed-empty' })
    expect(wrapper.find('[data-testid="feed-empty"]').text()).toContain('Nothing yet')
    expect(wrapper.find('[data-testid="cta"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="card"]').exists()).toBe(false)
    wrapper.unmount()
  })
})
