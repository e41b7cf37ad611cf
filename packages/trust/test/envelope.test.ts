import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toBase64Url } from '../src/lib/bytes.ts'
import { verifyChain } from '../src/lib/chain.ts'
import type { KeyPair } from '../src/lib/detached.ts'
import { decryptEnvelope, envelopeRecipientOf, openEnvelope, sealEnvelope, verifyEnvelope } from '../src/lib/envelope.ts'
import { isEnvelopeError } from '../src/lib/envelope-errors.ts'
import { decodeEnvelope, ENVELOPE_RECIPIENT_BYTES, MAX_ENVELOPE_BYTES, MAX_ENVELOPE_RECIPIENTS } from '../src/lib/envelope-format.ts'
import { encryptionKeyPairFromSeed, hpkeSuite } from '../src/lib/hpke.ts'
import type { SignedRecord } from '../src/lib/record.ts'
import { account, HOUR, NOW, otherAccount, seededKey, sign } from './fixtures.ts'

interface TestDevice {
  key: KeyPair
  cert: SignedRecord
  encPrivateKey: Uint8Array
}

async function makeDevice(acc: KeyPair, n: number, v: 1 | 2 = 2): Promise<TestDevice> {
  const key = seededKey(n)
  const enc = await encryptionKeyPairFromSeed(new Uint8Array(32).fill(n + 100))
  const body = { accountId: acc.id, deviceId: key.id, deviceKey: key.signer, name: `device ${n}`, ...(v === 2 ? { encKey: toBase64Url(enc.publicKey) } : {}) }
  const cert = sign('device-cert', body, acc, { v })
  return { key, cert, encPrivateKey: enc.privateKey }
}

const me = (d: TestDevice) => ({ deviceId: d.key.id, encPrivateKey: d.encPrivateKey })
const opts = { now: NOW }
const payload = new TextEncoder().encode('hello from the sender device')

async function sealed(sender: TestDevice, recipients: TestDevice[], p = payload, id = '01JTESTMESSAGE0000000000001') {
  return sealEnvelope({
    id,
    payload: p,
    sentAt: NOW,
    sender: { deviceCert: sender.cert, deviceSecretKey: sender.key.secretKey },
    recipients: recipients.map((r) => envelopeRecipientOf(r.cert, opts)),
  })
}

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    expect(isEnvelopeError(e), `not an EnvelopeError: ${String(e)}`).toBe(true)
    return (e as { reason: string }).reason
  }
  throw new Error('expected a refusal')
}

describe('device-cert versions', () => {
  it('version 2 carries the encryption key, signed with the rest; version 1 still verifies', async () => {
    const v2 = await makeDevice(account, 10)
    const v1 = await makeDevice(account, 11, 1)
    expect(verifyChain({ deviceCert: v2.cert, now: NOW }).encKey).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const chain1 = verifyChain({ deviceCert: v1.cert, now: NOW })
    expect(chain1.deviceId).toBe(v1.key.id)
    expect(chain1.encKey).toBeUndefined()
  })

  it('a v1 record with an encKey, or a v2 record without one, is malformed; v3 is unknown', async () => {
    const d = await makeDevice(account, 12)
    const body = d.cert.body as Record<string, string>
    expect(() => sign('device-cert', body as never, account, { v: 1 })).toThrow(/device-cert v1 body/)
    const { encKey: _e, ...v1Body } = body
    expect(() => sign('device-cert', v1Body as never, account, { v: 2 })).toThrow(/device-cert v2 body/)
    expect(() => sign('device-cert', body as never, account, { v: 3 })).toThrow(/unknown version 3/)
    // Changing the encryption key breaks the account's signature.
    const swapped = { ...d.cert, body: { ...body, encKey: toBase64Url(new Uint8Array(32).fill(1)) } }
    expect(() => verifyChain({ deviceCert: swapped, now: NOW })).toThrow(/bad signature/)
  })
})

describe('sealed envelopes', () => {
  it('sealed to three devices (two accounts), each opens it and learns the verified sender', async () => {
    const sender = await makeDevice(account, 20)
    const recipients = [await makeDevice(account, 21), await makeDevice(otherAccount, 22), await makeDevice(otherAccount, 23)]
    const bytes = await sealed(sender, recipients)
    for (const r of recipients) {
      const opened = await openEnvelope(bytes, me(r), opts)
      expect(new TextDecoder().decode(opened.payload)).toBe('hello from the sender device')
      expect(opened.sender).toMatchObject({ accountId: account.id, deviceId: sender.key.id })
      expect(opened.id).toBe('01JTESTMESSAGE0000000000001')
      expect(opened.sentAt).toBe(NOW)
    }
    const fourth = await makeDevice(otherAccount, 24)
    expect(await refusal(openEnvelope(bytes, me(fourth), opts))).toBe('not-for-this-device')
    // Anyone can verify who sent it without a key.
    expect(verifyEnvelope(bytes, opts).recipients.sort()).toEqual(recipients.map((r) => r.key.id).sort())
  })

  it('grows by one fixed-size entry per recipient, not by the payload', async () => {
    const sender = await makeDevice(account, 30)
    const devices = await Promise.all([31, 32, 33, 34, 35].map((n) => makeDevice(otherAccount, n)))
    const big = new Uint8Array(1024).fill(7)
    const one = await sealed(sender, devices.slice(0, 1), big)
    const five = await sealed(sender, devices, big)
    expect(five.length - one.length).toBe(4 * ENVELOPE_RECIPIENT_BYTES)
    expect(one.length - big.length).toBeLessThan(1024)
  })

  it('a flipped bit anywhere (id, sender chain, recipient entry, ciphertext, signature) is refused, never opened', async () => {
    const sender = await makeDevice(account, 40)
    const r = await makeDevice(otherAccount, 41)
    const bytes = await sealed(sender, [r])
    const reasons = new Set<string>()
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice()
      bad[i]! ^= 1 << (i % 8)
      let reason: string | undefined
      try {
        verifyEnvelope(bad, opts)
      } catch (e) {
        expect(isEnvelopeError(e), `byte ${i}: ${String(e)}`).toBe(true)
        reason = (e as { reason: string }).reason
      }
      expect(reason, `byte ${i} of ${bytes.length} accepted`).toBeDefined()
      expect(['bad-signature', 'malformed', 'too-large', 'revoked-sender']).toContain(reason)
      reasons.add(reason!)
    }
    expect([...reasons].sort()).toEqual(['bad-signature', 'malformed'])
  })

  it('a recipient that re-signs the envelope as itself cannot pass it off: the key entry is bound to the sender', async () => {
    const sender = await makeDevice(account, 50)
    const thief = await makeDevice(otherAccount, 51)
    const victim = await makeDevice(otherAccount, 52)
    const original = decodeEnvelope(await sealed(sender, [thief, victim]))
    // The thief swaps in its own certificate and signs: the signature verifies, the entries do not open.
    const { encodeEnvelopeBody, encodeEnvelopeHeader } = await import('../src/lib/envelope-format.ts')
    const { encodeRecord } = await import('../src/lib/record.ts')
    const { ed25519Sign } = await import('../src/lib/ed25519.ts')
    const { concatBytes, utf8 } = await import('../src/lib/bytes.ts')
    const header = encodeEnvelopeHeader({ id: original.id, sentAt: original.sentAt, senderCert: encodeRecord(thief.cert), recipients: original.recipients })
    const body = encodeEnvelopeBody(header, original.ciphertext)
    const forged = concatBytes(body, ed25519Sign(concatBytes(utf8('baran.envelope.v1\0'), body), thief.key.secretKey))
    const verified = verifyEnvelope(forged, opts)
    expect(verified.sender.deviceId).toBe(thief.key.id)
    expect(await refusal(decryptEnvelope(verified, me(victim)))).toBe('malformed')
  })

  it('a revoked sender is refused when the caller knows the revocation', async () => {
    const sender = await makeDevice(account, 60)
    const r = await makeDevice(otherAccount, 61)
    const bytes = await sealed(sender, [r])
    const revocations = sign('revocations', { accountId: account.id, devices: [{ deviceId: sender.key.id, revokedAt: NOW - 1 }] }, account)
    const revocationsFor = (id: string) => (id === account.id ? revocations : undefined)
    expect(await refusal(openEnvelope(bytes, me(r), { ...opts, revocationsFor }))).toBe('revoked-sender')
    const others = sign('revocations', { accountId: account.id, devices: [] }, account)
    await expect(openEnvelope(bytes, me(r), { ...opts, revocationsFor: () => others })).resolves.toBeDefined()
  })

  it('a revocation list verified once still decides every time: other devices, a newer list, another signer, its expiry, a forgery', async () => {
    const sender = await makeDevice(account, 62)
    const other = await makeDevice(account, 63)
    const r = await makeDevice(otherAccount, 64)
    const fromSender = await sealed(sender, [r])
    const fromOther = await sealed(other, [r], payload, '01JTESTMESSAGE0000000000002')
    const list = sign('revocations', { accountId: account.id, devices: [{ deviceId: sender.key.id, revokedAt: NOW - 1 }] }, account, { expiresAt: NOW + HOUR / 2 })
    const with_ = (rev: unknown, now = NOW) => ({ now, revocationsFor: (id: string) => (id === account.id ? rev : undefined) })
    // the same list, over and over (remembered after the first): the listed device refused each time, the other not
    for (let i = 0; i < 3; i++) {
      expect(await refusal(openEnvelope(fromSender, me(r), with_(list)))).toBe('revoked-sender')
      await expect(openEnvelope(fromOther, me(r), with_(list))).resolves.toBeDefined()
    }
    // a newer list that also revokes the other device
    const newer = sign('revocations', { accountId: account.id, devices: [{ deviceId: sender.key.id, revokedAt: NOW - 1 }, { deviceId: other.key.id, revokedAt: NOW }] }, account, { seq: 2, expiresAt: NOW + HOUR })
    expect(await refusal(openEnvelope(fromOther, me(r), with_(newer)))).toBe('revoked-sender')
    // the same body signed by another account's key, a forged signature, the list past its expiry: not a list of this account
    const foreign = sign('revocations', { accountId: account.id, devices: [] }, otherAccount)
    expect(await refusal(openEnvelope(fromOther, me(r), with_(foreign)))).toBe('bad-signature')
    const forged = { ...list, sig: newer.sig }
    expect(await refusal(openEnvelope(fromOther, me(r), with_(forged)))).toBe('bad-signature')
    await expect(openEnvelope(fromOther, me(r), { now: NOW + HOUR / 2 })).resolves.toBeDefined()
    expect(await refusal(() => verifyEnvelope(fromOther, with_(list, NOW + HOUR / 2)))).toBe('bad-signature')
    // the same when sealing to a device of that account (envelopeRecipientOf)
    expect(() => envelopeRecipientOf(sender.cert, { now: NOW, revocations: list })).toThrow(/revoked/)
    expect(envelopeRecipientOf(other.cert, { now: NOW, revocations: list }).deviceId).toBe(other.key.id)
    expect(() => envelopeRecipientOf(other.cert, { now: NOW, revocations: newer })).toThrow(/revoked/)
  })

  it('an expired sender certificate or a signature from another key is bad-signature', async () => {
    const sender = await makeDevice(account, 70)
    const r = await makeDevice(otherAccount, 71)
    const bytes = await sealed(sender, [r])
    expect(await refusal(() => verifyEnvelope(bytes, { now: NOW + 2 * HOUR }))).toBe('bad-signature')
    await expect(
      sealEnvelope({ id: 'x', payload, sentAt: NOW, sender: { deviceCert: sender.cert, deviceSecretKey: r.key.secretKey }, recipients: [envelopeRecipientOf(r.cert, opts)] }),
    ).rejects.toThrow(/not the key of its certificate/)
  })

  it('limits: payload over 64 KiB, more than 128 recipients, bytes over 64 KiB are too-large; v1 recipients have no key', async () => {
    const sender = await makeDevice(account, 80)
    const r = await makeDevice(otherAccount, 81)
    expect(await refusal(sealed(sender, [r], new Uint8Array(MAX_ENVELOPE_BYTES)))).toBe('too-large')
    expect(await refusal(sealed(sender, [r], new Uint8Array(MAX_ENVELOPE_BYTES - 100)))).toBe('too-large')
    const key = envelopeRecipientOf(r.cert, opts)
    const many = Array.from({ length: MAX_ENVELOPE_RECIPIENTS + 1 }, (_, i) => ({ ...key, deviceId: i.toString(16).padStart(40, '0') }))
    const tooMany = sealEnvelope({ id: 'm', payload, sentAt: NOW, sender: { deviceCert: sender.cert, deviceSecretKey: sender.key.secretKey }, recipients: many })
    expect(await refusal(tooMany)).toBe('too-large')
    expect(await refusal(() => verifyEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1), opts))).toBe('too-large')
    const old = await makeDevice(otherAccount, 82, 1)
    expect(() => envelopeRecipientOf(old.cert, opts)).toThrow(expect.objectContaining({ name: 'NoEncryptionKeyError' }))
  })

  it('garbage of any shape gives only envelope errors', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.anything()), (junk) => {
        try {
          verifyEnvelope(junk, opts)
        } catch (e) {
          if (!isEnvelopeError(e)) throw e
          return
        }
        throw new Error('garbage accepted')
      }),
      { numRuns: 500 },
    )
  })

  it('the WebCrypto and pure-JS X25519 implementations open each other’s sealed keys', async () => {
    const native = await hpkeSuite('webcrypto')
    const pure = await hpkeSuite('pure-js')
    const enc = await encryptionKeyPairFromSeed(new Uint8Array(32).fill(5))
    const info = new Uint8Array([1, 2, 3])
    for (const [a, b] of [[native, pure], [pure, native]] as const) {
      const s = await a.seal({ recipientPublicKey: await a.kem.deserializePublicKey(enc.publicKey), info }, payload)
      const pt = await b.open({ recipientKey: await b.kem.deserializePrivateKey(enc.privateKey), enc: s.enc, info }, s.ct)
      expect(new Uint8Array(pt)).toEqual(payload)
    }
  })
})
