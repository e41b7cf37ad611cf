import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_VALUE_BYTES, MAX_VALUE_TTL_MS } from '../src/index.ts'
import {
  admitValue,
  checkTtl,
  deleteHashOf,
  encodeTombstone,
  encodeValue,
  newDeleteToken,
  selectValue,
  verifyValue,
} from '../src/lib/values.ts'

const now = 1_800_000_000_000
const named = (name: string) => expect.objectContaining({ name })

describe('opaque values', () => {
  it('round-trip any payload up to the limit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.integer({ min: 1, max: MAX_VALUE_TTL_MS }), (data, ttl) => {
        const token = newDeleteToken()
        const v = verifyValue(encodeValue(data, { expiresAt: now + ttl, deleteToken: token }), { now })
        expect(v).toEqual({ kind: 'data', data, deleteHash: deleteHashOf(token), expiresAt: now + ttl })
      }),
      { numRuns: 50 },
    )
  })

  it('delete tokens are 32 random bytes each, distinct, and share no memory (drawn from a pool)', () => {
    const tokens = Array.from({ length: 200 }, () => newDeleteToken()) // more than one pool's worth
    expect(tokens.every((t) => t.length === 32)).toBe(true)
    expect(new Set(tokens.map((t) => Buffer.from(t).toString('hex'))).size).toBe(200)
    expect(tokens.every((t) => t.byteOffset === 0 && t.buffer.byteLength === 32)).toBe(true)
    expect(tokens.some((t) => t.every((b) => b === 0))).toBe(false)
  })

  it('refuse payloads over the size limit, when writing and when storing', () => {
    const big = new Uint8Array(DEFAULT_MAX_VALUE_BYTES + 1)
    expect(() => encodeValue(big, { expiresAt: now + 1000, deleteToken: newDeleteToken() })).toThrow(named('ValueTooLargeError'))
    const made = encodeValue(big, { expiresAt: now + 1000, deleteToken: newDeleteToken(), maxValueBytes: big.length })
    expect(() => verifyValue(made, { now })).toThrow(named('ValueTooLargeError'))
    expect(() => verifyValue(new Uint8Array(64 * 1024), { now })).toThrow(named('ValueTooLargeError'))
  })

  it('refuse expired values and lives over a day', () => {
    const v = encodeValue(new Uint8Array([1]), { expiresAt: now + 1000, deleteToken: newDeleteToken() })
    expect(() => verifyValue(v, { now: now + 1000 })).toThrow(named('ValueExpiredError'))
    const long = encodeValue(new Uint8Array([1]), { expiresAt: now + MAX_VALUE_TTL_MS + 120_000, deleteToken: newDeleteToken() })
    expect(() => verifyValue(long, { now })).toThrow(named('InvalidTtlError'))
    expect(() => checkTtl(0)).toThrow(named('InvalidTtlError'))
    expect(() => checkTtl(MAX_VALUE_TTL_MS + 1)).toThrow(named('InvalidTtlError'))
    expect(() => checkTtl(1.5)).toThrow(named('InvalidTtlError'))
    expect(checkTtl(1000)).toBe(1000)
  })

  it('throw only typed errors on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(() => verifyValue(bytes, { now })).toThrow(expect.objectContaining({ code: expect.any(String) }))
      }),
    )
    const enc = new TextEncoder()
    for (const json of ['{"v":2,"expiresAt":1}', '{"data":"AA","expiresAt":9999999999999,"v":1}', '[]', '{"expiresAt":1e3,"v":1}']) {
      expect(() => verifyValue(enc.encode(json), { now })).toThrow(expect.objectContaining({ code: expect.any(String) }))
    }
  })

  it('let only the writer replace a live value, with a tombstone', () => {
    const token = newDeleteToken()
    const valueBytes = encodeValue(new Uint8Array([1, 2]), { expiresAt: now + 60_000, deleteToken: token })
    const existing = { value: verifyValue(valueBytes, { now }), bytes: valueBytes }
    const otherBytes = encodeValue(new Uint8Array([9]), { expiresAt: now + 60_000, deleteToken: newDeleteToken() })
    expect(() => admitValue(verifyValue(otherBytes, { now }), otherBytes, existing)).toThrow(named('ValueOccupiedError'))
    const wrong = encodeTombstone(newDeleteToken(), now + 60_000)
    expect(() => admitValue(verifyValue(wrong, { now }), wrong, existing)).toThrow(named('BadDeleteTokenError'))
    const tomb = encodeTombstone(token, now + 60_000)
    expect(() => admitValue(verifyValue(tomb, { now }), tomb, existing)).not.toThrow()
    expect(() => admitValue(existing.value, valueBytes, existing)).not.toThrow() // a retry
    // after deletion, the value cannot come back
    const deleted = { value: verifyValue(tomb, { now }), bytes: tomb }
    expect(() => admitValue(existing.value, valueBytes, deleted)).toThrow(named('ValueOccupiedError'))
    expect(() => admitValue(existing.value, valueBytes, undefined)).not.toThrow()
  })

  it('select a matching tombstone over its value, else a value', () => {
    const token = newDeleteToken()
    const value = verifyValue(encodeValue(new Uint8Array([1]), { expiresAt: now + 1000, deleteToken: token }), { now })
    const tomb = verifyValue(encodeTombstone(token, now + 1000), { now })
    const stray = verifyValue(encodeTombstone(newDeleteToken(), now + 1000), { now })
    expect(selectValue([value, tomb])).toBe(1)
    expect(selectValue([stray, value])).toBe(1)
    expect(selectValue([undefined, stray])).toBe(1)
    expect(selectValue([undefined])).toBe(0)
  })

  it('refuse bad delete tokens when writing', () => {
    expect(() => encodeTombstone(new Uint8Array(3), now)).toThrow(named('MalformedValueError'))
    expect(() => encodeValue(new Uint8Array(1), { expiresAt: now, deleteToken: new Uint8Array(100) })).toThrow(named('MalformedValueError'))
  })
})
