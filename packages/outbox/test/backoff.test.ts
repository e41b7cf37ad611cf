import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelay } from '../src/lib/backoff.ts'

describe('back-off', () => {
  it('doubles from 1 s to 5 min without jitter', () => {
    const d = (n: number) => backoffDelay(n, { jitter: 0 })
    expect([1, 2, 3, 4, 5].map(d)).toEqual([1000, 2000, 4000, 8000, 16000])
    expect(d(9)).toBe(256_000)
    expect(d(10)).toBe(300_000)
    expect(d(1000)).toBe(300_000)
    expect(d(0)).toBe(1000)
  })

  it('spreads each delay ±50% (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const base = Math.min(300_000, 1000 * 2 ** Math.min(n - 1, 52))
        const d = backoffDelay(n, {}, () => r)
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.5))
        expect(d).toBeLessThanOrEqual(Math.ceil(base * 1.5))
        expect(Number.isFinite(d)).toBe(true)
      }),
    )
  })

  it('uses the whole jitter range', () => {
    expect(backoffDelay(1, {}, () => 0)).toBe(500)
    expect(backoffDelay(1, {}, () => 0.999_999)).toBe(1500)
    expect(backoffDelay(3, { initialMs: 10, maxMs: 25, jitter: 0.2 }, () => 0.5)).toBe(25)
  })
})
