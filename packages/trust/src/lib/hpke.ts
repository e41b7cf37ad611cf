/**
 * HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305, from hpke-js.
 * hpke-js runs the protocol; its primitives come from, by preference: node:crypto, synchronous (Node: hpke-node.ts);
 * the platform's WebCrypto X25519 and HMAC (recent browsers) with the pure-JS ChaCha20-Poly1305; all pure JS
 * (@hpke/dhkem-x25519) otherwise. All are the same suite (0x0020, 0x0001, 0x0003) and open each other's envelopes.
 */
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305'
import { CipherSuite, HkdfSha256, DhkemX25519HkdfSha256 as NativeX25519 } from '@hpke/core'
import { DhkemX25519HkdfSha256 as PureX25519 } from '@hpke/dhkem-x25519'
import { NodeChacha20Poly1305, NodeDhkemX25519HkdfSha256, NodeHkdfSha256 } from './hpke-node.ts'
import { nodeCrypto } from './node-crypto.ts'

/** Which implementation a suite's primitives use ('node': X25519, HMAC and ChaCha20-Poly1305 all from node:crypto). */
export type X25519Implementation = 'node' | 'webcrypto' | 'pure-js'

const suites = new Map<X25519Implementation, CipherSuite>()
let preferred: Promise<X25519Implementation> | undefined

async function hasWebCryptoX25519(): Promise<boolean> {
  try {
    const subtle = (globalThis as { crypto?: { subtle?: { generateKey(a: object, e: boolean, u: string[]): Promise<unknown> } } }).crypto?.subtle
    if (!subtle) return false
    await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits'])
    return true
  } catch {
    return false
  }
}

/** Which implementation this runtime uses (node:crypto on Node, else WebCrypto when it has X25519). */
export async function x25519Implementation(): Promise<X25519Implementation> {
  if (nodeCrypto) return 'node'
  preferred ??= hasWebCryptoX25519().then((ok) => (ok ? 'webcrypto' : 'pure-js'))
  return preferred
}

function makeSuite(which: X25519Implementation): CipherSuite {
  if (which === 'node') {
    if (!nodeCrypto) throw new Error('node:crypto is not available in this runtime')
    return new CipherSuite({ kem: new NodeDhkemX25519HkdfSha256(nodeCrypto), kdf: new NodeHkdfSha256(nodeCrypto), aead: new NodeChacha20Poly1305(nodeCrypto) })
  }
  const kem = which === 'webcrypto' ? new NativeX25519() : new PureX25519()
  return new CipherSuite({ kem, kdf: new HkdfSha256(), aead: new Chacha20Poly1305() })
}

/** The HPKE suite (built once per implementation); `impl` forces one (tests check they all agree). */
export async function hpkeSuite(impl?: X25519Implementation): Promise<CipherSuite> {
  const which = impl ?? (await x25519Implementation())
  let suite = suites.get(which)
  if (!suite) {
    suite = makeSuite(which)
    suites.set(which, suite)
  }
  return suite
}

const nodeAead = nodeCrypto ? new NodeChacha20Poly1305(nodeCrypto) : undefined

/** ChaCha20-Poly1305 with a 32-byte key (the envelope's content key). */
export function contentCipher(key: Uint8Array) {
  return (nodeAead ?? new Chacha20Poly1305()).createEncryptionContext(key)
}

/**
 * The X25519 key pair of a 32-byte seed (RFC 9180 DeriveKeyPair): a device keeps only the seed, and its public
 * key (the certificate's `encKey`) always follows from it.
 */
export async function encryptionKeyPairFromSeed(seed: Uint8Array): Promise<{ publicKey: Uint8Array; privateKey: Uint8Array }> {
  const suite = await hpkeSuite()
  const kp = await suite.kem.deriveKeyPair(seed)
  return {
    publicKey: new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey)),
    privateKey: new Uint8Array(await suite.kem.serializePrivateKey(kp.privateKey)),
  }
}
