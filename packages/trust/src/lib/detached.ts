import { ed25519PublicKeyFromSeed, ed25519Sign, ed25519Verify } from './ed25519.ts'
import nacl from 'tweetnacl'
import { fromBase64Url, toBase64Url, utf8 } from './bytes.ts'
import { NAME_CLAIM_DOMAIN, PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SEED_BYTES, SIGNATURE_BYTES } from './constants.ts'
import { MalformedRecordError } from './errors.ts'
import { idFromPublicKey } from './ids.ts'

/** An Ed25519 key pair in tweetnacl's shape, plus its base64url public key and its ID. */
export interface KeyPair {
  /** 32 bytes */
  publicKey: Uint8Array
  /** 64 bytes: seed || publicKey (tweetnacl's format, what signRecord takes) */
  secretKey: Uint8Array
  /** base64url public key, as in a record's `signer` field */
  signer: string
  /** idFromPublicKey(publicKey) */
  id: string
}

function toKeyPair(seed: Uint8Array): KeyPair {
  const publicKey = ed25519PublicKeyFromSeed(seed)
  const secretKey = new Uint8Array(SECRET_KEY_BYTES)
  secretKey.set(seed)
  secretKey.set(publicKey, SEED_BYTES)
  return { publicKey, secretKey, signer: toBase64Url(publicKey), id: idFromPublicKey(publicKey) }
}

function checkSecretKey(secretKey: Uint8Array): void {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_BYTES) {
    throw new MalformedRecordError(`secret key must be ${SECRET_KEY_BYTES} bytes`)
  }
}

/** Deterministic key pair from a 32-byte seed. */
export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) throw new MalformedRecordError(`seed must be ${SEED_BYTES} bytes`)
  return toKeyPair(seed)
}

/** Fresh random key pair (tweetnacl's CSPRNG: crypto.getRandomValues or node:crypto). */
export function generateKeyPair(): KeyPair {
  return toKeyPair(nacl.randomBytes(SEED_BYTES))
}

/** base64url public key of a 64-byte tweetnacl secret key. */
export function publicKeyOf(secretKey: Uint8Array): string {
  checkSecretKey(secretKey)
  return toBase64Url(secretKey.subarray(32))
}

/** Ed25519 signature of message, base64url. */
export function signDetached(message: Uint8Array, secretKey: Uint8Array): string {
  checkSecretKey(secretKey)
  if (!(message instanceof Uint8Array)) throw new MalformedRecordError('message must be a Uint8Array')
  return toBase64Url(ed25519Sign(message, secretKey))
}

/** True if sig is a valid Ed25519 signature of message by publicKey. Never throws: bad input → false. */
export function verifyDetached(message: Uint8Array, sig: string | Uint8Array, publicKey: string | Uint8Array): boolean {
  try {
    const s = typeof sig === 'string' ? fromBase64Url(sig) : sig
    const k = typeof publicKey === 'string' ? fromBase64Url(publicKey) : publicKey
    if (!(message instanceof Uint8Array) || !(s instanceof Uint8Array) || !(k instanceof Uint8Array)) return false
    if (s.length !== SIGNATURE_BYTES || k.length !== PUBLIC_KEY_BYTES) return false
    return ed25519Verify(message, s, k)
  } catch {
    return false
  }
}

/** What the account key signs to ask for a username registration. */
export interface NameClaim {
  name: string
  /** 0x Ethereum address of the registering wallet */
  owner: string
  chainId: bigint | number
  /** 0x address of the registry contract */
  registry: string
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/

/**
 * utf8("baran.name-claim.v1\0" + name + "\0" + owner.toLowerCase() + "\0" + String(chainId) + "\0" + registry.toLowerCase()).
 * Throws MalformedRecordError for a name that is empty or contains NUL (it would make the message
 * ambiguous), a bad address, or a chainId that is not a non-negative integer.
 */
export function nameClaimMessage(claim: NameClaim): Uint8Array {
  const { name, owner, chainId, registry } = claim ?? ({} as NameClaim)
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) throw new MalformedRecordError('name claim: bad name')
  if (typeof owner !== 'string' || !ADDRESS_RE.test(owner)) throw new MalformedRecordError('name claim: owner must be a 0x address')
  if (typeof registry !== 'string' || !ADDRESS_RE.test(registry)) throw new MalformedRecordError('name claim: registry must be a 0x address')
  const chainOk =
    (typeof chainId === 'bigint' && chainId >= 0n) || (typeof chainId === 'number' && Number.isSafeInteger(chainId) && chainId >= 0)
  if (!chainOk) throw new MalformedRecordError('name claim: chainId must be a non-negative integer')
  return utf8(`${NAME_CLAIM_DOMAIN}${name}\0${owner.toLowerCase()}\0${String(chainId)}\0${registry.toLowerCase()}`)
}
