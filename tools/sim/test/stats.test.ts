import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { percentiles } from '../src/index.ts'

describe('percentiles', () => {
  it('is null for an empty sample and ignores non-finite values', () => {
    expect(percentiles([]).p50).toBeNull()
    expect(percentiles([Number.NaN, Number.POSITIVE_INFINITY]).count).toBe(0)
    expect(percentiles([1, Number.NaN, 3]).count).toBe(2)
  })

  it('takes the nearest rank', () => {
    const p = percentiles(Array.from({ length: 100 }, (_, i) => i + 1))
    expect(p).toMatchObject({ count: 100, min: 1, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 })
  })

  it('orders min ≤ p50 ≤ p90 ≤ p99 ≤ max', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1 }), (xs) => {
        const p = percentiles(xs)
        const seq = [p.min, p.p50, p.p90, p.p99, p.max] as number[]
        for (let i = 1; i < seq.length; i++) expect(seq[i - 1]).toBeLessThanOrEqual(seq[i] as number)
      }),
    )
  })
})
