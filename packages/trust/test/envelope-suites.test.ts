import { Chacha20Poly1305 } from '@hpke/chacha20poly1305'
import { describe, expect, it } from 'vitest'
import { concatBytes, toBase64Url, utf8 } from '../src/lib/bytes.ts'
import type { KeyPair } from '../src/lib/detached.ts'
import { ed25519Sign } from '../src/lib/ed25519.ts'
import { decryptEnvelope, ENVELOPE_DOMAIN, envelopeRecipientOf, openEnvelope, sealEnvelope, verifyEnvelope } from '../src/lib/envelope.ts'
import { isEnvelopeError } from '../src/lib/envelope-errors.ts'
import { decodeEnvelope, encodeEnvelopeBody, encodeEnvelopeHeader } from '../src/lib/envelope-format.ts'
import { encryptionKeyPairFromSeed, hpkeSuite, type X25519Implementation } from '../src/lib/hpke.ts'
import { encodeRecord, type SignedRecord } from '../src/lib/record.ts'
import { account, HOUR, NOW, otherAccount, seededKey, sign } from './fixtures.ts'

// Envelopes across the HPKE implementations (node:crypto, WebCrypto, pure JS), with the layout of
// docs/envelopes.md: info = "baran.envelope.v1\0" ‖ id, aad = recipient device ID ‖ sender device ID (raw bytes),
// the payload under the content key with a zero nonce and the header as aad.

interface TestDevice {
  key: KeyPair
  cert: SignedRecord
  encPrivateKey: Uint8Array
}

async function makeDevice(acc: KeyPair, n: number, over: { issuedAt?: number; expiresAt?: number } = {}): Promise<TestDevice> {
  const key = seededKey(n)
  const enc = await encryptionKeyPairFromSeed(new Uint8Array(32).fill(n + 100))
  const cert = sign('device-cert', { accountId: acc.id, deviceId: key.id, deviceKey: key.signer, name: `device ${n}`, encKey: toBase64Url(enc.publicKey) }, acc, { v: 2, ...over })
  return { key, cert, encPrivateKey: enc.privateKey }
}

const me = (d: TestDevice) => ({ deviceId: d.key.id, encPrivateKey: d.encPrivateKey })
const opts = { now: NOW }
const payload = utf8('sealed across implementations')
const hexBytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'))
const OTHERS: X25519Implementation[] = ['webcrypto', 'pure-js']

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    expect(isEnvelopeError(e), `not an EnvelopeError: ${String(e)}`).toBe(true)
    return (e as { reason: string }).reason
  }
  throw new Error('expected a refusal')
}

function seal(sender: TestDevice, recipients: TestDevice[], id = '01JSUITES000000000000000001', sentAt = NOW) {
  return sealEnvelope({
    id,
    payload,
    sentAt,
    sender: { deviceCert: sender.cert, deviceSecretKey: sender.key.secretKey },
    recipients: recipients.map((r) => envelopeRecipientOf(r.cert, opts)),
  })
}

/** An envelope whose key entries and payload another implementation sealed, signed by `sender`. */
async function sealWith(impl: X25519Implementation, sender: TestDevice, recipients: TestDevice[], id: string): Promise<Uint8Array> {
  const suite = await hpkeSuite(impl)
  const contentKey = new Uint8Array(32).fill(42)
  const info = utf8(ENVELOPE_DOMAIN + id)
  const sorted = [...recipients].sort((a, b) => (a.key.id < b.key.id ? -1 : 1))
  const entries = []
  for (const r of sorted) {
    const pk = await suite.kem.deserializePublicKey(new Uint8Array(Buffer.from((r.cert.body as { encKey: string }).encKey, 'base64url')))
    const s = await suite.seal({ recipientPublicKey: pk, info }, contentKey, concatBytes(hexBytes(r.key.id), hexBytes(sender.key.id)))
    entries.push({ deviceId: r.key.id, enc: new Uint8Array(s.enc), wrappedKey: new Uint8Array(s.ct) })
  }
  const header = encodeEnvelopeHeader({ id, sentAt: NOW, senderCert: encodeRecord(sender.cert), recipients: entries })
  const ciphertext = new Uint8Array(await suite.aead.createEncryptionContext(contentKey).seal(new Uint8Array(12), payload, header))
  const body = encodeEnvelopeBody(header, ciphertext)
  return concatBytes(body, ed25519Sign(concatBytes(utf8(ENVELOPE_DOMAIN), body), sender.key.secretKey))
}

/** The sender re-signs a changed envelope: its signature verifies, only the decryption can refuse it. */
function resigned(bytes: Uint8Array, sender: TestDevice, change: (e: ReturnType<typeof decodeEnvelope>) => void): Uint8Array {
  const e = decodeEnvelope(bytes)
  change(e)
  const header = encodeEnvelopeHeader({ id: e.id, sentAt: e.sentAt, senderCert: e.senderCert, recipients: e.recipients })
  const body = encodeEnvelopeBody(header, e.ciphertext)
  return concatBytes(body, ed25519Sign(concatBytes(utf8(ENVELOPE_DOMAIN), body), sender.key.secretKey))
}

describe('envelopes across HPKE implementations', () => {
  it('sealed with node:crypto, each entry opens with the WebCrypto and pure-JS suites (documented info and aad)', async () => {
    const sender = await makeDevice(account, 70)
    const recipients = [await makeDevice(otherAccount, 71), await makeDevice(otherAccount, 72)]
    const id = '01JSUITES000000000000000002'
    const envelope = decodeEnvelope(await seal(sender, recipients, id))
    for (const impl of OTHERS) {
      const suite = await hpkeSuite(impl)
      for (const r of recipients) {
        const entry = envelope.recipients.find((x) => x.deviceId === r.key.id)!
        const recipientKey = await suite.kem.deserializePrivateKey(r.encPrivateKey)
        const aad = concatBytes(hexBytes(r.key.id), hexBytes(sender.key.id))
        const contentKey = await suite.open({ recipientKey, enc: entry.enc, info: utf8(ENVELOPE_DOMAIN + id) }, entry.wrappedKey, aad)
        const pt = await new Chacha20Poly1305().createEncryptionContext(contentKey).open(new Uint8Array(12), envelope.ciphertext, envelope.header)
        expect(new TextDecoder().decode(pt), `${impl}, ${r.key.id}`).toBe('sealed across implementations')
      }
    }
  })

  it('sealed with the WebCrypto or pure-JS suite, openEnvelope (node:crypto) opens it', async () => {
    const sender = await makeDevice(account, 73)
    const r = await makeDevice(otherAccount, 74)
    for (const impl of OTHERS) {
      const bytes = await sealWith(impl, sender, [r], `01JSUITES-${impl}`)
      const opened = await openEnvelope(bytes, me(r), opts)
      expect(new TextDecoder().decode(opened.payload), impl).toBe('sealed across implementations')
      expect(opened.sender.deviceId).toBe(sender.key.id)
    }
  })
})

describe('bad input, with the node:crypto suite: the same typed refusals', () => {
  it('a recipient key that is not 32 bytes, or a small-order point, is malformed at sealing', async () => {
    const sender = await makeDevice(account, 75)
    const r = await makeDevice(otherAccount, 76)
    const key = envelopeRecipientOf(r.cert, opts)
    const sealTo = (encKey: string) =>
      sealEnvelope({ id: 'x1', payload, sentAt: NOW, sender: { deviceCert: sender.cert, deviceSecretKey: sender.key.secretKey }, recipients: [{ ...key, encKey }] })
    expect(await refusal(sealTo(toBase64Url(new Uint8Array(31))))).toBe('malformed')
    expect(await refusal(sealTo(toBase64Url(new Uint8Array(32))))).toBe('malformed')
    // the public key 1 is of order 4 too
    expect(await refusal(sealTo(toBase64Url(new Uint8Array([1, ...new Uint8Array(31)]))))).toBe('malformed')
  })

  it('the wrong private key, or a ciphertext, wrapped key or enc changed and re-signed: malformed, never opened', async () => {
    const sender = await makeDevice(account, 77)
    const r = await makeDevice(otherAccount, 78)
    const stranger = await makeDevice(otherAccount, 79)
    const bytes = await seal(sender, [r])
    expect(await refusal(openEnvelope(bytes, { deviceId: r.key.id, encPrivateKey: stranger.encPrivateKey }, opts))).toBe('malformed')
    expect(await refusal(openEnvelope(bytes, { deviceId: r.key.id, encPrivateKey: new Uint8Array(31) }, opts))).toBe('malformed')
    const changes: Array<(e: ReturnType<typeof decodeEnvelope>) => void> = [
      (e) => {
        e.ciphertext[3]! ^= 1
      },
      (e) => {
        e.recipients[0]!.wrappedKey[0]! ^= 1
      },
      (e) => {
        e.recipients[0]!.enc[5]! ^= 1
      },
      (e) => {
        e.recipients[0]!.enc.fill(0)
      },
    ]
    for (const change of changes) {
      const bad = resigned(bytes, sender, change)
      const verified = verifyEnvelope(bad, opts)
      expect(await refusal(decryptEnvelope(verified, me(r)))).toBe('malformed')
    }
  })
})

describe('remembered sender certificates', () => {
  it('a certificate that verified once is still refused once expired, before it is valid, and when revoked', async () => {
    const sender = await makeDevice(account, 80, { issuedAt: NOW - HOUR, expiresAt: NOW + HOUR })
    const r = await makeDevice(otherAccount, 81)
    const bytes = await seal(sender, [r])
    await expect(openEnvelope(bytes, me(r), opts)).resolves.toBeDefined()
    // expired: both the sealing and the opening side
    expect(await refusal(openEnvelope(bytes, me(r), { now: NOW + HOUR }))).toBe('bad-signature')
    await expect(seal(sender, [r], 'late', NOW + HOUR)).rejects.toMatchObject({ name: 'ExpiredRecordError' })
    // earlier than when it was remembered: verified again (issued more than the skew after this time)
    expect(await refusal(openEnvelope(bytes, me(r), { now: NOW - 2 * HOUR }))).toBe('bad-signature')
    await expect(seal(sender, [r], 'early', NOW - 2 * HOUR)).rejects.toMatchObject({ name: 'NotYetValidError' })
    // a smaller clock skew is another verdict: issued 30 s ahead passes with 60 s of skew, not with 1 s
    const ahead = await makeDevice(account, 82, { issuedAt: NOW + 30_000, expiresAt: NOW + HOUR })
    const early = await seal(ahead, [r], 'ahead')
    await expect(openEnvelope(early, me(r), opts)).resolves.toBeDefined()
    expect(await refusal(openEnvelope(early, me(r), { ...opts, clockSkewMs: 1000 }))).toBe('bad-signature')
    // a revocation list the caller knows still applies to a remembered certificate
    const revocations = sign('revocations', { accountId: account.id, devices: [{ deviceId: sender.key.id, revokedAt: NOW - 1 }] }, account)
    expect(await refusal(openEnvelope(bytes, me(r), { ...opts, revocationsFor: (id) => (id === account.id ? revocations : undefined) }))).toBe('revoked-sender')
    expect(() => envelopeRecipientOf(sender.cert, { ...opts, revocations })).toThrow(/revoked/)
    // and again without it
    await expect(openEnvelope(bytes, me(r), opts)).resolves.toBeDefined()
  })
})
