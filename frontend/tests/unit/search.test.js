import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { http } from '@/api/client'
import { search } from '@/api/search'

let calls
let body
const originalAdapter = http.defaults.adapter

beforeEach(() => {
  calls = []
  http.defaults.adapter = async (config) => {
    calls.push({ url: config.url, params: config.params })
    return { data: body, status: 200, statusText: '200', headers: {}, config, request: {} }
  }
})

afterEach(() => {
  http.defaults.adapter = originalAdapter
})

const style = {
  id: 7,
  title: 'Blue Ink',
  description: '',
  generation_cost_tokens: 5,
  training_status: 'completed',
  thumbnail_url: null,
  tags: ['ocean'],
  artist: { id: 3, user_id: 3, artist_name: 'Blue Studio' },
  generations_count: 2,
  created_at: '2026-12-01T00:00:00Z',
  matched_by: 'tag',
  matched_tag: 'ocean',
}
const artist = {
  id: 3,
  user_id: 3,
  username: 'blue',
  artist_name: 'Blue Studio',
  follower_count: 4,
  profile_image_url: null,
  matched_by: 'name',
}

describe('search (SPEC §6.1 shape)', () => {
  it('asks with q, type and limit and returns both lists with matched_by', async () => {
    body = { success: true, data: { styles: [style], artists: [artist] } }
    const result = await search('ocean', 'all')
    expect(calls[0].params).toEqual({ q: 'ocean', type: 'all', limit: 20 })
    expect(result.styles.map((s) => [s.id, s.matched_by, s.matched_tag])).toEqual([
      [7, 'tag', 'ocean'],
    ])
    expect(result.artists.map((a) => [a.username, a.matched_by])).toEqual([['blue', 'name']])
  })

  it('refuses an answer without the two lists', async () => {
    body = { success: true, data: { results: [], next_cursor: null, has_more: false } }
    await expect(search('ocean')).rejects.toBeTruthy()
  })
})
