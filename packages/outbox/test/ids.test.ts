import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createIdGenerator, isMessageId, messageIdTime, newMessageId } from '../src/lib/ids.ts'

describe('message IDs', () => {
  it('are 26 Crockford base32 chars that carry their time', () => {
    const t = Date.UTC(2026, 10, 26, 12, 0, 0, 123)
    const id = createIdGenerator({ now: () => t })()
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(isMessageId(id)).toBe(true)
    expect(messageIdTime(id)).toBe(t)
    expect(isMessageId(newMessageId())).toBe(true)
  })

  it('sort by time as plain strings (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: 2 ** 48 - 1 }), (a, b) => {
        const ia = createIdGenerator({ now: () => a })()
        const ib = createIdGenerator({ now: () => b })()
        expect(messageIdTime(ia)).toBe(a)
        if (a < b) expect(ia < ib).toBe(true)
        if (a > b) expect(ia > ib).toBe(true)
      }),
    )
  })

  it('strictly increase from one generator, whatever the clock does (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 2, maxLength: 200 }), (times) => {
        let i = 0
        const gen = createIdGenerator({ now: () => times[i++ % times.length]! })
        const ids = times.map(() => gen())
        for (let k = 1; k < ids.length; k++) expect(ids[k]! > ids[k - 1]!).toBe(true)
        expect(new Set(ids).size).toBe(ids.length)
      }),
    )
  })

  it('stay monotonic within one millisecond, and carry into the next on overflow', () => {
    const gen = createIdGenerator({ now: () => 1000, random: (b) => b.fill(0xff) })
    const a = gen()
    const b = gen()
    expect(b > a).toBe(true)
    expect(messageIdTime(a)).toBe(1000)
    expect(messageIdTime(b)).toBe(1001)
  })

  it('are unique across many quick calls', () => {
    const ids = Array.from({ length: 50_000 }, () => newMessageId())
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
  })

  it('refuse what is not an ID, with a typed error', () => {
    for (const bad of ['', 'x', '8ZZZZZZZZZZZZZZZZZZZZZZZZZ', '01ARZ3NDEKTSV4RRFFQ69G5FAI', '01arz3ndektsv4rrffq69g5fav', 42, null]) {
      expect(isMessageId(bad)).toBe(false)
    }
    expect(() => messageIdTime('nope')).toThrow(expect.objectContaining({ name: 'InvalidMessageIdError', code: 'invalid_message_id' }))
    expect(() => createIdGenerator({ now: () => -1 })()).toThrow(expect.objectContaining({ code: 'invalid_message_id' }))
    expect(() => createIdGenerator({ now: () => 2 ** 48 })()).toThrow(expect.objectContaining({ code: 'invalid_message_id' }))
  })
})
