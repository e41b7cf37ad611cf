import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decodeVarint, encodeVarint } from '../src/index.ts'
import { MAX_VARINT, varintLength } from '../src/lib/varint.ts'

function expectMalformed(fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    expect((err as Error).name).toBe('MalformedFrameError')
    expect((err as { code: string }).code).toBe('malformed_frame')
    return
  }
  throw new Error('expected MalformedFrameError')
}

describe('varint', () => {
  test('round trips every 32-bit value with its minimal length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_VARINT }), (n) => {
        const bytes = encodeVarint(n)
        expect(bytes.length).toBe(varintLength(n))
        expect(decodeVarint(bytes)).toEqual({ value: n, bytes: bytes.length })
      }),
    )
  })

  test('known encodings', () => {
    expect([...encodeVarint(0)]).toEqual([0])
    expect([...encodeVarint(127)]).toEqual([127])
    expect([...encodeVarint(128)]).toEqual([0x80, 0x01])
    expect([...encodeVarint(300)]).toEqual([0xac, 0x02])
    expect([...encodeVarint(MAX_VARINT)]).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f])
  })

  test('a truncated varint asks for more bytes', () => {
    expect(decodeVarint(Uint8Array.of(0x80))).toBeUndefined()
    expect(decodeVarint(new Uint8Array(0))).toBeUndefined()
  })

  test('rejects non-minimal, over-long and over-32-bit varints', () => {
    expectMalformed(() => decodeVarint(Uint8Array.of(0x80, 0x00)))
    expectMalformed(() => decodeVarint(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f)))
    expectMalformed(() => decodeVarint(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)))
  })

  test('refuses to encode negative, fractional or too large values', () => {
    for (const bad of [-1, 1.5, MAX_VARINT + 1, Number.NaN]) expectMalformed(() => encodeVarint(bad))
  })

  test('random bytes only ever decode or throw MalformedFrameError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), (bytes) => {
        try {
          const r = decodeVarint(bytes)
          if (r !== undefined) expect([...encodeVarint(r.value)]).toEqual([...bytes.subarray(0, r.bytes)])
        } catch (err) {
          expect((err as Error).name).toBe('MalformedFrameError')
        }
      }),
    )
  })
})
