import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { idFromPublicKey, isId } from '../src/lib/ids.ts'
import { expectTrustError } from './fixtures.ts'

describe('idFromPublicKey', () => {
  it('is the first 20 bytes of SHA-512("baran.id.v1\\0" || key), as 40 lowercase hex', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const want = createHash('sha512').update('baran.id.v1\0').update(key).digest().subarray(0, 20).toString('hex')
        const id = idFromPublicKey(key)
        expect(id).toBe(want)
        expect(isId(id)).toBe(true)
      }),
    )
  })

  it('rejects a key that is not 32 bytes', () => {
    expectTrustError(() => idFromPublicKey(new Uint8Array(31)), 'MalformedRecordError', 'malformed')
    expectTrustError(() => idFromPublicKey('abc' as unknown as Uint8Array), 'MalformedRecordError', 'malformed')
  })
})

describe('isId', () => {
  it('accepts exactly 40 lowercase hex chars', () => {
    expect(isId('a'.repeat(40))).toBe(true)
    expect(isId('A'.repeat(40))).toBe(false)
    expect(isId('a'.repeat(39))).toBe(false)
    expect(isId('a'.repeat(41))).toBe(false)
    expect(isId(`${'a'.repeat(40)}\n`)).toBe(false)
    expect(isId(42)).toBe(false)
    expect(isId(undefined)).toBe(false)
  })
})
