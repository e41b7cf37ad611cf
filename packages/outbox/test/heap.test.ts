import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DueHeap, type HeapItem } from '../src/lib/heap.ts'

const item = (due: number): HeapItem & { n: number } => ({ due, heapIndex: -1, n: due })

describe('due heap', () => {
  it('pops in due order after any pushes, removals and updates (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: -5, max: 1005 }), fc.boolean()), { maxLength: 100 }),
        (dues, ops) => {
          const h = new DueHeap<ReturnType<typeof item>>()
          const all = dues.map(item)
          for (const i of all) h.push(i)
          const live = new Set(all)
          for (const [k, due, remove] of ops) {
            if (all.length === 0) break
            const target = all[k % all.length]!
            if (remove) {
              h.remove(target)
              live.delete(target)
            } else if (live.has(target)) {
              target.due = due
              h.update(target)
            }
          }
          expect(h.size).toBe(live.size)
          const out: number[] = []
          for (let x = h.pop(); x; x = h.pop()) {
            expect(live.has(x)).toBe(true)
            expect(x.heapIndex).toBe(-1)
            out.push(x.due)
          }
          expect(out).toEqual([...live].map((i) => i.due).sort((a, b) => a - b))
        },
      ),
    )
  })

  it('knows membership and ignores double pushes and foreign removals', () => {
    const h = new DueHeap<HeapItem>()
    const a = item(5)
    const b = item(1)
    h.push(a)
    h.push(a)
    expect(h.size).toBe(1)
    h.remove(b)
    expect(h.has(b)).toBe(false)
    h.push(b)
    expect(h.peek()).toBe(b)
    for (const i of h.items()) i.due = 10 - i.due
    h.rebuild()
    expect(h.peek()).toBe(a)
  })
})
