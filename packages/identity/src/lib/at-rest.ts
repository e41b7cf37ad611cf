/**
 * A body this device keeps sealed to itself (an outgoing record's, a history entry's): one authenticated cipher
 * under a key only this device can derive, instead of a signed envelope to its own certificate. A device that only
 * ever opens what it sealed itself needs no signature (the tag already proves the key's holder wrote it) and no key
 * agreement: one public-key signature and two X25519 operations less per message sent. Layout (big-endian):
 *
 *   u8  kind (0x81: at rest, version 1; an envelope starts with its version, 1)
 *   device ID (20 bytes)
 *   u8  id length (1..64) ‖ id (printable ASCII)
 *   u64 sentAt (ms since epoch)
 *   nonce (12 random bytes)
 *   ciphertext: ChaCha20-Poly1305 of the payload (payload + 16-byte tag), every byte before the nonce as associated data
 *
 * The key is HKDF-SHA256 of the device's X25519 private key (salt AT_REST_SALT, info the device ID): what opens the
 * device's envelopes opens its bodies at rest, and nothing else does. Random nonces: a key may seal 2^32 bodies
 * before a repeat becomes likely (RFC 8439's bound for random 96-bit nonces), far beyond a device's messages.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { EnvelopeSignatureError, EnvelopeTooLargeError, isEnvelopeId, MAX_ENVELOPE_BYTES, MalformedEnvelopeError, NotForThisDeviceError } from '@baran/trust'

export const AT_REST_KIND = 0x81
const AT_REST_SALT = Buffer.from('baran.at-rest.v1')
const DEVICE_ID_BYTES = 20
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** kind, device ID, id length, sentAt: the header without the id itself. */
const FIXED_HEADER_BYTES = 1 + DEVICE_ID_BYTES + 1 + 8

/** The at-rest key of a device (32 bytes) from its X25519 private key. */
export function atRestKey(encPrivateKey: Uint8Array, deviceId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', encPrivateKey, AT_REST_SALT, Buffer.from(deviceId, 'ascii'), 32))
}

/** True when `bytes` are a body at rest (not an envelope). */
export function isAtRest(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === AT_REST_KIND
}

export interface AtRestBody {
  id: string
  sentAt: number
  payload: Uint8Array
}

function deviceIdBytes(deviceId: string): Buffer {
  const b = Buffer.from(deviceId, 'hex')
  if (b.length !== DEVICE_ID_BYTES || b.toString('hex') !== deviceId) throw new MalformedEnvelopeError(`device ID ${JSON.stringify(deviceId)} is not 40 lowercase hex`)
  return b
}

/** Seals `body` at rest for `deviceId`. Over MAX_ENVELOPE_BYTES in all: EnvelopeTooLargeError; a bad id: MalformedEnvelopeError. */
export function sealAtRest(key: Uint8Array, deviceId: string, body: AtRestBody): Uint8Array {
  if (!isEnvelopeId(body.id)) throw new MalformedEnvelopeError(`bad envelope ID ${JSON.stringify(body.id)}: 1..64 printable ASCII characters`)
  if (!Number.isSafeInteger(body.sentAt) || body.sentAt < 0) throw new MalformedEnvelopeError(`bad sentAt ${body.sentAt}`)
  const total = FIXED_HEADER_BYTES + body.id.length + NONCE_BYTES + body.payload.length + TAG_BYTES
  if (total > MAX_ENVELOPE_BYTES) throw new EnvelopeTooLargeError(`a body of ${body.payload.length} bytes does not fit in ${MAX_ENVELOPE_BYTES} bytes`)
  const out = Buffer.allocUnsafe(total)
  out[0] = AT_REST_KIND
  deviceIdBytes(deviceId).copy(out, 1)
  let at = 1 + DEVICE_ID_BYTES
  out[at++] = body.id.length
  at += out.write(body.id, at, 'ascii')
  out.writeBigUInt64BE(BigInt(body.sentAt), at)
  at += 8
  const header = out.subarray(0, at)
  const nonce = randomBytes(NONCE_BYTES)
  nonce.copy(out, at)
  at += NONCE_BYTES
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES })
  c.setAAD(header, { plaintextLength: body.payload.length })
  at += c.update(body.payload).copy(out, at)
  at += c.final().copy(out, at)
  c.getAuthTag().copy(out, at)
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}

/**
 * Opens a body at rest sealed for `deviceId`: MalformedEnvelopeError for a bad layout, NotForThisDeviceError for
 * another device's, EnvelopeSignatureError when it does not authenticate (altered, or sealed under another key).
 */
export function openAtRest(key: Uint8Array, deviceId: string, bytes: Uint8Array): AtRestBody {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new EnvelopeTooLargeError(`a body at rest of ${bytes.length} bytes is over ${MAX_ENVELOPE_BYTES}`)
  if (bytes.length < FIXED_HEADER_BYTES + 1 + NONCE_BYTES + TAG_BYTES || bytes[0] !== AT_REST_KIND) throw new MalformedEnvelopeError('not a body at rest (too short or another kind)')
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const owner = b.subarray(1, 1 + DEVICE_ID_BYTES).toString('hex')
  let at = 1 + DEVICE_ID_BYTES
  const idLength = b[at++] as number
  if (idLength < 1 || b.length < at + idLength + 8 + NONCE_BYTES + TAG_BYTES) throw new MalformedEnvelopeError('a body at rest with a bad id length')
  const id = b.toString('latin1', at, at + idLength)
  if (!isEnvelopeId(id)) throw new MalformedEnvelopeError('a body at rest with a bad id')
  at += idLength
  const sentAt = b.readBigUInt64BE(at)
  at += 8
  if (sentAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedEnvelopeError('a body at rest with a bad sentAt')
  if (owner !== deviceId) throw new NotForThisDeviceError(`body ${id} is kept sealed by device ${owner}, not ${deviceId}`)
  const header = b.subarray(0, at)
  const nonce = b.subarray(at, at + NONCE_BYTES)
  const sealed = b.subarray(at + NONCE_BYTES)
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES })
  d.setAAD(header, { plaintextLength: sealed.length - TAG_BYTES })
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
  let payload: Buffer
  try {
    payload = Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final()])
  } catch (cause) {
    throw new EnvelopeSignatureError(`body ${id} does not authenticate: altered, or sealed under another key`, { cause })
  }
  return { id, sentAt: Number(sentAt), payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.length) }
}
