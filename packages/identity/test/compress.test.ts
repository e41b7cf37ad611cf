import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compress, decompress } from '../src/index.ts'
import { thrown } from './helpers.ts'

describe('compress / decompress', () => {
  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (data) => {
        expect(Buffer.from(decompress(compress(data))).equals(Buffer.from(data))).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('shrinks repetitive JSON', () => {
    const json = new TextEncoder().encode(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ accountId: 'ab'.repeat(20), i }))))
    expect(compress(json).length).toBeLessThan(json.length / 5)
  })

  it('refuses output over the cap (decompression bomb)', () => {
    const bomb = compress(new Uint8Array(2 * 1024 * 1024))
    const err = thrown(() => decompress(bomb, 1024 * 1024))
    expect(err.name).toBe('MalformedArchiveError')
  })

  it('gives MalformedArchiveError, never a crash, for garbage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (data) => {
        try {
          decompress(data)
        } catch (err) {
          expect((err as Error).name).toBe('MalformedArchiveError')
        }
      }),
      { numRuns: 300 },
    )
  })
})
