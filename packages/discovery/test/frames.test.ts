import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeFrame, encodeFrame, type Frame, MAX_FRAME_BYTES } from '../src/index.ts'

const key = `/baran-presence/${'c'.repeat(40)}`

describe('listen frames', () => {
  it('round-trip every frame kind', () => {
    const frames: Frame[] = [
      { t: 'sub', key, ttlMs: 60_000 },
      { t: 'unsub', key },
      { t: 'push', key, value: 'AAEC' },
      { t: 'ok', ttlMs: 5, value: 'AA' },
      { t: 'ok' },
      { t: 'err', code: 'subscription_refused', message: 'full' },
    ]
    for (const f of frames) expect(decodeFrame(encodeFrame(f))).toEqual(f)
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.nat(), (k, ttlMs) => {
        const f: Frame = { t: 'sub', key: k, ttlMs }
        expect(decodeFrame(encodeFrame(f))).toEqual(f)
      }),
    )
  })

  it('refuse anything else with MalformedFrameError', () => {
    const bad = ['', 'null', '[]', '{"t":"sub"}', '{"t":"sub","key":"k","ttlMs":-1}', '{"t":"nope"}', '{"t":"ok","extra":1}', '{"t":"push","key":"k","value":"*"}']
    for (const s of bad) {
      expect(() => decodeFrame(new TextEncoder().encode(s))).toThrow(expect.objectContaining({ name: 'MalformedFrameError', code: 'malformed_frame' }))
    }
    expect(() => decodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(expect.objectContaining({ name: 'MalformedFrameError' }))
    expect(() => decodeFrame(new Uint8Array([0xff, 0xfe]))).toThrow(expect.objectContaining({ name: 'MalformedFrameError' }))
  })

  it('never throw anything but MalformedFrameError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeFrame(bytes)
        } catch (err) {
          expect((err as Error).name).toBe('MalformedFrameError')
        }
      }),
    )
  })
})
