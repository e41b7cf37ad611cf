/**
 * The raw node:crypto primitives a sealed envelope is made of (OpenSSL, synchronous), with nothing of Baran's around
 * them: what sealing to one device costs at least. Benches compare Baran's envelopes with them
 * (packages/identity/bench/envelope.bench.ts) and put them under the durable pipeline as a floor
 * (apps/node/bench/pipeline.bench.ts).
 */
import { createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject, randomBytes, sign, verify } from 'node:crypto'

/** One sealed payload of the raw primitives. */
export interface RawSealed {
  enc: KeyObject
  nonce: Buffer
  ct: Buffer
}

/**
 * Seal: an ephemeral X25519 key pair, one X25519 agreement, HKDF-SHA256, ChaCha20-Poly1305 over the payload; open:
 * one agreement, HKDF, decryption. `sealSigned`/`openSigned` add what an envelope adds for authenticity: one Ed25519
 * signature on seal, two verifications on open (the sender's device certificate and the envelope); `openSignedCertKnown`
 * one (a receiver keeps the certificates it verified). `sealAtRest`: a body a device keeps sealed to itself
 * (identity's at-rest.ts), ChaCha20-Poly1305 under a key it derived once, no agreement, no signature.
 */
export function envelopePrimitives(payload: Uint8Array) {
  const recipient = generateKeyPairSync('x25519')
  const signer = generateKeyPairSync('ed25519')
  const info = Buffer.from('baran bench')
  const sealRaw = (): RawSealed => {
    const eph = generateKeyPairSync('x25519')
    const key = Buffer.from(hkdfSync('sha256', diffieHellman({ privateKey: eph.privateKey, publicKey: recipient.publicKey }), Buffer.alloc(0), info, 32))
    const nonce = randomBytes(12)
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    const ct = Buffer.concat([c.update(payload), c.final(), c.getAuthTag()])
    return { enc: eph.publicKey, nonce, ct }
  }
  const openRaw = (s: RawSealed): Buffer => {
    const key = Buffer.from(hkdfSync('sha256', diffieHellman({ privateKey: recipient.privateKey, publicKey: s.enc }), Buffer.alloc(0), info, 32))
    const d = createDecipheriv('chacha20-poly1305', key, s.nonce, { authTagLength: 16 })
    d.setAuthTag(s.ct.subarray(s.ct.length - 16))
    return Buffer.concat([d.update(s.ct.subarray(0, s.ct.length - 16)), d.final()])
  }
  const sealSigned = (): RawSealed & { sig: Buffer } => {
    const s = sealRaw()
    return { ...s, sig: sign(null, s.ct, signer.privateKey) }
  }
  const openSignedCertKnown = (s: RawSealed & { sig: Buffer }): Buffer => {
    if (!verify(null, s.ct, signer.publicKey, s.sig)) throw new Error('bad signature')
    return openRaw(s)
  }
  const openSigned = (s: RawSealed & { sig: Buffer }): Buffer => {
    // the device certificate's signature, then the envelope's
    if (!verify(null, s.ct, signer.publicKey, s.sig)) throw new Error('bad signature')
    return openSignedCertKnown(s)
  }
  const atRestKey = randomBytes(32)
  const sealAtRest = (): Buffer => {
    const c = createCipheriv('chacha20-poly1305', atRestKey, randomBytes(12), { authTagLength: 16 })
    return Buffer.concat([c.update(payload), c.final(), c.getAuthTag()])
  }
  return { sealRaw, openRaw, sealSigned, openSigned, openSignedCertKnown, sealAtRest }
}

/**
 * CPU µs (user + system, this process) the envelope work of one message through the durable pipeline costs at least,
 * from the raw primitives, one message after another for `windowMs`: the sender seals the body at rest and the payload
 * to the recipient device (one signed seal), the receiver opens it (one agreement, one verification: it knows the
 * sender's certificate).
 */
export function envelopeFloorCpuUs(payload: Uint8Array, windowMs: number): number {
  const r = envelopePrimitives(payload)
  for (let i = 0; i < 50; i++) r.openSignedCertKnown(r.sealSigned())
  const before = process.cpuUsage()
  const end = performance.now() + windowMs
  let n = 0
  while (performance.now() < end) {
    r.sealAtRest()
    r.openSignedCertKnown(r.sealSigned())
    n++
  }
  const used = process.cpuUsage(before)
  return (used.user + used.system) / n
}
