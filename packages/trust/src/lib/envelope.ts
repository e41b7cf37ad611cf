/**
 * Sealed, signed envelopes: a payload encrypted once under a random content key (ChaCha20-Poly1305), that key
 * HPKE-sealed to each recipient device's X25519 key (its device-cert version 2 `encKey`), the whole signed by the
 * sending device (Ed25519) with its account → device certificate inside. Any device verifies who sent it without
 * trusting who carried it; only the listed devices read it. Layout: envelope-format.ts; design: docs/envelopes.md.
 */
import nacl from 'tweetnacl'
import { concatBytes, fromBase64Url, utf8 } from './bytes.ts'
import { type VerifiedChain, verifyChain } from './chain.ts'
import { cachedChain, checkRevocations, verifyCertChain } from './chain-cache.ts'
import { DEFAULT_CLOCK_SKEW_MS } from './constants.ts'
import { ed25519Sign, ed25519Verify } from './ed25519.ts'
import {
  EnvelopeSignatureError,
  EnvelopeTooLargeError,
  MalformedEnvelopeError,
  NoEncryptionKeyError,
  NotForThisDeviceError,
  RevokedSenderError,
} from './envelope-errors.ts'
import {
  CONTENT_KEY_BYTES,
  type DecodedEnvelope,
  decodeEnvelope,
  ENVELOPE_TAG_BYTES,
  type EnvelopeRecipient,
  encodeEnvelopeBody,
  encodeEnvelopeHeader,
  isEnvelopeId,
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPE_RECIPIENTS,
} from './envelope-format.ts'
import { isTrustError } from './errors.ts'
import { contentCipher, hpkeSuite } from './hpke.ts'
import { decodeRecord, encodeRecord, type SignedRecord } from './record.ts'

/** Domain of the sender's signature and of the HPKE info: nothing else Baran signs or seals starts with it. */
export const ENVELOPE_DOMAIN = 'baran.envelope.v1\0'
const DOMAIN = utf8(ENVELOPE_DOMAIN)
/** A fresh content key encrypts one payload only, so a fixed nonce is safe. */
const ZERO_NONCE = new Uint8Array(12)

/** A device an envelope can be sealed to. */
export interface EnvelopeRecipientKey {
  accountId: string
  deviceId: string
  /** base64url X25519 public key */
  encKey: string
}

/** The sending device: its certificate and its Ed25519 secret key (64 bytes, tweetnacl's format). */
export interface EnvelopeSender {
  deviceCert: SignedRecord
  deviceSecretKey: Uint8Array
}

/** What sealEnvelope needs. */
export interface SealEnvelopeInput {
  /** 1..64 printable ASCII characters (a message ID); the receiver refuses an ID it has seen from this sender */
  id: string
  payload: Uint8Array
  sender: EnvelopeSender
  recipients: EnvelopeRecipientKey[]
  /** ms since epoch; the sender's certificate must be valid then @default Date.now() */
  sentAt?: number
}

/** Options of verifyEnvelope and openEnvelope. */
export interface VerifyEnvelopeOptions {
  /** ms since epoch @default Date.now() */
  now?: number
  /** @default 60_000 */
  clockSkewMs?: number
  /** The signed revocation list the caller knows for an account, if any: a listed sender is refused. */
  revocationsFor?: (accountId: string) => unknown
}

/** An envelope whose signature and sender chain verified (not yet decrypted). */
export interface VerifiedEnvelope {
  id: string
  sentAt: number
  sender: VerifiedChain
  /** the device IDs it is sealed to */
  recipients: string[]
  envelope: DecodedEnvelope
}

/** An opened envelope. */
export interface OpenedEnvelope {
  id: string
  sentAt: number
  payload: Uint8Array
  sender: VerifiedChain
  /** the sender's device-cert, as carried */
  senderCert: SignedRecord
}

/** The key of a recipient from its device-cert: verifies it (version 2 with an encryption key, else NoEncryptionKeyError). */
export function envelopeRecipientOf(deviceCert: unknown, opts: { now?: number; clockSkewMs?: number; revocations?: unknown } = {}): EnvelopeRecipientKey {
  const now = opts.now ?? Date.now()
  const { chain } = verifyCert(deviceCert, now, opts.clockSkewMs)
  if (opts.revocations !== undefined) checkRevocations(opts.revocations, chain, now, opts.clockSkewMs)
  if (chain.encKey === undefined) throw new NoEncryptionKeyError(`device ${chain.deviceId} has a version 1 certificate: it cannot receive sealed envelopes`)
  return { accountId: chain.accountId, deviceId: chain.deviceId, encKey: chain.encKey }
}

/** verifyChain of a lone certificate, remembered by its canonical bytes (chain-cache.ts); throws what verifyChain throws. */
function verifyCert(deviceCert: unknown, now: number, clockSkewMs?: number): { chain: VerifiedChain; bytes?: Uint8Array } {
  let bytes: Uint8Array | undefined
  try {
    bytes = encodeRecord(deviceCert as SignedRecord)
  } catch {
    // not a record: verifyChain says what is wrong with it
  }
  const chain = bytes ? verifyCertChain(bytes, deviceCert, now, clockSkewMs) : verifyChain({ deviceCert, now, ...(clockSkewMs === undefined ? {} : { clockSkewMs }) })
  return bytes ? { chain, bytes } : { chain }
}

function hpkeInfo(id: string): Uint8Array {
  return concatBytes(DOMAIN, utf8(id))
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** HPKE aad of a recipient's sealed key: recipient device ID ‖ sender device ID (an entry cannot be moved). */
function keyAad(recipientId: string, senderId: string): Uint8Array {
  return concatBytes(hexBytes(recipientId), hexBytes(senderId))
}

/**
 * Seals a payload to each recipient device and signs the whole as the sender. Throws MalformedEnvelopeError
 * (bad ID, no recipients, a sender certificate that is not the sender key's), EnvelopeTooLargeError (over 64 KiB
 * or 128 recipients) and TrustErrors of the sender certificate.
 */
export async function sealEnvelope(input: SealEnvelopeInput): Promise<Uint8Array> {
  const { id, payload, sender } = input
  if (!(payload instanceof Uint8Array)) throw new MalformedEnvelopeError('payload must be bytes')
  if (payload.length > MAX_ENVELOPE_BYTES) throw new EnvelopeTooLargeError(`payload of ${payload.length} bytes cannot fit in an envelope`)
  if (!isEnvelopeId(id)) throw new MalformedEnvelopeError('envelope id must be 1..64 printable ASCII characters')
  const sentAt = input.sentAt ?? Date.now()
  const { chain, bytes: certBytes } = verifyCert(sender.deviceCert, sentAt)
  const secret = sender.deviceSecretKey
  if (!(secret instanceof Uint8Array) || secret.length !== 64 || !bytesEq(secret.subarray(32), fromBase64Url(chain.deviceKey))) {
    throw new MalformedEnvelopeError("the sender's secret key is not the key of its certificate")
  }
  if (!Array.isArray(input.recipients) || input.recipients.length < 1) throw new MalformedEnvelopeError('an envelope needs at least one recipient')
  if (input.recipients.length > MAX_ENVELOPE_RECIPIENTS) {
    throw new EnvelopeTooLargeError(`${input.recipients.length} recipients is over the limit of ${MAX_ENVELOPE_RECIPIENTS}`)
  }
  const recipients = [...input.recipients].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0))
  const suite = await hpkeSuite()
  const contentKey = nacl.randomBytes(CONTENT_KEY_BYTES)
  const info = hpkeInfo(id)
  try {
    // One HPKE seal per recipient, all at once: WebCrypto's X25519 runs off the main thread.
    const entries: EnvelopeRecipient[] = await Promise.all(
      recipients.map(async (r) => {
        let recipientPublicKey: HpkePublicKey
        try {
          recipientPublicKey = await recipientKey(suite, r.encKey)
        } catch (cause) {
          throw new MalformedEnvelopeError(`recipient ${r.deviceId}: not an X25519 public key`, { cause })
        }
        let sealed: Awaited<ReturnType<typeof suite.seal>>
        try {
          sealed = await suite.seal({ recipientPublicKey, info }, contentKey, keyAad(r.deviceId, chain.deviceId))
        } catch (cause) {
          // a small-order point: its X25519 output is all zeros, and HPKE refuses it
          throw new MalformedEnvelopeError(`recipient ${r.deviceId}: not a usable X25519 public key`, { cause })
        }
        return { deviceId: r.deviceId, enc: new Uint8Array(sealed.enc), wrappedKey: new Uint8Array(sealed.ct) }
      }),
    )
    const senderCert = certBytes ?? encodeRecord(sender.deviceCert)
    const header = encodeEnvelopeHeader({ id, sentAt, senderCert, recipients: entries })
    const ciphertext = new Uint8Array(await contentCipher(contentKey).seal(ZERO_NONCE, payload, header))
    const body = encodeEnvelopeBody(header, ciphertext)
    return concatBytes(body, ed25519Sign(concatBytes(DOMAIN, body), secret))
  } finally {
    contentKey.fill(0)
  }
}

type HpkeSuite = Awaited<ReturnType<typeof hpkeSuite>>
type HpkePublicKey = Awaited<ReturnType<HpkeSuite['kem']['deserializePublicKey']>>
// Imported recipient keys, by suite and encKey: the same devices are sealed to over and over.
const MAX_RECIPIENT_KEYS = 4096
const recipientKeys = new WeakMap<HpkeSuite, Map<string, HpkePublicKey>>()

async function recipientKey(suite: HpkeSuite, encKey: string): Promise<HpkePublicKey> {
  let keys = recipientKeys.get(suite)
  if (!keys) {
    keys = new Map()
    recipientKeys.set(suite, keys)
  }
  const known = keys.get(encKey)
  if (known) return known
  const key = await suite.kem.deserializePublicKey(fromBase64Url(encKey))
  if (keys.size >= MAX_RECIPIENT_KEYS) keys.delete(keys.keys().next().value as string)
  keys.set(encKey, key)
  return key
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}

/**
 * Checks an envelope without decrypting it: layout (MalformedEnvelopeError, EnvelopeTooLargeError), the sender's
 * account → device certificate and the signature over the whole envelope (EnvelopeSignatureError), a sender listed
 * in the revocations the caller knows (RevokedSenderError), sentAt not beyond now + skew (MalformedEnvelopeError).
 */
export function verifyEnvelope(bytes: unknown, opts: VerifyEnvelopeOptions = {}): VerifiedEnvelope {
  const envelope = decodeEnvelope(bytes)
  const now = opts.now ?? Date.now()
  const clockSkewMs = opts.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
  let sender: VerifiedChain
  try {
    // A sender certificate seen before (by its bytes) skips the account signature; so does a revocation list.
    sender = cachedChain(envelope.senderCert, now, clockSkewMs) ?? verifyCertChain(envelope.senderCert, decodeRecord(envelope.senderCert), now, clockSkewMs)
    const revocations = opts.revocationsFor?.(sender.accountId)
    if (revocations !== undefined) checkRevocations(revocations, sender, now, clockSkewMs)
  } catch (e) {
    if (isTrustError(e) && e.name === 'RevokedDeviceError') throw new RevokedSenderError(e.message, { cause: e })
    if (isTrustError(e)) throw new EnvelopeSignatureError(`sender chain: ${e.message}`, { cause: e })
    throw e
  }
  if (!ed25519Verify(concatBytes(DOMAIN, envelope.signed), envelope.signature, fromBase64Url(sender.deviceKey))) {
    throw new EnvelopeSignatureError(`envelope ${envelope.id}: signature does not verify with the sender's device key`)
  }
  if (envelope.sentAt > now + clockSkewMs) throw new MalformedEnvelopeError(`envelope ${envelope.id} was sent in the future (${envelope.sentAt})`)
  return { id: envelope.id, sentAt: envelope.sentAt, sender, recipients: envelope.recipients.map((r) => r.deviceId), envelope }
}

/**
 * Decrypts a verified envelope as one of its recipients: NotForThisDeviceError when it lists no entry for
 * `deviceId`; MalformedEnvelopeError when the entry or the ciphertext does not open (the sender sealed it wrongly).
 */
export async function decryptEnvelope(verified: VerifiedEnvelope, me: { deviceId: string; encPrivateKey: Uint8Array }): Promise<OpenedEnvelope> {
  const { envelope, sender } = verified
  const entry = envelope.recipients.find((r) => r.deviceId === me.deviceId)
  if (!entry) throw new NotForThisDeviceError(`envelope ${envelope.id} is not sealed to device ${me.deviceId}`)
  const suite = await hpkeSuite()
  let contentKey: Uint8Array
  try {
    const recipientKey = await suite.kem.deserializePrivateKey(me.encPrivateKey)
    const opened = await suite.open({ recipientKey, enc: entry.enc, info: hpkeInfo(envelope.id) }, entry.wrappedKey, keyAad(me.deviceId, sender.deviceId))
    contentKey = new Uint8Array(opened)
  } catch (cause) {
    throw new MalformedEnvelopeError(`envelope ${envelope.id}: the content key sealed to this device does not open`, { cause })
  }
  if (contentKey.length !== CONTENT_KEY_BYTES || envelope.ciphertext.length < ENVELOPE_TAG_BYTES) {
    throw new MalformedEnvelopeError(`envelope ${envelope.id}: bad content key`)
  }
  let payload: Uint8Array
  try {
    payload = new Uint8Array(await contentCipher(contentKey).open(ZERO_NONCE, envelope.ciphertext, envelope.header))
  } catch (cause) {
    throw new MalformedEnvelopeError(`envelope ${envelope.id}: the payload does not decrypt`, { cause })
  } finally {
    contentKey.fill(0)
  }
  return { id: envelope.id, sentAt: envelope.sentAt, payload, sender, senderCert: decodeRecord(envelope.senderCert) }
}

/** verifyEnvelope then decryptEnvelope (no replay check: the caller keeps the replay window). */
export async function openEnvelope(
  bytes: unknown,
  me: { deviceId: string; encPrivateKey: Uint8Array },
  opts: VerifyEnvelopeOptions = {},
): Promise<OpenedEnvelope> {
  return decryptEnvelope(verifyEnvelope(bytes, opts), me)
}
