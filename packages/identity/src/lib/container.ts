/**
 * The password-sealed container shared by account archives ("BARANARC") and sealed key stores
 * ("BARANKEY"):
 *
 *   magic (8 bytes) · version u8 = 1 · header length u16 BE · header · ciphertext
 *
 * header = canonical JSON { kdf: { name: 'scrypt', N, r, p, salt }, nonce, compression: 'brotli',
 * ciphertextLength, check }. ciphertext = secretbox(SHA-512(magic‖version‖length‖header) ‖
 * brotli(payload), nonce, encKey). The header hash inside the plaintext binds the header; the
 * `check` value (a hash of the second half of the scrypt output) tells a wrong password apart from
 * a tampered ciphertext.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { canonicalDecode, canonicalEncode, fromBase64Url, toBase64Url } from '@baran/trust'
import nacl from 'tweetnacl'
import { z } from 'zod'
import { compress, decompress } from './compress.ts'
import { CONTAINER_VERSION, MAX_CIPHERTEXT_BYTES, MAX_PAYLOAD_BYTES, SALT_BYTES } from './constants.ts'
import {
  IdentityError,
  MalformedArchiveError,
  NotAnArchiveError,
  TamperedArchiveError,
  TruncatedArchiveError,
  UnsupportedArchiveVersionError,
  WrongPasswordError,
} from './errors.ts'
import { type DerivedKeys, deriveKeys, type ScryptParams, validateScryptParams } from './kdf.ts'

/** The KDF description stored in a container header. */
export interface ContainerKdf extends ScryptParams {
  name: 'scrypt'
  /** base64url salt */
  salt: string
}

/** A container header, as stored. */
export interface ContainerHeader {
  kdf: ContainerKdf
  /** base64url 24-byte secretbox nonce */
  nonce: string
  compression: 'brotli'
  ciphertextLength: number
  /** base64url 16-byte password check */
  check: string
}

/** A container split into its parts, structure checked, not yet decrypted. */
export interface ParsedContainer {
  header: ContainerHeader
  /** magic ‖ version ‖ header length ‖ header: what the header hash covers */
  prefix: Uint8Array
  ciphertext: Uint8Array
}

/** Keys derived for one container's KDF settings; reusable to reseal without running scrypt again. */
export interface SealingKeys extends DerivedKeys {
  kdf: ContainerKdf
}

const FIXED_BYTES = 8 + 1 + 2
const HEADER_HASH_BYTES = 64
const MAX_HEADER_BYTES = 0xffff

const b64 = (bytes: number) =>
  z.string().refine((s) => {
    try {
      return fromBase64Url(s).length === bytes
    } catch {
      return false
    }
  }, `must be base64url of ${bytes} bytes`)

const headerSchema = z.strictObject({
  kdf: z.strictObject({
    name: z.literal('scrypt'),
    N: z.int(),
    r: z.int(),
    p: z.int(),
    salt: z.string().refine((s) => {
      try {
        const n = fromBase64Url(s).length
        return n >= 16 && n <= 64
      } catch {
        return false
      }
    }, 'salt must be base64url of 16..64 bytes'),
  }),
  nonce: b64(nacl.secretbox.nonceLength),
  compression: z.literal('brotli'),
  ciphertextLength: z
    .int()
    .min(nacl.secretbox.overheadLength + HEADER_HASH_BYTES)
    .max(MAX_CIPHERTEXT_BYTES),
  check: b64(16),
})

const magicBytes = (magic: string): Uint8Array => {
  const m = new TextEncoder().encode(magic)
  if (m.length !== 8) throw new Error(`container magic must be 8 ASCII bytes, got ${JSON.stringify(magic)}`)
  return m
}

const sha512 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha512')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** Runs scrypt with a fresh salt: the keys to seal one or more containers with. */
export async function newSealingKeys(password: string, params: ScryptParams): Promise<SealingKeys> {
  validateScryptParams(params)
  const salt = new Uint8Array(randomBytes(SALT_BYTES))
  const keys = await deriveKeys(password, salt, params)
  return { ...keys, kdf: { name: 'scrypt', N: params.N, r: params.r, p: params.p, salt: toBase64Url(salt) } }
}

/** Seals a payload under already derived keys (fresh random nonce each time). */
export function sealContainer(magic: string, payload: Uint8Array, keys: SealingKeys): Uint8Array {
  const m = magicBytes(magic)
  const compressed = compress(payload)
  const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength))
  const header: ContainerHeader = {
    kdf: keys.kdf,
    nonce: toBase64Url(nonce),
    compression: 'brotli',
    ciphertextLength: nacl.secretbox.overheadLength + HEADER_HASH_BYTES + compressed.length,
    check: toBase64Url(keys.check),
  }
  if (header.ciphertextLength > MAX_CIPHERTEXT_BYTES) throw new MalformedArchiveError('Payload is too large to seal')
  const headerBytes = canonicalEncode(header)
  const prefix = new Uint8Array(FIXED_BYTES + headerBytes.length)
  prefix.set(m, 0)
  prefix[8] = CONTAINER_VERSION
  new DataView(prefix.buffer).setUint16(9, headerBytes.length, false)
  prefix.set(headerBytes, FIXED_BYTES)
  const plaintext = new Uint8Array(HEADER_HASH_BYTES + compressed.length)
  plaintext.set(sha512(prefix), 0)
  plaintext.set(compressed, HEADER_HASH_BYTES)
  const ciphertext = nacl.secretbox(plaintext, nonce, keys.encKey)
  const out = new Uint8Array(prefix.length + ciphertext.length)
  out.set(prefix, 0)
  out.set(ciphertext, prefix.length)
  return out
}

/** Seals a payload with a password: fresh salt, scrypt, then sealContainer. */
export async function encodeContainer(magic: string, payload: Uint8Array, password: string, params: ScryptParams): Promise<Uint8Array> {
  return sealContainer(magic, payload, await newSealingKeys(password, params))
}

/** True if `bytes` starts with this container magic. */
export function hasMagic(bytes: Uint8Array, magic: string): boolean {
  const m = magicBytes(magic)
  if (bytes.length < m.length) return false
  for (let i = 0; i < m.length; i++) if (bytes[i] !== m[i]) return false
  return true
}

/**
 * Checks the structure (magic, version, lengths, header schema, KDF bounds) without a password.
 * Throws NotAnArchiveError, UnsupportedArchiveVersionError, TruncatedArchiveError or MalformedArchiveError.
 */
export function parseContainer(bytes: Uint8Array, magic: string): ParsedContainer {
  if (!(bytes instanceof Uint8Array)) throw new MalformedArchiveError('Expected a Uint8Array')
  const m = magicBytes(magic)
  const n = Math.min(bytes.length, m.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== m[i]) throw new NotAnArchiveError()
  if (bytes.length === 0) throw new NotAnArchiveError('Empty input is not an archive')
  if (bytes.length < 9) throw new TruncatedArchiveError('Archive ends inside its fixed header')
  if (bytes[8] !== CONTAINER_VERSION) throw new UnsupportedArchiveVersionError(`Unsupported archive version ${bytes[8]}`)
  if (bytes.length < FIXED_BYTES) throw new TruncatedArchiveError('Archive ends inside its fixed header')
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(9, false)
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) throw new MalformedArchiveError('Bad header length')
  if (bytes.length < FIXED_BYTES + headerLength) throw new TruncatedArchiveError('Archive ends inside its header')
  const headerBytes = bytes.subarray(FIXED_BYTES, FIXED_BYTES + headerLength)
  let raw: unknown
  try {
    raw = canonicalDecode(headerBytes)
  } catch (cause) {
    throw new MalformedArchiveError('Archive header is not canonical JSON', { cause })
  }
  const parsed = headerSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new MalformedArchiveError(`Bad archive header at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`, {
      cause: parsed.error,
    })
  }
  const header = parsed.data
  try {
    validateScryptParams(header.kdf)
  } catch (cause) {
    throw new MalformedArchiveError('Archive header has unacceptable scrypt parameters', { cause })
  }
  const ciphertext = bytes.subarray(FIXED_BYTES + headerLength)
  if (ciphertext.length < header.ciphertextLength) throw new TruncatedArchiveError('Archive ends inside its ciphertext')
  if (ciphertext.length > header.ciphertextLength) throw new MalformedArchiveError('Trailing bytes after the ciphertext')
  return { header, prefix: bytes.subarray(0, FIXED_BYTES + headerLength), ciphertext }
}

/** Derives the keys a parsed container was sealed with (scrypt with its stored params and salt). */
export async function keysFor(parsed: ParsedContainer, password: string): Promise<SealingKeys> {
  const keys = await deriveKeys(password, fromBase64Url(parsed.header.kdf.salt), parsed.header.kdf)
  return { ...keys, kdf: parsed.header.kdf }
}

/**
 * Decrypts a parsed container: check value (WrongPasswordError) → MAC (TamperedArchiveError) →
 * header hash (TamperedArchiveError) → brotli (MalformedArchiveError). Returns the payload bytes.
 */
export function openContainer(parsed: ParsedContainer, keys: DerivedKeys, maxPayloadBytes = MAX_PAYLOAD_BYTES): Uint8Array {
  const check = fromBase64Url(parsed.header.check)
  if (!timingSafeEqual(check, keys.check)) throw new WrongPasswordError()
  const plaintext = nacl.secretbox.open(parsed.ciphertext, fromBase64Url(parsed.header.nonce), keys.encKey)
  if (plaintext === null) throw new TamperedArchiveError('Archive ciphertext failed authentication (tampered)')
  if (plaintext.length < HEADER_HASH_BYTES || !timingSafeEqual(plaintext.subarray(0, HEADER_HASH_BYTES), sha512(parsed.prefix))) {
    throw new TamperedArchiveError('Archive header does not match its encrypted hash (tampered)')
  }
  return decompress(plaintext.subarray(HEADER_HASH_BYTES), maxPayloadBytes)
}

/** Parses, derives and opens in one call. Returns the payload and the keys (to reseal later). */
export async function decodeContainer(
  bytes: Uint8Array,
  magic: string,
  password: string,
): Promise<{ payload: Uint8Array; keys: SealingKeys }> {
  const parsed = parseContainer(bytes, magic)
  let keys: SealingKeys
  try {
    keys = await keysFor(parsed, password)
  } catch (cause) {
    if (cause instanceof IdentityError) throw cause
    throw new MalformedArchiveError('Key derivation failed', { cause })
  }
  return { payload: openContainer(parsed, keys), keys }
}
