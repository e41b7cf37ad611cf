import nacl from 'tweetnacl'
import { b64u, boundedGet, type NodeKeyObject, nodeCrypto } from './node-crypto.ts'

/**
 * Ed25519 and SHA-512 with a fast path: on Node, the built-in implementation (OpenSSL, ~50× faster than pure
 * JS); elsewhere (the browser UI), tweetnacl. Ed25519 is deterministic (RFC 8032), so both produce the same
 * signatures and verify each other's.
 */
// KeyObjects are costly to build: keep the most recent ones (DHT nodes verify the same keys over and over).
const MAX_CACHED_KEYS = 4096
const publicKeys = new Map<string, NodeKeyObject>()
const privateKeys = new Map<string, NodeKeyObject>()
const cached = (map: Map<string, NodeKeyObject>, id: string, make: () => NodeKeyObject) => boundedGet(map, MAX_CACHED_KEYS, id, make)

export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const nc = nodeCrypto
  if (!nc || secretKey.length !== 64) return nacl.sign.detached(message, secretKey)
  const seed = b64u(secretKey.subarray(0, 32))
  const key = cached(privateKeys, seed, () =>
    nc.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed, x: b64u(secretKey.subarray(32)) }, format: 'jwk' }),
  )
  return new Uint8Array(nc.sign(null, message, key))
}

export function ed25519Verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false
  const nc = nodeCrypto
  if (!nc) return nacl.sign.detached.verify(message, signature, publicKey)
  try {
    const x = b64u(publicKey)
    const key = cached(publicKeys, x, () => nc.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }))
    return nc.verify(null, message, key, signature)
  } catch {
    // A 32-byte string that is not a curve point: not a valid key, so not a valid signature.
    return false
  }
}

/** PKCS #8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
/** SubjectPublicKeyInfo DER of an Ed25519 public key is this many bytes before the key. */
const SPKI_ED25519_HEADER = 12

/**
 * The 32-byte public key of a 32-byte Ed25519 seed (RFC 8032), as tweetnacl's keyPair.fromSeed gives it. On Node
 * through OpenSSL: tweetnacl's pure-JS scalar multiplication took ~50-100 ms on a fresh thread, twice in identity's
 * start (the account and the device key of the key store).
 */
export function ed25519PublicKeyFromSeed(seed: Uint8Array): Uint8Array {
  const nc = nodeCrypto
  if (!nc || seed.length !== 32) return nacl.sign.keyPair.fromSeed(seed).publicKey
  const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32)
  der.set(PKCS8_ED25519_PREFIX)
  der.set(seed, PKCS8_ED25519_PREFIX.length)
  const key = nc.createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' })
  return new Uint8Array(nc.createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_HEADER))
}

export function sha512(data: Uint8Array): Uint8Array {
  if (!nodeCrypto) return nacl.hash(data)
  return new Uint8Array(nodeCrypto.createHash('sha512').update(data).digest())
}
