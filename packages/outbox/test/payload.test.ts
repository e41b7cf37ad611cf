import { canonicalEncode } from '@baran/trust'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_BODY_BYTES, MAX_PAYLOAD_BYTES } from '../src/lib/constants.ts'
import { createIdGenerator } from '../src/lib/ids.ts'
import { bodyBytes, decodePayload, encodePayload, type MessagePayload, type Payload } from '../src/lib/payload.ts'

const hex40 = fc.stringMatching(/^[0-9a-f]{40}$/)
const msgId = fc.integer({ min: 0, max: 2 ** 47 }).map((t) => createIdGenerator({ now: () => t })())
const time = fc.integer({ min: 0, max: 2 ** 45 })

const messageArb: fc.Arbitrary<Payload> = fc
  .record({ id: msgId, from: hex40, fromDevice: hex40, to: hex40, body: fc.string({ unit: 'grapheme', maxLength: 200 }), sentAt: time, ttl: fc.integer({ min: 0, max: 86_400_000 * 30 }), sync: fc.boolean() })
  .map(({ ttl, ...m }) => ({ v: 1, kind: 'message', ...m, expiresAt: m.sentAt + ttl }))
const receiptArb: fc.Arbitrary<Payload> = fc
  .record({ id: msgId, ref: msgId, from: hex40, fromDevice: hex40, to: hex40, at: time })
  .map((r) => ({ v: 1, kind: 'receipt', receipt: 'read', ...r }))

const base: MessagePayload = {
  v: 1,
  kind: 'message',
  id: createIdGenerator({ now: () => 1_700_000_000_000 })(),
  from: 'a'.repeat(40),
  fromDevice: 'b'.repeat(40),
  to: 'c'.repeat(40),
  body: 'hello',
  sentAt: 1_700_000_000_000,
  expiresAt: 1_700_000_100_000,
  sync: false,
}
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe('payload', () => {
  it('round-trips messages and receipts (property)', () => {
    fc.assert(
      fc.property(fc.oneof(messageArb, receiptArb), (p) => {
        expect(decodePayload(encodePayload(p))).toEqual(p)
      }),
    )
  })

  it('is canonical: the same payload always encodes to the same bytes, keys sorted', () => {
    const a = encodePayload(base)
    const b = encodePayload({ ...base })
    expect(a).toEqual(b)
    expect(new TextDecoder().decode(a).startsWith('{"body":"hello","expiresAt":')).toBe(true)
  })

  it('never crashes on random bytes: only typed errors (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodePayload(bytes)
        } catch (e) {
          expect(['malformed_payload', 'unsupported_version', 'payload_too_large', 'body_too_large']).toContain((e as { code: string }).code)
        }
      }),
    )
  })

  it('never crashes on random JSON values: only typed errors (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        let bytes: Uint8Array
        try {
          bytes = canonicalEncode(v)
        } catch {
          bytes = enc(v)
        }
        try {
          decodePayload(bytes)
        } catch (e) {
          expect((e as Error).name).toMatch(/PayloadError|PayloadVersionError|TooLargeError/)
        }
      }),
    )
  })

  it('refuses non-canonical, wrong-shape, extra-key and unknown-version payloads', () => {
    const cases: Array<[Uint8Array, string, string]> = [
      [enc(base), 'MalformedPayloadError', 'malformed_payload'], // key order not canonical
      [new TextEncoder().encode('not json'), 'MalformedPayloadError', 'malformed_payload'],
      [canonicalEncode([1, 2]), 'MalformedPayloadError', 'malformed_payload'],
      [canonicalEncode({ ...base, v: 2 }), 'UnsupportedPayloadVersionError', 'unsupported_version'],
      [canonicalEncode(Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'v'))), 'MalformedPayloadError', 'malformed_payload'],
      [canonicalEncode({ ...base, extra: 1 }), 'MalformedPayloadError', 'malformed_payload'],
      [canonicalEncode({ ...base, from: 'A'.repeat(40) }), 'MalformedPayloadError', 'malformed_payload'],
      [canonicalEncode({ ...base, id: 'not-an-id' }), 'MalformedPayloadError', 'malformed_payload'],
      [canonicalEncode({ ...base, kind: 'other' }), 'MalformedPayloadError', 'malformed_payload'],
      [canonicalEncode({ ...base, expiresAt: base.sentAt + 400 * 86_400_000 }), 'MalformedPayloadError', 'malformed_payload'],
    ]
    for (const [bytes, name, code] of cases) {
      expect(() => decodePayload(bytes)).toThrow(expect.objectContaining({ name, code }))
    }
  })

  it('limits the body to 64 KiB of UTF-8 and the encoding to 192 KiB', () => {
    const atLimit = 'x'.repeat(MAX_BODY_BYTES)
    expect(decodePayload(encodePayload({ ...base, body: atLimit }))).toMatchObject({ body: atLimit })
    // 2-byte characters: the limit is bytes, not characters
    const wide = 'é'.repeat(MAX_BODY_BYTES / 2 + 1)
    expect(bodyBytes(wide)).toBeGreaterThan(MAX_BODY_BYTES)
    expect(() => encodePayload({ ...base, body: wide })).toThrow(expect.objectContaining({ name: 'BodyTooLargeError', code: 'body_too_large' }))
    expect(() => decodePayload(canonicalEncode({ ...base, body: `${atLimit}x` }))).toThrow(expect.objectContaining({ code: 'body_too_large' }))
    // control characters escape to 6 bytes each: a legal body can still exceed the wire limit
    const escaped = '\u0001'.repeat(MAX_BODY_BYTES)
    expect(() => encodePayload({ ...base, body: escaped })).toThrow(expect.objectContaining({ name: 'PayloadTooLargeError', code: 'payload_too_large' }))
    expect(() => decodePayload(new Uint8Array(MAX_PAYLOAD_BYTES + 1))).toThrow(expect.objectContaining({ code: 'payload_too_large' }))
  })

  it('refuses to encode an invalid payload', () => {
    expect(() => encodePayload({ ...base, sentAt: 1.5 })).toThrow(expect.objectContaining({ code: 'malformed_payload' }))
    expect(() => decodePayload('text' as never)).toThrow(expect.objectContaining({ code: 'malformed_payload' }))
  })
})
