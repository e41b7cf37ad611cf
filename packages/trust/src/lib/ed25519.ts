import nacl from 'tweetnacl'

/**
 * Ed25519 and SHA-512 with a fast path: on Node, the built-in implementation (OpenSSL, ~50× faster than pure
 * JS); elsewhere (the browser UI), tweetnacl. Ed25519 is deterministic (RFC 8032), so both produce the same
 * signatures and verify each other's.
 */
type NodeCrypto = typeof import('node:crypto')
const nodeCrypto: NodeCrypto | undefined = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined

// KeyObjects are costly to build: keep the most recent ones (DHT nodes verify the same keys over and over).
const MAX_CACHED_KEYS = 4096
const publicKeys = new Map<string, import('node:crypto').KeyObject>()
const privateKeys = new Map<string, import('node:crypto').KeyObject>()

function b64u(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')
}

function cached(map: Map<string, import('node:crypto').KeyObject>, id: string, make: () => import('node:crypto').KeyObject) {
  let k = map.get(id)
  if (k) return k
  k = make()
  if (map.size >= MAX_CACHED_KEYS) map.delete(map.keys().next().value as string)
  map.set(id, k)
  return k
}

export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (!nodeCrypto || secretKey.length !== 64) return nacl.sign.detached(message, secretKey)
  const seed = b64u(secretKey.subarray(0, 32))
  const key = cached(privateKeys, seed, () =>
    nodeCrypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed, x: b64u(secretKey.subarray(32)) }, format: 'jwk' }),
  )
  return new Uint8Array(nodeCrypto.sign(null, message, key))
}

export function ed25519Verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false
  if (!nodeCrypto) return nacl.sign.detached.verify(message, signature, publicKey)
  try {
    const x = b64u(publicKey)
    const key = cached(publicKeys, x, () => nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }))
    return nodeCrypto.verify(null, message, key, signature)
  } catch {
    // A 32-byte string that is not a curve point: not a valid key, so not a valid signature.
    return false
  }
}

export function sha512(data: Uint8Array): Uint8Array {
  if (!nodeCrypto) return nacl.hash(data)
  return new Uint8Array(nodeCrypto.createHash('sha512').update(data).digest())
}
