/**
 * The byte layout of a sealed envelope (version 1), big-endian, strictly decoded: one encoding per envelope, no
 * trailing bytes, lengths checked before anything is read.
 *
 *   u8  version (1)
 *   u8  id length (1..64) ‖ id (printable ASCII)
 *   u64 sentAt (ms since epoch, a safe integer)
 *   u16 sender certificate length ‖ sender device-cert (encodeRecord bytes, ≤ 4 KiB)
 *   u8  recipient count (1..128)
 *   per recipient, sorted by device ID, no duplicates:
 *       device ID (20 bytes) ‖ HPKE enc (32 bytes) ‖ sealed content key (32 + 16-byte tag)
 *   u32 ciphertext length ‖ ciphertext (ChaCha20-Poly1305 of the payload under the content key: payload + 16)
 *   signature (64 bytes): Ed25519 of the sender's device key over ENVELOPE_DOMAIN ‖ every byte before it
 */
import { toHex } from './bytes.ts'
import { EnvelopeTooLargeError, MalformedEnvelopeError } from './envelope-errors.ts'

export const ENVELOPE_VERSION = 1
/** Largest encoded envelope (bytes). */
export const MAX_ENVELOPE_BYTES = 64 * 1024
/** Most recipient devices one envelope is sealed to. */
export const MAX_ENVELOPE_RECIPIENTS = 128
/** Largest sender certificate carried in an envelope (bytes). */
export const MAX_SENDER_CERT_BYTES = 4 * 1024
export const MAX_ENVELOPE_ID_BYTES = 64
export const ENVELOPE_DEVICE_ID_BYTES = 20
export const ENVELOPE_ENC_BYTES = 32
export const ENVELOPE_TAG_BYTES = 16
export const CONTENT_KEY_BYTES = 32
export const ENVELOPE_WRAPPED_KEY_BYTES = CONTENT_KEY_BYTES + ENVELOPE_TAG_BYTES
export const ENVELOPE_RECIPIENT_BYTES = ENVELOPE_DEVICE_ID_BYTES + ENVELOPE_ENC_BYTES + ENVELOPE_WRAPPED_KEY_BYTES
export const ENVELOPE_SIGNATURE_BYTES = 64
const ID_RE = /^[\x21-\x7e]{1,64}$/

/** One recipient entry: who (device ID, hex) and the content key sealed to its X25519 key. */
export interface EnvelopeRecipient {
  /** 40-hex device ID */
  deviceId: string
  /** HPKE encapsulated key (32 bytes) */
  enc: Uint8Array
  /** HPKE-sealed content key (48 bytes) */
  wrappedKey: Uint8Array
}

/** The fields of an envelope, as encoded (nothing verified). */
export interface EnvelopeFields {
  id: string
  sentAt: number
  /** encodeRecord bytes of the sender's device-cert */
  senderCert: Uint8Array
  recipients: EnvelopeRecipient[]
  ciphertext: Uint8Array
}

/** A decoded envelope: its fields, the bytes its signature covers (without the domain) and the signature. */
export interface DecodedEnvelope extends EnvelopeFields {
  version: number
  /** every byte before the signature */
  signed: Uint8Array
  /** the part of `signed` before the ciphertext: the payload's associated data */
  header: Uint8Array
  signature: Uint8Array
}

/** True if `s` can be an envelope ID (1..64 printable ASCII characters). */
export function isEnvelopeId(s: unknown): s is string {
  return typeof s === 'string' && ID_RE.test(s)
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** The header's size: version, id length and id, sentAt, certificate length and bytes, recipient count and entries. */
function headerBytes(idLength: number, certBytes: number, recipients: number): number {
  return 1 + 1 + idLength + 8 + 2 + certBytes + 1 + recipients * ENVELOPE_RECIPIENT_BYTES
}

/** An encoded envelope's size: header, ciphertext length, the payload and its tag, the signature. */
export function envelopeBytes(f: { idLength: number; certBytes: number; recipients: number; payloadBytes: number }): number {
  return headerBytes(f.idLength, f.certBytes, f.recipients) + 4 + f.payloadBytes + ENVELOPE_TAG_BYTES + ENVELOPE_SIGNATURE_BYTES
}

/** Encodes the header (everything the payload's AEAD binds: version up to the last recipient). */
export function encodeEnvelopeHeader(f: Omit<EnvelopeFields, 'ciphertext'>): Uint8Array {
  if (!isEnvelopeId(f.id)) throw new MalformedEnvelopeError('envelope id must be 1..64 printable ASCII characters')
  if (!Number.isSafeInteger(f.sentAt) || f.sentAt < 0) throw new MalformedEnvelopeError('sentAt must be a safe integer >= 0')
  if (f.senderCert.length < 1) throw new MalformedEnvelopeError('sender certificate is empty')
  if (f.senderCert.length > MAX_SENDER_CERT_BYTES) throw new EnvelopeTooLargeError(`sender certificate over ${MAX_SENDER_CERT_BYTES} bytes`)
  const n = f.recipients.length
  if (n < 1) throw new MalformedEnvelopeError('an envelope needs at least one recipient')
  if (n > MAX_ENVELOPE_RECIPIENTS) throw new EnvelopeTooLargeError(`${n} recipients is over the limit of ${MAX_ENVELOPE_RECIPIENTS}`)
  const out = new Uint8Array(headerBytes(f.id.length, f.senderCert.length, n))
  const view = new DataView(out.buffer)
  let o = 0
  out[o++] = ENVELOPE_VERSION
  out[o++] = f.id.length
  for (let i = 0; i < f.id.length; i++) out[o++] = f.id.charCodeAt(i)
  view.setBigUint64(o, BigInt(f.sentAt))
  o += 8
  view.setUint16(o, f.senderCert.length)
  o += 2
  out.set(f.senderCert, o)
  o += f.senderCert.length
  out[o++] = n
  let previous = ''
  for (const r of f.recipients) {
    if (!/^[0-9a-f]{40}$/.test(r.deviceId)) throw new MalformedEnvelopeError('recipient device IDs are 40 lowercase hex characters')
    if (r.deviceId <= previous) throw new MalformedEnvelopeError('recipients must be sorted by device ID, without duplicates')
    if (r.enc.length !== ENVELOPE_ENC_BYTES || r.wrappedKey.length !== ENVELOPE_WRAPPED_KEY_BYTES) {
      throw new MalformedEnvelopeError('recipient entry has the wrong key sizes')
    }
    previous = r.deviceId
    out.set(hexToBytes(r.deviceId), o)
    out.set(r.enc, o + ENVELOPE_DEVICE_ID_BYTES)
    out.set(r.wrappedKey, o + ENVELOPE_DEVICE_ID_BYTES + ENVELOPE_ENC_BYTES)
    o += ENVELOPE_RECIPIENT_BYTES
  }
  return out
}

/** header ‖ u32 ciphertext length ‖ ciphertext: the bytes the signature covers (after the domain). */
export function encodeEnvelopeBody(header: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const total = header.length + 4 + ciphertext.length + ENVELOPE_SIGNATURE_BYTES
  if (total > MAX_ENVELOPE_BYTES) throw new EnvelopeTooLargeError(`the envelope would be ${total} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit`)
  const out = new Uint8Array(header.length + 4 + ciphertext.length)
  out.set(header, 0)
  new DataView(out.buffer).setUint32(header.length, ciphertext.length)
  out.set(ciphertext, header.length + 4)
  return out
}

/** A bounds-checked reader: every read past the end is a MalformedEnvelopeError. */
class Reader {
  private o = 0
  private readonly view: DataView
  private readonly bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  get offset(): number {
    return this.o
  }
  need(n: number, what: string): void {
    if (this.o + n > this.bytes.length) throw new MalformedEnvelopeError(`envelope truncated in ${what}`)
  }
  u8(what: string): number {
    this.need(1, what)
    return this.bytes[this.o++]!
  }
  u16(what: string): number {
    this.need(2, what)
    const v = this.view.getUint16(this.o)
    this.o += 2
    return v
  }
  u32(what: string): number {
    this.need(4, what)
    const v = this.view.getUint32(this.o)
    this.o += 4
    return v
  }
  u64(what: string): bigint {
    this.need(8, what)
    const v = this.view.getBigUint64(this.o)
    this.o += 8
    return v
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what)
    const v = this.bytes.subarray(this.o, this.o + n)
    this.o += n
    return v
  }
}

/** Bytes → envelope fields. Checks the layout only (EnvelopeTooLargeError, MalformedEnvelopeError), not the signature. */
export function decodeEnvelope(bytes: unknown): DecodedEnvelope {
  if (!(bytes instanceof Uint8Array)) throw new MalformedEnvelopeError('envelope: expected bytes')
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new EnvelopeTooLargeError(`envelope of ${bytes.length} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`)
  const r = new Reader(bytes)
  const version = r.u8('version')
  if (version !== ENVELOPE_VERSION) throw new MalformedEnvelopeError(`unknown envelope version ${version}`)
  const idLength = r.u8('id length')
  const idBytes = r.take(idLength, 'id')
  const id = String.fromCharCode(...idBytes)
  if (!isEnvelopeId(id)) throw new MalformedEnvelopeError('envelope id must be 1..64 printable ASCII characters')
  const sentAt = r.u64('sentAt')
  if (sentAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedEnvelopeError('sentAt is not a safe integer')
  const certLength = r.u16('sender certificate length')
  if (certLength < 1 || certLength > MAX_SENDER_CERT_BYTES) throw new MalformedEnvelopeError(`sender certificate length ${certLength} out of range`)
  const senderCert = r.take(certLength, 'sender certificate')
  const count = r.u8('recipient count')
  if (count < 1 || count > MAX_ENVELOPE_RECIPIENTS) throw new MalformedEnvelopeError(`recipient count ${count} out of range 1..${MAX_ENVELOPE_RECIPIENTS}`)
  const recipients: EnvelopeRecipient[] = []
  let previous = ''
  for (let i = 0; i < count; i++) {
    const deviceId = toHex(r.take(ENVELOPE_DEVICE_ID_BYTES, 'recipient'))
    if (deviceId <= previous) throw new MalformedEnvelopeError('recipients are not sorted by device ID, or repeat one')
    previous = deviceId
    recipients.push({ deviceId, enc: r.take(ENVELOPE_ENC_BYTES, 'recipient'), wrappedKey: r.take(ENVELOPE_WRAPPED_KEY_BYTES, 'recipient') })
  }
  const header = bytes.subarray(0, r.offset)
  const ciphertextLength = r.u32('ciphertext length')
  if (ciphertextLength < ENVELOPE_TAG_BYTES) throw new MalformedEnvelopeError('ciphertext shorter than its tag')
  const ciphertext = r.take(ciphertextLength, 'ciphertext')
  const signed = bytes.subarray(0, r.offset)
  const signature = r.take(ENVELOPE_SIGNATURE_BYTES, 'signature')
  if (r.offset !== bytes.length) throw new MalformedEnvelopeError(`${bytes.length - r.offset} trailing bytes after the signature`)
  return { version, id, sentAt: Number(sentAt), senderCert, recipients, ciphertext, signed, header, signature }
}
