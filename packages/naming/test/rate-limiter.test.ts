import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../src/lib/rate-limiter.ts'

describe('RateLimiter', () => {
  it('allows a burst of perMinute, then refills evenly', () => {
    let t = 0
    const rl = new RateLimiter({ perMinute: 60, now: () => t })
    for (let i = 0; i < 60; i++) expect(rl.take('a')).toBe(0)
    const wait = rl.take('a')
    expect(wait).toBeGreaterThan(0)
    expect(wait).toBeLessThanOrEqual(1000)
    t += 1000 // one token per second at 60/min
    expect(rl.take('a')).toBe(0)
    expect(rl.take('a')).toBeGreaterThan(0)
  })

  it('keeps clients apart and bounds how many it remembers', () => {
    const t = 0
    const rl = new RateLimiter({ perMinute: 1, maxClients: 2, now: () => t })
    expect(rl.take('a')).toBe(0)
    expect(rl.take('b')).toBe(0)
    expect(rl.take('a')).toBeGreaterThan(0)
    expect(rl.take('c')).toBe(0) // forgets 'b', the least recently seen
    expect(rl.take('b')).toBe(0)
  })

  it('never lets more than perMinute + elapsed refill through (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 300 }), (perMinute, gaps) => {
        let t = 0
        const rl = new RateLimiter({ perMinute, now: () => t })
        let allowed = 0
        for (const g of gaps) {
          t += g
          if (rl.take('x') === 0) allowed++
        }
        expect(allowed).toBeLessThanOrEqual(perMinute + Math.floor((t * perMinute) / 60_000) + 1)
      }),
    )
  })

  it('rejects a non-positive rate', () => {
    expect(() => new RateLimiter({ perMinute: 0 })).toThrow(RangeError)
  })
})
