import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createRng } from '../src/index.ts'

describe('createRng', () => {
  it('is deterministic per seed and stays in range', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 1000 }), (seed, n) => {
        const a = createRng(seed)
        const b = createRng(seed)
        for (let i = 0; i < 20; i++) {
          const x = a.next()
          expect(x).toBe(b.next())
          expect(x).toBeGreaterThanOrEqual(0)
          expect(x).toBeLessThan(1)
          const k = a.int(n)
          expect(k).toBe(b.int(n))
          expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true)
        }
      }),
    )
  })

  it('samples distinct items', () => {
    fc.assert(
      fc.property(fc.integer(), fc.uniqueArray(fc.integer(), { maxLength: 50 }), fc.nat(60), (seed, items, k) => {
        const s = createRng(seed).sample(items, k)
        expect(s.length).toBe(Math.min(k, items.length))
        expect(new Set(s).size).toBe(s.length)
        for (const x of s) expect(items).toContain(x)
      }),
    )
  })

  it('refuses to pick from an empty list', () => {
    expect(() => createRng(1).pick([])).toThrow(RangeError)
  })
})
