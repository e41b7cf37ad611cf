import { hkdfSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NodeChacha20Poly1305, NodeHkdfSha256 } from '../src/lib/hpke-node.ts'
import { hpkeSuite, type X25519Implementation } from '../src/lib/hpke.ts'
import { nodeCrypto } from '../src/lib/node-crypto.ts'

/**
 * RFC 9180 Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, base mode (mode 0, kem_id 32,
 * kdf_id 1, aead_id 3), copied from the RFC's text.
 */
const A21 = {
  info: '4f6465206f6e2061204772656369616e2055726e',
  ikmE: '909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b',
  pkEm: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
  skEm: 'f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600',
  ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
  pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
  skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
  enc: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
  sharedSecret: '0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7',
  key: 'ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91',
  baseNonce: '5c4d98150661b848853b547f',
  exporterSecret: 'a3b010d4994890e2c6968a36f64470d3c824c8f5029942feb11e7a74b2921922',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  encryptions: [
    {
      seq: 0,
      aad: '436f756e742d30',
      nonce: '5c4d98150661b848853b547f',
      ct: '1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28',
    },
    {
      seq: 1,
      aad: '436f756e742d31',
      nonce: '5c4d98150661b848853b547e',
      ct: '6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c',
    },
    {
      seq: 2,
      aad: '436f756e742d32',
      nonce: '5c4d98150661b848853b547d',
      ct: '71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b',
    },
    {
      seq: 4,
      aad: '436f756e742d34',
      nonce: '5c4d98150661b848853b547b',
      ct: '63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122bb153495ff0b02e9e54a50dbe16',
    },
    {
      seq: 255,
      aad: '436f756e742d323535',
      nonce: '5c4d98150661b848853b5480',
      ct: '18ab939d63ddec9f6ac2b60d61d36a7375d2070c9b683861110757062c52b8880a5f6b3936da9cd6c23ef2a95c',
    },
    {
      seq: 256,
      aad: '436f756e742d323536',
      nonce: '5c4d98150661b848853b557f',
      ct: '7a4a13e9ef23978e2c520fd4d2e757514ae160cd0cd05e556ef692370ca53076214c0c40d4c728d6ed9e727a5b',
    },
  ],
  exports: [
    { context: '', value: '4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e' },
    { context: '00', value: '8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69' },
    { context: '54657374436f6e74657874', value: '5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53' },
  ],
}

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex')
/** "Count-<seq>", the RFC's aad of each encryption. */
const countAad = (seq: number) => new TextEncoder().encode(`Count-${seq}`)

const IMPLEMENTATIONS: X25519Implementation[] = ['node', 'webcrypto', 'pure-js']

describe.each(IMPLEMENTATIONS)('RFC 9180 A.2.1 with the %s suite', (impl) => {
  it('DeriveKeyPair gives the vector key pairs; encap with ikmE gives enc and shared_secret; decap agrees', async () => {
    const suite = await hpkeSuite(impl)
    const r = await suite.kem.deriveKeyPair(hex(A21.ikmR))
    expect(toHex(await suite.kem.serializePublicKey(r.publicKey))).toBe(A21.pkRm)
    expect(toHex(await suite.kem.serializePrivateKey(r.privateKey))).toBe(A21.skRm)
    const e = await suite.kem.deriveKeyPair(hex(A21.ikmE))
    expect(toHex(await suite.kem.serializePublicKey(e.publicKey))).toBe(A21.pkEm)
    expect(toHex(await suite.kem.serializePrivateKey(e.privateKey))).toBe(A21.skEm)

    const recipientPublicKey = await suite.kem.deserializePublicKey(hex(A21.pkRm))
    const encapped = await suite.kem.encap({ recipientPublicKey, ekm: hex(A21.ikmE) })
    expect(toHex(encapped.enc)).toBe(A21.enc)
    expect(toHex(encapped.sharedSecret)).toBe(A21.sharedSecret)
    const recipientKey = await suite.kem.deserializePrivateKey(hex(A21.skRm))
    expect(toHex(await suite.kem.decap({ recipientKey, enc: hex(A21.enc) }))).toBe(A21.sharedSecret)
  })

  it('the key schedule and the sequence of encryptions: each listed ciphertext, opened in order; the exported values', async () => {
    const suite = await hpkeSuite(impl)
    const info = hex(A21.info)
    const sender = await suite.createSenderContext({ recipientPublicKey: await suite.kem.deserializePublicKey(hex(A21.pkRm)), info, ekm: hex(A21.ikmE) })
    expect(toHex(sender.enc)).toBe(A21.enc)
    // The key schedule's outputs, read from hpke-js's context (not part of its typed API; the test's oracle only).
    const schedule = sender as unknown as { exporterSecret: ArrayBuffer; _ctx: { baseNonce: Uint8Array; seq: number } }
    expect(toHex(schedule.exporterSecret)).toBe(A21.exporterSecret)
    expect(toHex(schedule._ctx.baseNonce)).toBe(A21.baseNonce)
    const recipient = await suite.createRecipientContext({ recipientKey: await suite.kem.deserializePrivateKey(hex(A21.skRm)), enc: hex(A21.enc), info })
    const listed = new Map(A21.encryptions.map((x) => [x.seq, x]))
    const pt = hex(A21.pt)
    for (let seq = 0; seq <= 256; seq++) {
      const ct = await sender.seal(pt, countAad(seq))
      const vector = listed.get(seq)
      if (vector) {
        expect(toHex(countAad(seq))).toBe(vector.aad)
        expect(toHex(ct), `sequence number ${seq}`).toBe(vector.ct)
      }
      expect(toHex(await recipient.open(ct, countAad(seq)))).toBe(A21.pt)
    }
    // exporter_secret, through the exported values (sender and recipient)
    for (const x of A21.exports) {
      expect(toHex(await sender.export(hex(x.context), 32))).toBe(x.value)
      expect(toHex(await recipient.export(hex(x.context), 32))).toBe(x.value)
    }
  })

  it('the AEAD alone with the schedule’s key and nonces gives the listed ciphertexts', async () => {
    const suite = await hpkeSuite(impl)
    const aead = suite.aead.createEncryptionContext(hex(A21.key))
    for (const x of A21.encryptions) {
      expect(toHex(await aead.seal(hex(x.nonce), hex(A21.pt), hex(x.aad)))).toBe(x.ct)
      expect(toHex(await aead.open(hex(x.nonce), hex(x.ct), hex(x.aad)))).toBe(A21.pt)
    }
    // Same AEAD, same nonce, same ciphertexts as the schedule's context above: the schedule derived this key.
  })
})

describe('the node:crypto primitives refuse bad input like hpke-js’s', () => {
  it('every pair of implementations opens the other’s sealed messages', async () => {
    const r = await (await hpkeSuite('pure-js')).kem.deriveKeyPair(new Uint8Array(32).fill(9))
    const pure = await hpkeSuite('pure-js')
    const publicKey = new Uint8Array(await pure.kem.serializePublicKey(r.publicKey))
    const privateKey = new Uint8Array(await pure.kem.serializePrivateKey(r.privateKey))
    const info = new Uint8Array([1, 2, 3])
    const aad = new Uint8Array([4, 5])
    const msg = new TextEncoder().encode('interop')
    for (const a of IMPLEMENTATIONS) {
      for (const b of IMPLEMENTATIONS) {
        const A = await hpkeSuite(a)
        const B = await hpkeSuite(b)
        const s = await A.seal({ recipientPublicKey: await A.kem.deserializePublicKey(publicKey), info }, msg, aad)
        const pt = await B.open({ recipientKey: await B.kem.deserializePrivateKey(privateKey), enc: s.enc, info }, s.ct, aad)
        expect(new TextDecoder().decode(pt), `${a} → ${b}`).toBe('interop')
      }
    }
  })

  it('wrong key, tampered ciphertext or aad, bad public keys: the same hpke-js errors on every suite', async () => {
    const names: Record<string, string[]> = {}
    for (const impl of IMPLEMENTATIONS) {
      const suite = await hpkeSuite(impl)
      const got: string[] = []
      const errorName = async (p: Promise<unknown>) => {
        try {
          await p
        } catch (e) {
          got.push((e as Error).name)
          return
        }
        got.push('accepted')
      }
      const r = await suite.kem.deriveKeyPair(new Uint8Array(32).fill(1))
      const other = await suite.kem.deriveKeyPair(new Uint8Array(32).fill(2))
      const info = new Uint8Array([7])
      const s = await suite.seal({ recipientPublicKey: r.publicKey, info }, new Uint8Array([1, 2, 3]), new Uint8Array([8]))
      const ct = new Uint8Array(s.ct)
      await errorName(suite.open({ recipientKey: other.privateKey, enc: s.enc, info }, ct, new Uint8Array([8])))
      const flipped = ct.slice()
      flipped[0]! ^= 1
      await errorName(suite.open({ recipientKey: r.privateKey, enc: s.enc, info }, flipped, new Uint8Array([8])))
      await errorName(suite.open({ recipientKey: r.privateKey, enc: s.enc, info }, ct, new Uint8Array([9])))
      await errorName(suite.open({ recipientKey: r.privateKey, enc: s.enc, info }, ct.subarray(0, 10), new Uint8Array([8])))
      await errorName(suite.kem.deserializePublicKey(new Uint8Array(31)))
      await errorName(suite.kem.deserializePrivateKey(new Uint8Array(33)))
      // all zeros: a small-order point, whose X25519 output is all zeros (RFC 9180 §7.1.4)
      const zero = await suite.kem.deserializePublicKey(new Uint8Array(32)).catch(() => undefined)
      if (zero) await errorName(suite.seal({ recipientPublicKey: zero, info }, new Uint8Array([1])))
      else got.push('EncapError')
      names[impl] = got
    }
    expect(names.node).toEqual(['OpenError', 'OpenError', 'OpenError', 'OpenError', 'DeserializeError', 'DeserializeError', 'EncapError'])
    expect(names.webcrypto).toEqual(names.node)
    expect(names['pure-js']).toEqual(names.node)
  })

  it('the HMAC-based HKDF agrees with OpenSSL’s (hkdfSync) for any salt, ikm, info and length', async () => {
    const hkdf = new NodeHkdfSha256(nodeCrypto!)
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 255 * 32 }), async (salt, ikm, info, len) => {
        const ours = new Uint8Array(await hkdf.extractAndExpand(salt, ikm, info, len))
        expect(toHex(ours)).toBe(toHex(new Uint8Array(hkdfSync('sha256', ikm, salt, info, len))))
      }),
      { numRuns: 200 },
    )
    await expect(hkdf.expand(new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1)).rejects.toThrow(/Entropy limit/)
  })

  it('the content cipher refuses a key that is not 32 bytes and a ciphertext shorter than its tag', async () => {
    const aead = new NodeChacha20Poly1305(nodeCrypto!)
    expect(() => aead.createEncryptionContext(new Uint8Array(16))).toThrow(/32-byte key/)
    const ctx = aead.createEncryptionContext(new Uint8Array(32))
    await expect(ctx.open(new Uint8Array(12), new Uint8Array(15), new Uint8Array(0))).rejects.toThrow(/shorter than its tag/)
  })
})
