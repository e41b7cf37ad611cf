import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesEqual, concatBytes, fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from '../src/lib/bytes.ts'
import { expectTrustError } from './fixtures.ts'

describe('base64url', () => {
  it('matches Node Buffer base64url and round trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const s = toBase64Url(b)
        expect(s).toBe(Buffer.from(b).toString('base64url'))
        expect(fromBase64Url(s)).toEqual(b)
      }),
    )
  })

  it('decodes known vectors', () => {
    expect(toBase64Url(utf8(''))).toBe('')
    expect(toBase64Url(utf8('f'))).toBe('Zg')
    expect(toBase64Url(utf8('fo'))).toBe('Zm8')
    expect(toBase64Url(utf8('foo'))).toBe('Zm9v')
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8')
  })

  it.each([
    ['padding', 'Zg=='],
    ['standard alphabet +', 'a+b/'],
    ['space', 'Zm9 '],
    ['impossible length', 'Zm9vY'],
    ['non-canonical trailing bits', 'Zh'],
    ['non-ASCII', 'Zm9é'],
  ])('rejects %s with MalformedRecordError', (_what, s) => {
    expectTrustError(() => fromBase64Url(s), 'MalformedRecordError', 'malformed')
  })

  it('rejects a non-string', () => {
    expectTrustError(() => fromBase64Url(42 as unknown as string), 'MalformedRecordError', 'malformed')
  })

  it('accepts only strings that are some encoding, and then exactly that encoding', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (s) => {
        let b: Uint8Array
        try {
          b = fromBase64Url(s)
        } catch (e) {
          expect((e as Error).name).toBe('MalformedRecordError')
          return
        }
        expect(toBase64Url(b)).toBe(s)
      }),
    )
  })
})

describe('hex', () => {
  it('round trips, lowercase', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const h = toHex(b)
        expect(h).toBe(Buffer.from(b).toString('hex'))
        expect(fromHex(h)).toEqual(b)
        expect(fromHex(h.toUpperCase())).toEqual(b)
      }),
    )
  })

  it.each([['odd length', 'abc'], ['non-hex', 'zz'], ['0x prefix', '0x00'], ['space', ' 0']])('rejects %s', (_w, s) => {
    expectTrustError(() => fromHex(s), 'MalformedRecordError', 'malformed')
  })
})

describe('utf8, concatBytes, bytesEqual', () => {
  it('utf8 encodes like Buffer', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(utf8(s)).toEqual(new Uint8Array(Buffer.from(s, 'utf8')))
      }),
    )
  })

  it('concatenates in order', () => {
    expect(concatBytes()).toEqual(new Uint8Array())
    expect(concatBytes(new Uint8Array([1]), new Uint8Array(), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('compares bytes', () => {
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true)
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false)
    expect(bytesEqual(new Uint8Array([1]), new Uint8Array([1, 0]))).toBe(false)
  })
})
