import { describe, expect, it } from 'vitest'
import { RecentLookups } from '../src/lib/recent-lookups.ts'

describe('RecentLookups', () => {
  const clock = () => {
    let t = 1_000
    return {
      now: () => t,
      advance: (ms: number) => {
        t += ms
      },
    }
  }

  it('shares a lookup in flight and reuses what it found for reuseMs, then looks up again', async () => {
    const c = clock()
    const recent = new RecentLookups<string>({ reuseMs: 2_000, max: 8, now: c.now })
    let calls = 0
    const lookup = async () => `v${++calls}`
    const [a, b] = await Promise.all([recent.get('k', lookup), recent.get('k', lookup)])
    expect([a, b, calls]).toEqual(['v1', 'v1', 1])
    c.advance(1_999)
    expect(await recent.get('k', lookup)).toBe('v1')
    c.advance(1)
    expect(await recent.get('k', lookup)).toBe('v2')
    expect(await recent.get('other', lookup)).toBe('v3')
  })

  it('keeps no miss and no failure; forget drops a found answer', async () => {
    const c = clock()
    const recent = new RecentLookups<string>({ reuseMs: 2_000, max: 8, now: c.now })
    let calls = 0
    const miss = async () => {
      calls++
      return undefined
    }
    expect(await recent.get('k', miss)).toBeUndefined()
    expect(await recent.get('k', miss)).toBeUndefined()
    await expect(recent.get('k', async () => Promise.reject(new Error(`down ${++calls}`)))).rejects.toThrow('down 3')
    expect(await recent.get('k', async () => `v${++calls}`)).toBe('v4')
    recent.forget('k')
    expect(await recent.get('k', async () => `v${++calls}`)).toBe('v5')
    expect(recent.size).toBe(1)
  })

  it('holds at most `max` keys, the oldest asked first out', async () => {
    const recent = new RecentLookups<string>({ reuseMs: 60_000, max: 3, now: clock().now })
    for (const k of ['a', 'b', 'c', 'd']) await recent.get(k, async () => k)
    expect(recent.size).toBe(3)
    let asked = false
    const again = async () => {
      asked = true
      return 'a again'
    }
    expect(await recent.get('a', again)).toBe('a again')
    expect(asked).toBe(true)
    expect(await recent.get('d', async () => 'not asked')).toBe('d')
  })
})
