/**
 * HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305, from hpke-js.
 * X25519 runs in the platform's WebCrypto when it has it (Node 22, recent browsers: ~5× faster) and in the pure-JS
 * @hpke/dhkem-x25519 otherwise; both are the same KEM (0x0020) and open each other's envelopes.
 */
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305'
import { CipherSuite, HkdfSha256, DhkemX25519HkdfSha256 as NativeX25519 } from '@hpke/core'
import { DhkemX25519HkdfSha256 as PureX25519 } from '@hpke/dhkem-x25519'

/** Which X25519 implementation a suite uses. */
export type X25519Implementation = 'webcrypto' | 'pure-js'

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

/** Which X25519 implementation this runtime uses (WebCrypto when it has X25519). */
export async function x25519Implementation(): Promise<X25519Implementation> {
  preferred ??= hasWebCryptoX25519().then((ok) => (ok ? 'webcrypto' : 'pure-js'))
  return preferred
}

/** The HPKE suite; `impl` forces an X25519 implementation (tests check both agree). */
export async function hpkeSuite(impl?: X25519Implementation): Promise<CipherSuite> {
  const which = impl ?? (await x25519Implementation())
  let suite = suites.get(which)
  if (!suite) {
    const kem = which === 'webcrypto' ? new NativeX25519() : new PureX25519()
    suite = new CipherSuite({ kem, kdf: new HkdfSha256(), aead: new Chacha20Poly1305() })
    suites.set(which, suite)
  }
  return suite
}

/** ChaCha20-Poly1305 with a 32-byte key (the envelope's content key). */
export function contentCipher(key: Uint8Array) {
  return new Chacha20Poly1305().createEncryptionContext(key)
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
