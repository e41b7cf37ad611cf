import { describe, expect, it } from 'vitest'
import { deriveKeys, SCRYPT_LIMITS, validateScryptParams } from '../src/index.ts'
import { FAST_KDF, rejection, thrown } from './helpers.ts'

const salt = new Uint8Array(16).fill(7)

describe('validateScryptParams', () => {
  it('accepts the defaults, twice their memory, and the test params', () => {
    validateScryptParams({ N: 2 ** 18, r: 8, p: 1 })
    validateScryptParams({ N: 2 ** 19, r: 8, p: 1 })
    validateScryptParams(FAST_KDF)
  })

  it.each([
    ['N not a power of two', { N: 5000, r: 8, p: 1 }],
    ['N too small', { N: 2 ** 9, r: 8, p: 1 }],
    ['N too large', { N: 2 ** 21, r: 8, p: 1 }],
    ['r zero', { N: 2 ** 12, r: 0, p: 1 }],
    ['r too large', { N: 2 ** 12, r: 33, p: 1 }],
    ['p too large', { N: 2 ** 12, r: 8, p: 17 }],
    ['too much memory', { N: 2 ** 20, r: 8, p: 1 }],
    ['float', { N: 4096.5, r: 8, p: 1 }],
    ['string', { N: '4096', r: 8, p: 1 }],
    ['null', null],
  ])('rejects %s', (_, params) => {
    const err = thrown(() => validateScryptParams(params))
    expect(err.name).toBe('InvalidKdfParamsError')
    expect((err as { code?: string }).code).toBe('invalid_kdf_params')
  })

  it('keeps the memory cap at or under 512 MiB', () => {
    expect(SCRYPT_LIMITS.maxMemBytes).toBeLessThanOrEqual(512 * 1024 ** 2)
  })
})

describe('deriveKeys', () => {
  it('is deterministic and splits a 32-byte key and a 16-byte check', async () => {
    const a = await deriveKeys('correct horse', salt, FAST_KDF)
    const b = await deriveKeys('correct horse', salt, FAST_KDF)
    expect(a.encKey).toHaveLength(32)
    expect(a.check).toHaveLength(16)
    expect(Buffer.from(a.encKey).equals(Buffer.from(b.encKey))).toBe(true)
    expect(Buffer.from(a.check).equals(Buffer.from(b.check))).toBe(true)
  })

  it('gives a different key and check for another password or salt', async () => {
    const a = await deriveKeys('correct horse', salt, FAST_KDF)
    const b = await deriveKeys('correct horsf', salt, FAST_KDF)
    const c = await deriveKeys('correct horse', new Uint8Array(16).fill(8), FAST_KDF)
    for (const other of [b, c]) {
      expect(Buffer.from(a.encKey).equals(Buffer.from(other.encKey))).toBe(false)
      expect(Buffer.from(a.check).equals(Buffer.from(other.check))).toBe(false)
    }
  })

  it('normalises passwords to NFC (composed and decomposed é derive the same key)', async () => {
    const a = await deriveKeys('caf\u00e9', salt, FAST_KDF)
    const b = await deriveKeys('cafe\u0301', salt, FAST_KDF)
    expect(Buffer.from(a.encKey).equals(Buffer.from(b.encKey))).toBe(true)
  })

  it('rejects bad params and a non-string password with typed errors', async () => {
    expect((await rejection(deriveKeys('x', salt, { N: 3, r: 1, p: 1 }))).name).toBe('InvalidKdfParamsError')
    expect((await rejection(deriveKeys(42 as unknown as string, salt, FAST_KDF))).name).toBe('InvalidArgumentError')
  })
})
