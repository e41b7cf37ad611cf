import { sha512 } from './ed25519.ts'
import { concatBytes, toHex, utf8 } from './bytes.ts'
import { ID_DOMAIN, PUBLIC_KEY_BYTES } from './constants.ts'
import { MalformedRecordError } from './errors.ts'

const ID_PREFIX = utf8(ID_DOMAIN)
const ID_RE = /^[0-9a-f]{40}$/

/**
 * Account or device ID: 40 lowercase hex chars, the first 20 bytes of
 * SHA-512("baran.id.v1\0" || publicKey) — a 160-bit ID of the same shape as a Jami ID.
 */
export function idFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new MalformedRecordError(`public key must be ${PUBLIC_KEY_BYTES} bytes`)
  }
  return toHex(sha512(concatBytes(ID_PREFIX, publicKey)).subarray(0, 20))
}

/** True if `s` has the shape of an ID (40 lowercase hex chars). */
export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_RE.test(s)
}
