import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addressPrefix, RateLimiter } from '../src/lib/rate-limiter.ts'

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

describe('addressPrefix', () => {
  it('counts an IPv4 client by its /24, whether the socket is IPv4 or dual-stack', () => {
    expect(addressPrefix('203.0.113.7')).toBe('203.0.113.0/24')
    expect(addressPrefix('203.0.113.250')).toBe('203.0.113.0/24')
    expect(addressPrefix('::ffff:203.0.113.9')).toBe('203.0.113.0/24')
    expect(addressPrefix('203.0.114.7')).not.toBe(addressPrefix('203.0.113.7'))
  })

  it('counts an IPv6 client by its /64, however the address is written', () => {
    const a = addressPrefix('2001:db8:1:2:aaaa:bbbb:cccc:dddd')
    expect(a).toBe('2001:db8:1:2::/64')
    expect(addressPrefix('2001:0db8:0001:0002::1')).toBe(a)
    expect(addressPrefix('2001:db8:1:2::ffff:1.2.3.4')).toBe(a)
    expect(addressPrefix('2001:db8:1:3::1')).not.toBe(a)
    expect(addressPrefix('::1')).toBe('0:0:0:0::/64')
    expect(addressPrefix('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
  })

  it('keeps an unknown address apart rather than failing', () => {
    expect(addressPrefix(undefined)).toBe('unknown')
  })
})

describe('RateLimiter windows', () => {
  it('allows `limit` per `windowMs`, refilled evenly', () => {
    let t = 0
    const rl = new RateLimiter({ limit: 2, windowMs: 3_600_000, now: () => t })
    expect(rl.take('k')).toBe(0)
    expect(rl.take('k')).toBe(0)
    const wait = rl.take('k')
    expect(wait).toBeGreaterThanOrEqual(1_800_000)
    expect(wait).toBeLessThanOrEqual(1_800_001)
    t += wait
    expect(rl.take('k')).toBe(0)
  })
})
