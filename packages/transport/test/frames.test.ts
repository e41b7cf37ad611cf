import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  CloseCode,
  decodeFrame,
  encodeFrame,
  encodeVarint,
  type Frame,
  FrameDecoder,
  FrameType,
  MAX_ID_BYTES,
  MAX_REASON_BYTES,
  maxPayloadBytes,
} from '../src/index.ts'
import { truncateUtf8 } from '../src/lib/frames.ts'

const MAX = 4096

const idArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 16 })
  .filter((s) => new TextEncoder().encode(s).length <= MAX_ID_BYTES)
const reasonArb = fc.string({ maxLength: 40 })
const bytesArb = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max })
const closeCodeArb = fc.constantFrom(...(Object.keys(CloseCode) as Array<keyof typeof CloseCode>))

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .record({ deviceCert: bytesArb(1, 300), peerBinding: bytesArb(1, 300), revocations: fc.option(bytesArb(1, 300), { nil: undefined }) })
    .map(({ revocations, ...rest }): Frame =>
      revocations === undefined ? { type: 'hello', ...rest } : { type: 'hello', ...rest, revocations },
    ),
  fc.record({ id: idArb, payload: bytesArb(0, 1000) }).map((r): Frame => ({ type: 'envelope', ...r })),
  fc.record({ id: idArb, status: fc.constantFrom('stored' as const, 'duplicate' as const) }).map((r): Frame => ({ type: 'ack', ...r })),
  fc.record({ id: idArb, reason: reasonArb }).map((r): Frame => ({ type: 'ack', status: 'rejected', ...r })),
  fc.record({ code: closeCodeArb, reason: reasonArb }).map((r): Frame => ({ type: 'close', ...r })),
)

function decodeAll(bytes: Uint8Array, max = MAX): Frame[] {
  return new FrameDecoder(max).push(bytes).map(decodeFrame)
}

function errorOf(fn: () => unknown): { name: string; code: string } {
  try {
    fn()
  } catch (err) {
    return { name: (err as Error).name, code: (err as { code: string }).code }
  }
  throw new Error('expected an error')
}

describe('frames', () => {
  test('every frame round trips', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        expect(decodeAll(encodeFrame(frame, MAX))).toEqual([frame])
      }),
    )
  })

  test('decoding does not depend on how the byte stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
        const wire = Uint8Array.from(frames.flatMap((f) => [...encodeFrame(f, MAX)]))
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b)
        const decoder = new FrameDecoder(MAX)
        const out: Frame[] = []
        let prev = 0
        for (const p of [...points, wire.length]) {
          out.push(...decoder.push(wire.subarray(prev, p)).map(decodeFrame))
          prev = p
        }
        expect(out).toEqual(frames)
        expect(decoder.bufferedBytes).toBe(0)
      }),
    )
  })

  test('random bytes only ever parse or throw a TransportError, never crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          decodeAll(bytes, 512)
        } catch (err) {
          expect(['MalformedFrameError', 'FrameTooLargeError', 'UnknownFrameTypeError']).toContain((err as Error).name)
        }
        try {
          decodeFrame(bytes)
        } catch (err) {
          expect(['MalformedFrameError', 'UnknownFrameTypeError']).toContain((err as Error).name)
        }
      }),
      { numRuns: 500 },
    )
  })

  test('a single bit flip in a frame body never yields the original frame', () => {
    fc.assert(
      // every unknown CLOSE code byte decodes as 'unknown', so those frames are left out
      fc.property(frameArb.filter((f) => !(f.type === 'close' && f.code === 'unknown')), fc.nat(), fc.integer({ min: 0, max: 7 }), (frame, pos, bit) => {
        const body = new FrameDecoder(MAX).push(encodeFrame(frame, MAX))[0]!
        expect(decodeFrame(body)).toEqual(frame)
        const flipped = body.slice()
        flipped[pos % flipped.length]! ^= 1 << bit
        let decoded: Frame | Error
        try {
          decoded = decodeFrame(flipped)
        } catch (err) {
          decoded = err as Error
        }
        if (decoded instanceof Error) expect(decoded.name).toMatch(/MalformedFrameError|UnknownFrameTypeError/)
        else expect(decoded).not.toEqual(frame)
      }),
    )
  })

  test('an oversized length prefix is refused before any body byte arrives', () => {
    const decoder = new FrameDecoder(1024)
    expect(errorOf(() => decoder.push(encodeVarint(1025)))).toEqual({ name: 'FrameTooLargeError', code: 'frame_too_large' })
    // a frame of exactly the maximum is fine
    const ok = new FrameDecoder(1024)
    expect(ok.push(encodeVarint(1024))).toEqual([])
    expect(ok.push(new Uint8Array(1024))).toHaveLength(1)
  })

  test('empty frames and bad varints are malformed', () => {
    expect(errorOf(() => new FrameDecoder(MAX).push(Uint8Array.of(0)))).toEqual({ name: 'MalformedFrameError', code: 'malformed_frame' })
    expect(errorOf(() => new FrameDecoder(MAX).push(Uint8Array.of(0x80, 0x00)))).toMatchObject({ name: 'MalformedFrameError' })
  })

  test('unknown frame types have their own error', () => {
    expect(errorOf(() => decodeFrame(Uint8Array.of(0x7f, 1, 2)))).toEqual({ name: 'UnknownFrameTypeError', code: 'unknown_frame_type' })
  })

  test('strict field checks', () => {
    const e = FrameType.envelope
    // id length runs past the end
    expect(errorOf(() => decodeFrame(Uint8Array.of(e, 5, 0x61)))).toMatchObject({ name: 'MalformedFrameError' })
    // empty id
    expect(errorOf(() => decodeFrame(Uint8Array.of(e, 0)))).toMatchObject({ name: 'MalformedFrameError' })
    // id longer than 64 bytes
    expect(errorOf(() => decodeFrame(Uint8Array.of(e, 65, ...new Uint8Array(65).fill(0x61))))).toMatchObject({ name: 'MalformedFrameError' })
    // invalid UTF-8 id
    expect(errorOf(() => decodeFrame(Uint8Array.of(e, 1, 0xff)))).toMatchObject({ name: 'MalformedFrameError' })
    // ACK stored with trailing bytes, unknown status
    expect(errorOf(() => decodeFrame(Uint8Array.of(FrameType.ack, 1, 0x61, 0, 9)))).toMatchObject({ name: 'MalformedFrameError' })
    expect(errorOf(() => decodeFrame(Uint8Array.of(FrameType.ack, 1, 0x61, 7)))).toMatchObject({ name: 'MalformedFrameError' })
    // HELLO without a binding, HELLO with trailing bytes
    expect(errorOf(() => decodeFrame(Uint8Array.of(FrameType.hello, 1, 9, 0, 0)))).toMatchObject({ name: 'MalformedFrameError' })
    expect(errorOf(() => decodeFrame(Uint8Array.of(FrameType.hello, 1, 9, 1, 9, 0, 7)))).toMatchObject({ name: 'MalformedFrameError' })
    // CLOSE with an unknown code byte decodes as 'unknown' (forward compatible)
    expect(decodeFrame(Uint8Array.of(FrameType.close, 200))).toEqual({ type: 'close', code: 'unknown', reason: '' })
  })

  test('encoding validates envelopes and frame size', () => {
    const p = new Uint8Array(1)
    expect(errorOf(() => encodeFrame({ type: 'envelope', id: '', payload: p }, MAX))).toMatchObject({ name: 'InvalidEnvelopeError', code: 'invalid_envelope' })
    expect(errorOf(() => encodeFrame({ type: 'envelope', id: 'x'.repeat(65), payload: p }, MAX))).toMatchObject({ name: 'InvalidEnvelopeError' })
    expect(errorOf(() => encodeFrame({ type: 'envelope', id: 3 as unknown as string, payload: p }, MAX))).toMatchObject({ name: 'InvalidEnvelopeError' })
    expect(errorOf(() => encodeFrame({ type: 'envelope', id: 'a', payload: 'x' as unknown as Uint8Array }, MAX))).toMatchObject({ name: 'InvalidEnvelopeError' })
    const room = maxPayloadBytes('abc', MAX)
    expect(encodeFrame({ type: 'envelope', id: 'abc', payload: new Uint8Array(room) }, MAX).length).toBeGreaterThan(room)
    expect(errorOf(() => encodeFrame({ type: 'envelope', id: 'abc', payload: new Uint8Array(room + 1) }, MAX))).toMatchObject({ name: 'FrameTooLargeError' })
    expect(errorOf(() => encodeFrame({ type: 'nope' } as unknown as Frame, MAX))).toMatchObject({ name: 'UnknownFrameTypeError' })
  })

  test('ENVELOPE and ACK bytes are pinned, ASCII ids or not', () => {
    // length prefix, type, id length, id, then the payload or the status byte
    expect([...encodeFrame({ type: 'envelope', id: 'ab', payload: Uint8Array.of(9, 8) }, MAX)]).toEqual([6, 0x02, 2, 0x61, 0x62, 9, 8])
    expect([...encodeFrame({ type: 'ack', id: 'ab', status: 'duplicate' }, MAX)]).toEqual([5, 0x03, 2, 0x61, 0x62, 1])
    expect([...encodeFrame({ type: 'ack', id: 'é\u007f', status: 'stored' }, MAX)]).toEqual([6, 0x03, 3, 0xc3, 0xa9, 0x7f, 0])
    expect([...encodeFrame({ type: 'ack', id: 'ab', status: 'rejected', reason: 'no' }, MAX)]).toEqual([7, 0x03, 2, 0x61, 0x62, 2, 0x6e, 0x6f])
    // a 200-byte payload: a two-byte length prefix
    const big = encodeFrame({ type: 'envelope', id: 'x', payload: new Uint8Array(200) }, MAX)
    expect([...big.subarray(0, 5)]).toEqual([0xcb, 0x01, 0x02, 1, 0x78])
    expect(decodeAll(big)).toEqual([{ type: 'envelope', id: 'x', payload: new Uint8Array(200) }])
    // ids decode as UTF-8 whether ASCII, not, or broken
    expect(decodeFrame(Uint8Array.of(0x03, 3, 0xc3, 0xa9, 0x7f, 0))).toEqual({ type: 'ack', id: 'é\u007f', status: 'stored' })
    expect(decodeFrame(Uint8Array.of(0x03, 2, 0x61, 0x00, 0))).toEqual({ type: 'ack', id: 'a\u0000', status: 'stored' })
    expect(errorOf(() => decodeFrame(Uint8Array.of(0x03, 2, 0x61, 0xff, 0)))).toMatchObject({ name: 'MalformedFrameError' })
    expect(errorOf(() => encodeFrame({ type: 'ack', id: 'a', status: 'kept' as 'stored' }, MAX))).toMatchObject({ name: 'MalformedFrameError' })
    expect(errorOf(() => encodeFrame({ type: 'ack', id: 'ab', status: 'stored' }, 4))).toMatchObject({ name: 'FrameTooLargeError' })
  })

  test('a frame split after its length prefix, and frames after a partial one, decode whole', () => {
    const one = encodeFrame({ type: 'envelope', id: 'id-1', payload: Uint8Array.of(1, 2, 3) }, MAX)
    const two = encodeFrame({ type: 'ack', id: 'id-2', status: 'stored' }, MAX)
    const d = new FrameDecoder(MAX)
    expect(d.push(one.subarray(0, 1))).toEqual([])
    expect(d.push(one.subarray(1, 4))).toEqual([])
    const rest = new Uint8Array([...one.subarray(4), ...two, ...one.subarray(0, 2)])
    expect(d.push(rest).map(decodeFrame)).toEqual([decodeFrame(one.subarray(1)), decodeFrame(two.subarray(1))])
    expect(d.bufferedBytes).toBe(1) // the prefix is read: one body byte waits
    expect(d.push(one.subarray(2)).map(decodeFrame)).toEqual([decodeFrame(one.subarray(1))])
    expect(d.bufferedBytes).toBe(0)
  })

  test('reasons are cut to MAX_REASON_BYTES on a character boundary', () => {
    const long = 'é'.repeat(MAX_REASON_BYTES) // 2 bytes each
    const [frame] = decodeAll(encodeFrame({ type: 'close', code: 'normal', reason: long }, MAX))
    expect(frame).toMatchObject({ type: 'close', code: 'normal' })
    const reason = (frame as { reason: string }).reason
    expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(MAX_REASON_BYTES)
    expect(long.startsWith(reason)).toBe(true)
    expect(truncateUtf8('a€', 2)).toEqual(Uint8Array.of(0x61))
  })
})
