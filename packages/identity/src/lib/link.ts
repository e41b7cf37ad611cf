/**
 * Device-linking PIN crypto. The old device seals bytes (the account) under a short PIN and puts them
 * in the DHT; the new device, given the PIN, finds and opens them. Everything comes from
 * scrypt(PIN, 'baran.link.v1') = 64 bytes: the first 32 are the secretbox key, the last 32 derive
 * (by domain-separated SHA-256) the value's location and its delete token. The salt is fixed
 * because the PIN must be all the new device needs; scrypt's cost and the value's short life
 * are what make guessing the ~40-bit PIN impractical. The DHT only ever sees the sealed bytes.
 */
import { createHash, randomBytes, scrypt } from 'node:crypto'
import { toHex } from '@baran/trust'
import nacl from 'tweetnacl'
import { LINK_SALT, LINK_SCRYPT, PIN_ALPHABET, PIN_LENGTH } from './constants.ts'
import { InvalidPinError, LinkExpiredError, MalformedLinkError, WrongPinError } from './errors.ts'

/** A key-derivation function: (normalised PIN, salt) → 64 bytes. */
export type LinkKdf = (pin: string, salt: Uint8Array) => Promise<Uint8Array>

/** What a PIN opens: where the value lives, how to decrypt it, how to delete it. */
export interface LinkKeys {
  /** 40 hex: the id of the DHT opaque value (`/baran-value/<key>`) */
  key: string
  secretKey: Uint8Array
  /** 32 bytes: proves the right to delete the value before it expires */
  deleteToken: Uint8Array
}

/** Sealed bytes ready for the DHT: putValue(key, value, { deleteToken }). */
export interface SealedLink {
  key: string
  value: Uint8Array
  deleteToken: Uint8Array
}

const VERSION = 1
const encoder = new TextEncoder()
const NONCE = nacl.secretbox.nonceLength
const HEADER = 1 + NONCE

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** scrypt with LINK_SCRYPT's cost (N=2^15, r=8, p=1: 32 MiB). */
export const scryptKdf: LinkKdf = (pin, salt) =>
  new Promise((resolve, reject) => {
    scrypt(pin, salt, 64, { ...LINK_SCRYPT, maxmem: 64 * 1024 * 1024 }, (err, key) => {
      if (err) reject(err)
      else resolve(new Uint8Array(key))
    })
  })

/** A fresh PIN: 8 characters of PIN_ALPHABET shown as "XXXX-XXXX". */
export function generatePin(): string {
  const n = PIN_ALPHABET.length
  const limit = 256 - (256 % n) // rejection sampling keeps every character equally likely
  let pin = ''
  while (pin.length < PIN_LENGTH) {
    for (const b of randomBytes(16)) {
      if (b < limit && pin.length < PIN_LENGTH) pin += PIN_ALPHABET[b % n]
    }
  }
  return `${pin.slice(0, 4)}-${pin.slice(4)}`
}

/** Uppercase, without dashes and spaces; throws InvalidPinError unless 8 alphabet characters. */
export function normalizePin(pin: string): string {
  if (typeof pin !== 'string' || pin.length > 64) throw new InvalidPinError('PIN must be a short string')
  const s = pin.toUpperCase().replace(/[\s-]/g, '')
  if (s.length !== PIN_LENGTH || [...s].some((c) => !PIN_ALPHABET.includes(c))) {
    throw new InvalidPinError(`PIN must be ${PIN_LENGTH} characters of ${PIN_ALPHABET} (as XXXX-XXXX)`)
  }
  return s
}

/** Derive the location, secretbox key and delete token of a PIN. Throws InvalidPinError. */
export async function deriveLinkKeys(pin: string, kdf: LinkKdf = scryptKdf): Promise<LinkKeys> {
  const derived = await kdf(normalizePin(pin), encoder.encode(LINK_SALT))
  if (!(derived instanceof Uint8Array) || derived.length !== 64) throw new MalformedLinkError('kdf must return 64 bytes')
  const rest = derived.subarray(32)
  const location = sha256(encoder.encode('baran.link.location\0'), rest).subarray(0, 20)
  return {
    key: toHex(location),
    secretKey: derived.slice(0, 32),
    deleteToken: sha256(encoder.encode('baran.link.delete\0'), rest),
  }
}

/** Encrypt bytes under a PIN: version byte || nonce || secretbox(bytes). */
export async function sealForPin(bytes: Uint8Array, pin: string, kdf: LinkKdf = scryptKdf): Promise<SealedLink> {
  if (!(bytes instanceof Uint8Array)) throw new MalformedLinkError('bytes to seal must be a Uint8Array')
  const keys = await deriveLinkKeys(pin, kdf)
  const nonce = new Uint8Array(randomBytes(NONCE))
  const box = nacl.secretbox(bytes, nonce, keys.secretKey)
  const value = new Uint8Array(HEADER + box.length)
  value[0] = VERSION
  value.set(nonce, 1)
  value.set(box, HEADER)
  keys.secretKey.fill(0)
  return { key: keys.key, value, deleteToken: keys.deleteToken }
}

/**
 * Decrypt a link value with the PIN. `undefined` (nothing found at the PIN's location) is
 * LinkExpiredError; bytes that are no link value are MalformedLinkError; a value that does not
 * open is WrongPinError.
 */
export async function openWithPin(value: Uint8Array | undefined, pin: string, kdf: LinkKdf = scryptKdf): Promise<Uint8Array> {
  if (value === undefined) throw new LinkExpiredError()
  if (!(value instanceof Uint8Array) || value.length < HEADER + nacl.secretbox.overheadLength || value[0] !== VERSION) {
    throw new MalformedLinkError('not a device-link value')
  }
  const keys = await deriveLinkKeys(pin, kdf)
  const bytes = nacl.secretbox.open(value.subarray(HEADER), value.subarray(1, HEADER), keys.secretKey)
  keys.secretKey.fill(0)
  if (bytes === null) throw new WrongPinError()
  return bytes
}
