import fc from 'fast-check'
import nacl from 'tweetnacl'
import { describe, expect, it } from 'vitest'
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../src/lib/bytes.ts'
import { canonicalEncode } from '../src/lib/canonical.ts'
import { signDetached } from '../src/lib/detached.ts'
import { isTrustError } from '../src/lib/errors.ts'
import { decodeRecord, encodeRecord, recordSigningBytes, type SignedRecord, signRecord, verifyRecord } from '../src/lib/record.ts'
import type { RecordType } from '../src/lib/types.ts'
import {
  account,
  bindingBody,
  certBody,
  device,
  expectOnlyTrustError,
  expectTrustError,
  HOUR,
  NOW,
  otherAccount,
  seededKey,
  sign,
} from './fixtures.ts'

const cert = () => sign('device-cert', certBody(), account)
const roundTrip = (r: SignedRecord) => decodeRecord(encodeRecord(r))

describe('signRecord / encodeRecord / decodeRecord / verifyRecord', () => {
  it('signs, encodes, decodes and verifies a record', () => {
    const r = cert()
    expect(r.signer).toBe(account.signer)
    expect(fromBase64Url(r.sig)).toHaveLength(64)
    expect(Object.keys(r)).toEqual(['type', 'v', 'signer', 'seq', 'issuedAt', 'expiresAt', 'body', 'sig'])
    const back = roundTrip(r)
    expect(back).toEqual(r)
    const v = verifyRecord(back, { now: NOW, type: 'device-cert', signer: account.signer, lastSeq: -1 })
    expect(v.body.deviceKey).toBe(device.signer)
    expect(v).toEqual(r)
  })

  it('signing bytes are the domain prefix then the canonical fields', () => {
    const r = cert()
    const { sig: _sig, ...unsigned } = r
    const want = concatBytes(utf8('baran.record.v1\0device-cert\0'), canonicalEncode(unsigned))
    expect(recordSigningBytes(unsigned)).toEqual(want)
    expect(nacl.sign.detached.verify(want, fromBase64Url(r.sig), account.publicKey)).toBe(true)
  })

  it('signRecord validates before signing, with the errors verifyRecord gives', () => {
    const base = { type: 'device-cert' as const, v: 1, seq: 0, issuedAt: NOW, expiresAt: NOW + HOUR, body: certBody() }
    const signWith = (over: Record<string, unknown>, key = account.secretKey) =>
      signRecord({ ...base, ...over } as typeof base, key)
    expectTrustError(() => signWith({ body: { ...certBody(), name: '' } }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signWith({ body: { ...certBody(), extra: 1 } }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signWith({ type: 'name-claim' }), 'UnknownRecordTypeError', 'unknown_type')
    expectTrustError(() => signWith({ v: 3 }), 'UnknownRecordTypeError', 'unknown_type')
    // Version 2 exists (with an encryption key): a version 1 body under it is malformed, not unknown.
    expectTrustError(() => signWith({ v: 2 }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signWith({ seq: -1 }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signWith({ seq: 1.5 }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signWith({ expiresAt: NOW - 1 }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signWith({ extra: 1 }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signWith({}, new Uint8Array(32)), 'MalformedRecordError', 'malformed')
  })

  it('re-signs a signed record: its old signer and sig are replaced', () => {
    const r = cert()
    const next = signRecord({ ...r, seq: r.seq + 1 }, otherAccount.secretKey)
    expect(next.signer).toBe(otherAccount.signer)
    expect(next.sig).not.toBe(r.sig)
    expect(verifyRecord(next, { now: NOW, signer: otherAccount.signer, lastSeq: r.seq }).seq).toBe(1)
  })

  describe('one rejection per code', () => {
    it('bad signature → BadSignatureError', () => {
      const r = cert()
      const other = sign('device-cert', certBody(account, device, 'phone'), account)
      expectTrustError(() => verifyRecord({ ...r, sig: other.sig }, { now: NOW }), 'BadSignatureError', 'bad_signature')
    })

    it('signed by another key than expected → WrongSignerError', () => {
      expectTrustError(() => verifyRecord(cert(), { now: NOW, signer: otherAccount.signer }), 'WrongSignerError', 'wrong_signer')
    })

    it('signer swapped for another key → BadSignatureError', () => {
      expectTrustError(() => verifyRecord({ ...cert(), signer: otherAccount.signer }, { now: NOW }), 'BadSignatureError', 'bad_signature')
    })

    it('expired → ExpiredRecordError (expiresAt <= now)', () => {
      const r = sign('device-cert', certBody(), account, { issuedAt: NOW - 2 * HOUR, expiresAt: NOW })
      expectTrustError(() => verifyRecord(r, { now: NOW }), 'ExpiredRecordError', 'expired')
      expect(verifyRecord(r, { now: NOW - 1 }).expiresAt).toBe(NOW)
    })

    it('issued in the future beyond the skew → NotYetValidError', () => {
      const r = sign('device-cert', certBody(), account, { issuedAt: NOW + 60_001, expiresAt: NOW + HOUR })
      expectTrustError(() => verifyRecord(r, { now: NOW }), 'NotYetValidError', 'not_yet_valid')
      expect(verifyRecord(r, { now: NOW + 1 }).issuedAt).toBe(NOW + 60_001) // within the default 60 s skew
      expectTrustError(() => verifyRecord(r, { now: NOW + 1, clockSkewMs: 0 }), 'NotYetValidError', 'not_yet_valid')
    })

    it('seq <= lastSeq → ReplayedRecordError', () => {
      const r = sign('device-cert', certBody(), account, { seq: 5 })
      expectTrustError(() => verifyRecord(r, { now: NOW, lastSeq: 5 }), 'ReplayedRecordError', 'replayed')
      expectTrustError(() => verifyRecord(r, { now: NOW, lastSeq: 6 }), 'ReplayedRecordError', 'replayed')
      expect(verifyRecord(r, { now: NOW, lastSeq: 4 }).seq).toBe(5)
    })

    it('unknown type → UnknownRecordTypeError', () => {
      expectTrustError(() => verifyRecord({ ...cert(), type: 'name-claim' }, { now: NOW }), 'UnknownRecordTypeError', 'unknown_type')
      expectTrustError(() => verifyRecord({ ...cert(), type: 'toString' }, { now: NOW }), 'UnknownRecordTypeError', 'unknown_type')
    })

    it('unknown version → UnknownRecordTypeError', () => {
      expectTrustError(() => verifyRecord({ ...cert(), v: 3 }, { now: NOW }), 'UnknownRecordTypeError', 'unknown_type')
    })

    it('expected another type → UnknownRecordTypeError', () => {
      expectTrustError(() => verifyRecord(cert(), { now: NOW, type: 'peer-binding' }), 'UnknownRecordTypeError', 'unknown_type')
    })

    it('malformed encoding → MalformedRecordError', () => {
      expectTrustError(() => decodeRecord(utf8('{"type": "device-cert"}')), 'MalformedRecordError', 'malformed')
      expectTrustError(() => decodeRecord(new Uint8Array([0xff])), 'MalformedRecordError', 'malformed')
      expectTrustError(() => decodeRecord(utf8('[]')), 'MalformedRecordError', 'malformed')
      expectTrustError(() => decodeRecord('{}' as unknown as Uint8Array), 'MalformedRecordError', 'malformed')
    })

    it('expiresAt before issuedAt → MalformedRecordError (after the time checks)', () => {
      // Built by hand: signRecord refuses such a record.
      const unsigned = { type: 'device-cert' as const, v: 1, signer: account.signer, seq: 0, issuedAt: NOW + 30_000, expiresAt: NOW + 10_000, body: certBody() }
      const r = { ...unsigned, sig: signDetached(recordSigningBytes(unsigned), account.secretKey) }
      expectTrustError(() => verifyRecord(r, { now: NOW }), 'MalformedRecordError', 'malformed')
      expectTrustError(() => verifyRecord(r, { now: NOW, clockSkewMs: 0 }), 'NotYetValidError', 'not_yet_valid')
      expectTrustError(() => verifyRecord(r, { now: NOW + 10_000 }), 'ExpiredRecordError', 'expired')
    })
  })

  it('rejects options that would disable a check (NaN now, negative skew) with MalformedRecordError', () => {
    const r = sign('device-cert', certBody(), account, { issuedAt: NOW - 2 * HOUR, expiresAt: NOW - HOUR })
    for (const opts of [{ now: Number.NaN }, { now: Number.POSITIVE_INFINITY }, { clockSkewMs: -1 }, { lastSeq: Number.NaN }, { type: 1 }, null]) {
      expectTrustError(() => verifyRecord(r, opts as never), 'MalformedRecordError', 'malformed')
    }
  })

  describe('envelope and body shape', () => {
    it.each([
      ['a missing field', (r: Record<string, unknown>) => { delete r.seq }],
      ['a missing body', (r: Record<string, unknown>) => { delete r.body }],
      ['an extra field', (r: Record<string, unknown>) => { r.extra = 1 }],
      ['a negative seq', (r: Record<string, unknown>) => { r.seq = -1 }],
      ['a float seq', (r: Record<string, unknown>) => { r.seq = 0.5 }],
      ['-0 seq', (r: Record<string, unknown>) => { r.seq = -0 }],
      ['a string issuedAt', (r: Record<string, unknown>) => { r.issuedAt = String(NOW) }],
      ['a short signer', (r: Record<string, unknown>) => { r.signer = 'abc' }],
      ['a non-canonical signer', (r: Record<string, unknown>) => { r.signer = `${account.signer.slice(0, 42)}B` }],
      ['a padded sig', (r: Record<string, unknown>) => { r.sig = `${r.sig}==` }],
      ['a numeric type', (r: Record<string, unknown>) => { r.type = 1 }],
    ])('rejects %s with MalformedRecordError', (_what, mutate) => {
      const r = { ...cert() } as Record<string, unknown>
      mutate(r)
      expectTrustError(() => verifyRecord(r, { now: NOW }), 'MalformedRecordError', 'malformed')
    })

    it('rejects non-objects', () => {
      for (const v of [null, undefined, 42, 'x', [], new Uint8Array(3)]) {
        expectTrustError(() => verifyRecord(v, { now: NOW }), 'MalformedRecordError', 'malformed')
      }
    })

    it('checks the body schema before the signer and the signature', () => {
      const r = cert()
      const bad = { ...r, body: { ...r.body, deviceId: 'nope' } }
      expectTrustError(() => verifyRecord(bad, { now: NOW, signer: otherAccount.signer }), 'MalformedRecordError', 'malformed')
    })

    it('checks the type before the body', () => {
      expectTrustError(() => verifyRecord({ ...cert(), type: 'nope', body: 1 }, { now: NOW }), 'UnknownRecordTypeError', 'unknown_type')
    })

    it('turns a throwing getter into MalformedRecordError', () => {
      const r = cert() as unknown as Record<string, unknown>
      const hostile = { ...r }
      Object.defineProperty(hostile, 'body', { enumerable: true, get() { throw new RangeError('boom') } })
      expectOnlyTrustError(() => verifyRecord(hostile, { now: NOW }))
    })

    it('decodeRecord enforces maxBytes (default 64 KiB)', () => {
      const bytes = encodeRecord(cert())
      expect(decodeRecord(bytes, { maxBytes: bytes.length })).toEqual(cert())
      expectTrustError(() => decodeRecord(bytes, { maxBytes: bytes.length - 1 }), 'MalformedRecordError', 'malformed')
      const big = utf8(`"${'a'.repeat(64 * 1024)}"`)
      expectTrustError(() => decodeRecord(big), 'MalformedRecordError', 'malformed')
    })

    it('decodeRecord does not verify the signature', () => {
      const r = { ...cert(), seq: 9 }
      expect(decodeRecord(encodeRecord(r)).seq).toBe(9)
      expectTrustError(() => verifyRecord(decodeRecord(encodeRecord(r)), { now: NOW }), 'BadSignatureError', 'bad_signature')
    })
  })

  describe('domain separation', () => {
    it('a signature over the fields without the type prefix does not verify', () => {
      const r = cert()
      const { sig: _sig, ...unsigned } = r
      const sig = signDetached(canonicalEncode(unsigned), account.secretKey)
      expectTrustError(() => verifyRecord({ ...r, sig }, { now: NOW }), 'BadSignatureError', 'bad_signature')
    })

    it('a signature made under another type prefix does not verify', () => {
      const r = sign('peer-binding', bindingBody(), device)
      const { sig: _sig, ...unsigned } = r
      const bytes = concatBytes(utf8('baran.record.v1\0presence\0'), canonicalEncode(unsigned))
      const sig = signDetached(bytes, device.secretKey)
      expectTrustError(() => verifyRecord({ ...r, sig }, { now: NOW }), 'BadSignatureError', 'bad_signature')
    })

    it('a peer-binding relabelled as presence (same signature) fails', () => {
      const r = sign('peer-binding', bindingBody(), device)
      const relabelled = { ...r, type: 'presence', body: { ...r.body, addrs: [] } }
      expectTrustError(() => verifyRecord(relabelled, { now: NOW }), 'BadSignatureError', 'bad_signature')
    })
  })
})

// ---- property tests ----

const key = fc.integer({ min: 10, max: 200 }).map(seededKey)
const idArb = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex'))
const keyStr = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toBase64Url)
const name = fc.string({ minLength: 1, maxLength: 64 })
const peerId = fc.string({ minLength: 1, maxLength: 128 })

const bodyArb: { [T in RecordType]: fc.Arbitrary<unknown> } = {
  'device-cert': fc.record({ accountId: idArb, deviceId: idArb, deviceKey: keyStr, name }),
  'peer-binding': fc.record({ accountId: idArb, deviceId: idArb, peerId }),
  revocations: fc.record({
    accountId: idArb,
    devices: fc.array(fc.record({ deviceId: idArb, revokedAt: fc.integer({ min: 0 }) }), { maxLength: 5 }),
  }),
  'device-list': fc.record({
    accountId: idArb,
    devices: fc.array(fc.record({ deviceId: idArb, deviceKey: keyStr, name }), { maxLength: 5 }),
  }),
  presence: fc.record({ accountId: idArb, deviceId: idArb, peerId, addrs: fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }) }),
}

const signedArb = fc
  .record({
    type: fc.constantFrom<RecordType>('device-cert', 'peer-binding', 'revocations', 'device-list', 'presence'),
    key,
    seq: fc.nat(),
    issuedAt: fc.integer({ min: NOW - 10 * HOUR, max: NOW }),
    ttl: fc.integer({ min: 1, max: 10 * HOUR }),
  })
  .chain((h) =>
    bodyArb[h.type].map((body) =>
      signRecord(
        { type: h.type, v: 1, seq: h.seq, issuedAt: h.issuedAt, expiresAt: NOW + h.ttl, body },
        h.key.secretKey,
      ),
    ),
  )

/** Decode and verify; a TrustError is the only acceptable way to fail. */
function decodeAndVerify(bytes: Uint8Array): 'ok' | 'rejected' {
  try {
    verifyRecord(decodeRecord(bytes), { now: NOW })
    return 'ok'
  } catch (e) {
    if (!isTrustError(e)) throw e
    return 'rejected'
  }
}

// Pure-JS Ed25519 is slow (a few ms per verify) and the CI machine is shared: generous timeouts.
describe('properties', { timeout: 180_000 }, () => {
  it('every generated record verifies after an encode/decode round trip', () => {
    fc.assert(
      fc.property(signedArb, (r) => {
        expect(decodeAndVerify(encodeRecord(r))).toBe('ok')
      }),
      { numRuns: 100 },
    )
  })

  it('any single-bit flip in the encoding is rejected with a TrustError', () => {
    fc.assert(
      fc.property(signedArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (r, pos, bit) => {
        const bytes = encodeRecord(r).slice()
        const i = pos % bytes.length
        bytes[i]! ^= 1 << bit
        expect(decodeAndVerify(bytes)).toBe('rejected')
      }),
      { numRuns: 200 },
    )
  })

  it('every single-bit flip of one record is rejected (exhaustive)', () => {
    const bytes = encodeRecord(cert())
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = bytes.slice()
        copy[i]! ^= 1 << bit
        expect(decodeAndVerify(copy), `byte ${i} bit ${bit}`).toBe('rejected')
      }
    }
  })

  it('changing any field of a signed record fails verification', () => {
    // Replace one top-level field, or one body field, by a different value of any JSON shape.
    const otherValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), idArb, keyStr, fc.nat(), fc.string())
    fc.assert(
      fc.property(signedArb, fc.nat(), otherValue, (r, pick, value) => {
        const rec = r as unknown as Record<string, unknown>
        const body = rec.body as Record<string, unknown>
        const fields = [...Object.keys(rec).map((k) => ['top', k]), ...Object.keys(body).map((k) => ['body', k])]
        const [where, field] = fields[pick % fields.length]!
        const target = where === 'top' ? rec : body
        fc.pre(JSON.stringify(target[field!]) !== JSON.stringify(value))
        const changed = where === 'top' ? { ...rec, [field!]: value } : { ...rec, body: { ...body, [field!]: value } }
        expectOnlyTrustError(() => verifyRecord(changed, { now: NOW }))
      }),
      { numRuns: 300 },
    )
  })

  it('a record re-signed with a changed field verifies only under its own signature', () => {
    fc.assert(
      fc.property(signedArb, fc.nat({ max: 1000 }), (r, delta) => {
        const later = signRecord({ ...r, seq: r.seq + delta + 1 }, seededKey(5).secretKey)
        expectTrustError(() => verifyRecord({ ...later, sig: r.sig }, { now: NOW }), 'BadSignatureError', 'bad_signature')
      }),
      { numRuns: 100 },
    )
  })
})

describe('fuzz', { timeout: 120_000 }, () => {
  it('random bytes into decodeRecord / verifyRecord only ever throw TrustError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
        expectOnlyTrustError(() => verifyRecord(decodeRecord(b)))
        expectOnlyTrustError(() => verifyRecord(b))
      }),
      { numRuns: 2000 },
    )
  })

  it('random values into verifyRecord / decodeRecord only ever throw TrustError', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withTypedArray: true, withMap: true, withSet: true, withDate: true, withNullPrototype: true }), (v) => {
        expectOnlyTrustError(() => verifyRecord(v, { now: NOW }))
        expectOnlyTrustError(() => decodeRecord(v as Uint8Array))
      }),
      { numRuns: 1000 },
    )
  })

  it('random JSON text shaped like a record only ever throws TrustError', () => {
    const recordLike = fc.record(
      {
        type: fc.oneof(fc.constantFrom('device-cert', 'presence', 'x', '__proto__', 'constructor'), fc.string()),
        v: fc.oneof(fc.constant(1), fc.integer(), fc.double()),
        signer: fc.oneof(keyStr, fc.string()),
        seq: fc.oneof(fc.nat(), fc.integer(), fc.double()),
        issuedAt: fc.oneof(fc.constant(NOW), fc.integer()),
        expiresAt: fc.oneof(fc.constant(NOW + HOUR), fc.integer()),
        body: fc.oneof(bodyArb['device-cert'], bodyArb.presence, fc.jsonValue({ maxDepth: 3 })),
        sig: fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }).map(toBase64Url), fc.string()),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(recordLike, (v) => {
        expectOnlyTrustError(() => verifyRecord(v, { now: NOW }))
        let bytes: Uint8Array
        try {
          bytes = canonicalEncode(v)
        } catch {
          return
        }
        expectOnlyTrustError(() => verifyRecord(decodeRecord(bytes), { now: NOW }))
      }),
      { numRuns: 1000 },
    )
  })
})
