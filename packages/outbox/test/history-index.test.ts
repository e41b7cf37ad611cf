import { describe, expect, it } from 'vitest'
import { pageEdges, pageWindow } from '../src/lib/history-index.ts'
import { createIdGenerator } from '../src/lib/ids.ts'

const next = createIdGenerator({ now: () => Date.UTC(2026, 0, 1) })
const ids = Array.from({ length: 10 }, () => next()).sort()

describe('pageWindow and pageEdges (a page of a conversation from its sorted IDs)', () => {
  it('pages forward from the start or after an ID, and back from before an ID reading the nearest first', () => {
    const first = pageWindow(ids, { limit: 3 })
    expect(first).toMatchObject({ lo: 0, hi: 3, backward: false, order: ids.slice(0, 3) })
    expect(pageEdges(ids, first, ids[0], ids[2])).toEqual({ hasBefore: false, hasAfter: true })
    const after = pageWindow(ids, { after: ids[2], limit: 3 })
    expect(after.order).toEqual(ids.slice(3, 6))
    const back = pageWindow(ids, { before: ids[9], limit: 4 })
    expect(back).toMatchObject({ lo: 5, hi: 9, backward: true, order: ids.slice(5, 9).reverse() })
    expect(pageEdges(ids, back, ids[5], ids[8])).toEqual({ hasBefore: true, hasAfter: true })
    // Between two IDs: forward from the first, neither included.
    expect(pageWindow(ids, { after: ids[1], before: ids[5] }).order).toEqual(ids.slice(2, 5))
  })

  it('an empty page takes its edges from its window; a bad ID is refused with its name', () => {
    const past = pageWindow(ids, { after: ids[9] })
    expect(past.order).toEqual([])
    expect(pageEdges(ids, past)).toEqual({ hasBefore: true, hasAfter: false })
    expect(pageEdges([], pageWindow([], {}))).toEqual({ hasBefore: false, hasAfter: false })
    expect(() => pageWindow(ids, { before: 'not-an-id' })).toThrow(/before: not a message ID/)
    expect(() => pageWindow(ids, { after: 'x'.repeat(500) })).toThrow(expect.objectContaining({ name: 'InvalidMessageIdError' }))
  })
})
