/**
 * hpke-js primitives backed by node:crypto (OpenSSL, synchronous): X25519, HMAC-SHA256 for HKDF and
 * ChaCha20-Poly1305. hpke-js still runs the protocol (DHKEM's encap/decap, the key schedule, nonces and sequence
 * numbers); these only replace what its WebCrypto primitives did as async jobs on libuv's thread pool, which left a
 * sealing thread mostly waiting. Node only: the browser keeps hpke.ts's WebCrypto / pure-JS suites.
 */
import {
  AeadId,
  type AeadEncryptionContext,
  type AeadInterface,
  DeriveKeyPairError,
  DeserializeError,
  Dhkem,
  type DhkemPrimitives,
  EMPTY,
  HkdfSha256Native,
  InvalidParamError,
  KemId,
  LABEL_DKP_PRK,
  LABEL_SK,
  NotSupportedError,
  SerializeError,
} from '@hpke/common'
import { b64u, boundedGet, type NodeCrypto, type NodeKeyObject } from './node-crypto.ts'

type Bytes = ArrayBufferLike | ArrayBufferView
type CryptoKey = import('node:crypto').webcrypto.CryptoKey
type CryptoKeyPair = import('node:crypto').webcrypto.CryptoKeyPair
type JsonWebKey = import('node:crypto').webcrypto.JsonWebKey
type KeyUsage = import('node:crypto').webcrypto.KeyUsage

function view(b: Bytes): Uint8Array {
  return ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b)
}

/** A fresh ArrayBuffer of exactly these bytes (Node Buffers may share a pooled one). */
function own(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer
}

/** An X25519 key as hpke-js handles it (it only passes keys back to the primitives that made them). */
class NodeX25519Key {
  readonly algorithm = { name: 'X25519' }
  readonly extractable = true
  readonly usages: KeyUsage[]
  readonly type: 'public' | 'private'
  readonly key: NodeKeyObject
  /** public key: its 32 bytes, once known */
  publicBytes: Uint8Array | undefined
  /** private key: its public key, once derived */
  publicKey: NodeX25519Key | undefined
  constructor(type: 'public' | 'private', key: NodeKeyObject, publicBytes: Uint8Array | undefined) {
    this.type = type
    this.key = key
    this.publicBytes = publicBytes
    this.usages = type === 'private' ? ['deriveBits'] : []
  }
}

function nodeKey(k: CryptoKey, type: 'public' | 'private'): NodeX25519Key {
  if (!(k instanceof NodeX25519Key) || k.type !== type) throw new Error(`not a node:crypto X25519 ${type} key`)
  return k
}

const MAX_CACHED_PRIVATE_KEYS = 64

/** HKDF-SHA256 (RFC 5869) over node:crypto's HMAC; labels and suite IDs stay hpke-js's. */
export class NodeHkdfSha256 extends HkdfSha256Native {
  readonly #crypto: NodeCrypto
  constructor(crypto: NodeCrypto) {
    super()
    this.#crypto = crypto
  }

  override async extract(salt: Bytes, ikm: Bytes): Promise<ArrayBuffer> {
    return own(this.#extract(view(salt), view(ikm)))
  }

  override async expand(prk: Bytes, info: Bytes, len: number): Promise<ArrayBuffer> {
    return own(this.#expand(view(prk), view(info), len))
  }

  override async extractAndExpand(salt: Bytes, ikm: Bytes, info: Bytes, len: number): Promise<ArrayBuffer> {
    // Plain HMACs: node:crypto's hkdfSync costs more than the two HMACs it saves here (measured: ~9.5 µs vs ~2.6 µs each).
    return own(this.#expand(this.#extract(view(salt), view(ikm)), view(info), len))
  }

  #extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
    // RFC 5869: an empty salt is Nh zero bytes (the same HMAC key); any other length is a valid HMAC key.
    return this.#crypto.createHmac('sha256', salt.length === 0 ? new Uint8Array(this.hashSize) : salt).update(ikm).digest()
  }

  #expand(prk: Uint8Array, info: Uint8Array, len: number): Uint8Array {
    if (len > 255 * this.hashSize) throw new Error('Entropy limit reached')
    const out = new Uint8Array(len)
    let prev: Uint8Array = EMPTY
    for (let i = 1, at = 0; at < len; i++) {
      prev = this.#crypto.createHmac('sha256', prk).update(prev).update(info).update(new Uint8Array([i])).digest()
      out.set(prev.subarray(0, Math.min(prev.length, len - at)), at)
      at += prev.length
    }
    return out
  }
}

// DER headers of a raw 32-byte X25519 key (RFC 8410), as hpke-js's WebCrypto X25519 imports them.
const PKCS8_X25519 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])

/** X25519 for hpke-js's Dhkem, over node:crypto. Private keys are cached by their bytes (a device opens with one). */
class NodeX25519 implements DhkemPrimitives {
  readonly #crypto: NodeCrypto
  readonly #hkdf: NodeHkdfSha256
  // A device opens with the same private key every time; few of them, so a small bound.
  readonly #privateKeys = new Map<string, NodeX25519Key>()

  constructor(crypto: NodeCrypto, hkdf: NodeHkdfSha256) {
    this.#crypto = crypto
    this.#hkdf = hkdf
  }

  async serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    try {
      return own(this.#publicBytes(nodeKey(key, 'public')))
    } catch (e) {
      throw new SerializeError(e)
    }
  }

  async deserializePublicKey(key: Bytes): Promise<CryptoKey> {
    try {
      return this.#importPublic(view(key))
    } catch (e) {
      throw new DeserializeError(e)
    }
  }

  async serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    try {
      const { d } = nodeKey(key, 'private').key.export({ format: 'jwk' })
      if (d === undefined) throw new Error('Not private key')
      return own(Buffer.from(d, 'base64url'))
    } catch (e) {
      throw new SerializeError(e)
    }
  }

  async deserializePrivateKey(key: Bytes): Promise<CryptoKey> {
    try {
      const raw = view(key)
      if (raw.length !== 32) throw new Error('Invalid private key for the ciphersuite')
      return boundedGet(this.#privateKeys, MAX_CACHED_PRIVATE_KEYS, b64u(raw), () => this.#importPrivate(raw))
    } catch (e) {
      throw new DeserializeError(e)
    }
  }

  async importKey(format: 'raw' | 'jwk', key: ArrayBuffer | JsonWebKey, isPublic: boolean): Promise<CryptoKey> {
    try {
      if (format === 'raw') {
        if (!(key instanceof ArrayBuffer)) throw new Error('Invalid raw key')
        return isPublic ? this.#importPublic(new Uint8Array(key)) : this.#importPrivate(new Uint8Array(key))
      }
      if (key instanceof ArrayBuffer || key.kty !== 'OKP' || key.crv !== 'X25519') throw new Error('Invalid jwk key format')
      if (isPublic !== (key.d === undefined)) throw new Error(isPublic ? 'Invalid key: `d` should not be set' : 'Invalid key: `d` not found')
      const bytes = Buffer.from((isPublic ? key.x : key.d) ?? '', 'base64url')
      return isPublic ? this.#importPublic(bytes) : this.#importPrivate(bytes)
    } catch (e) {
      throw new DeserializeError(e)
    }
  }

  async generateKeyPair(): Promise<CryptoKeyPair> {
    try {
      const kp = this.#crypto.generateKeyPairSync('x25519')
      const publicKey = new NodeX25519Key('public', kp.publicKey, undefined)
      return { publicKey: publicKey as unknown as CryptoKey, privateKey: new NodeX25519Key('private', kp.privateKey, undefined) as unknown as CryptoKey }
    } catch (e) {
      throw new NotSupportedError(e)
    }
  }

  /** RFC 9180 §7.1.3 DeriveKeyPair for X25519: sk = LabeledExpand(LabeledExtract("", "dkp_prk", ikm), "sk", "", 32). */
  async deriveKeyPair(ikm: Bytes): Promise<CryptoKeyPair> {
    try {
      const prk = await this.#hkdf.labeledExtract(EMPTY, LABEL_DKP_PRK, view(ikm))
      const sk = new Uint8Array(await this.#hkdf.labeledExpand(prk, LABEL_SK, EMPTY, 32))
      const privateKey = this.#importPrivate(sk)
      sk.fill(0)
      return { privateKey, publicKey: await this.derivePublicKey(privateKey) }
    } catch (e) {
      throw new DeriveKeyPairError(e)
    }
  }

  async derivePublicKey(key: CryptoKey): Promise<CryptoKey> {
    try {
      const sk = nodeKey(key, 'private')
      sk.publicKey ??= new NodeX25519Key('public', this.#crypto.createPublicKey(sk.key), undefined)
      return sk.publicKey as unknown as CryptoKey
    } catch (e) {
      throw new DeserializeError(e)
    }
  }

  async dh(sk: CryptoKey, pk: CryptoKey): Promise<ArrayBuffer> {
    try {
      const shared = this.#crypto.diffieHellman({ privateKey: nodeKey(sk, 'private').key, publicKey: nodeKey(pk, 'public').key })
      // RFC 9180 §7.1.4: an all-zero X25519 output (a small-order public key) must abort.
      if (shared.every((b) => b === 0)) throw new Error('X25519 shared secret is all zeros')
      return own(shared)
    } catch (e) {
      throw new SerializeError(e)
    }
  }

  #publicBytes(k: NodeX25519Key): Uint8Array {
    k.publicBytes ??= Buffer.from(k.key.export({ format: 'jwk' }).x ?? '', 'base64url')
    return k.publicBytes
  }

  // Not cached here: most public keys imported are one-shot ephemeral ones (enc); envelope.ts keeps recipients'.
  #importPublic(raw: Uint8Array): CryptoKey {
    if (raw.length !== 32) throw new Error('Invalid public key for the ciphersuite')
    const key = this.#crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(raw) }, format: 'jwk' })
    return new NodeX25519Key('public', key, raw.slice()) as unknown as CryptoKey
  }

  #importPrivate(raw: Uint8Array): NodeX25519Key & CryptoKey {
    if (raw.length !== 32) throw new Error('Invalid private key for the ciphersuite')
    const der = new Uint8Array(PKCS8_X25519.length + 32)
    der.set(PKCS8_X25519)
    der.set(raw, PKCS8_X25519.length)
    try {
      return new NodeX25519Key('private', this.#crypto.createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' }), undefined) as NodeX25519Key &
        CryptoKey
    } finally {
      der.fill(0)
    }
  }
}

/** DHKEM(X25519, HKDF-SHA256), KEM 0x0020: hpke-js's Dhkem over node:crypto primitives. */
export class NodeDhkemX25519HkdfSha256 extends Dhkem {
  override readonly secretSize = 32
  override readonly encSize = 32
  override readonly publicKeySize = 32
  override readonly privateKeySize = 32
  constructor(crypto: NodeCrypto) {
    const kdf = new NodeHkdfSha256(crypto)
    super(KemId.DhkemX25519HkdfSha256, new NodeX25519(crypto, kdf), kdf)
  }
}

/** ChaCha20-Poly1305 (RFC 8439), AEAD 0x0003, over node:crypto. */
export class NodeChacha20Poly1305 implements AeadInterface {
  readonly id = AeadId.Chacha20Poly1305
  readonly keySize = 32
  readonly nonceSize = 12
  readonly tagSize = 16
  readonly #crypto: NodeCrypto
  constructor(crypto: NodeCrypto) {
    this.#crypto = crypto
  }

  createEncryptionContext(key: Bytes): AeadEncryptionContext {
    const k = view(key)
    if (k.length !== this.keySize) throw new InvalidParamError('ChaCha20-Poly1305 needs a 32-byte key')
    const crypto = this.#crypto
    const secret = crypto.createSecretKey(k)
    const tagLength = this.tagSize
    return {
      async seal(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
        const pt = view(data)
        const c = crypto.createCipheriv('chacha20-poly1305', secret, view(iv), { authTagLength: tagLength })
        c.setAAD(view(aad), { plaintextLength: pt.length })
        const head = c.update(pt)
        const tail = c.final()
        const out = new Uint8Array(head.length + tail.length + tagLength)
        out.set(head)
        out.set(tail, head.length)
        out.set(c.getAuthTag(), head.length + tail.length)
        return out.buffer
      },
      async open(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
        const ct = view(data)
        if (ct.length < tagLength) throw new Error('ciphertext shorter than its tag')
        const d = crypto.createDecipheriv('chacha20-poly1305', secret, view(iv), { authTagLength: tagLength })
        d.setAuthTag(ct.subarray(ct.length - tagLength))
        d.setAAD(view(aad), { plaintextLength: ct.length - tagLength })
        const head = d.update(ct.subarray(0, ct.length - tagLength))
        const tail = d.final() // throws when the tag does not verify
        const out = new Uint8Array(head.length + tail.length)
        out.set(head)
        out.set(tail, head.length)
        return out.buffer
      },
    }
  }
}
