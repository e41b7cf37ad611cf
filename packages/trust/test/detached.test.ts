import fc from 'fast-check'
import nacl from 'tweetnacl'
import { describe, expect, it } from 'vitest'
import { fromBase64Url, toBase64Url, utf8 } from '../src/lib/bytes.ts'
import { generateKeyPair, keyPairFromSeed, nameClaimMessage, publicKeyOf, signDetached, verifyDetached } from '../src/lib/detached.ts'
import { idFromPublicKey } from '../src/lib/ids.ts'
import { account, expectTrustError, otherAccount } from './fixtures.ts'

const text = (b: Uint8Array) => new TextDecoder().decode(b)

describe('key pairs', () => {
  it('keyPairFromSeed is deterministic and matches tweetnacl', () => {
    const seed = new Uint8Array(32).fill(7)
    const kp = keyPairFromSeed(seed)
    const want = nacl.sign.keyPair.fromSeed(seed)
    expect(kp.publicKey).toEqual(want.publicKey)
    expect(kp.secretKey).toEqual(want.secretKey)
    expect(kp.signer).toBe(toBase64Url(want.publicKey))
    expect(kp.id).toBe(idFromPublicKey(want.publicKey))
    expect(publicKeyOf(kp.secretKey)).toBe(kp.signer)
  })

  it('generateKeyPair gives fresh keys', () => {
    const a = generateKeyPair()
    const b = generateKeyPair()
    expect(a.signer).not.toBe(b.signer)
    expect(a.secretKey).toHaveLength(64)
  })

  it('rejects bad seeds and secret keys', () => {
    expectTrustError(() => keyPairFromSeed(new Uint8Array(31)), 'MalformedRecordError', 'malformed')
    expectTrustError(() => publicKeyOf(new Uint8Array(32)), 'MalformedRecordError', 'malformed')
    expectTrustError(() => signDetached(utf8('m'), new Uint8Array(32)), 'MalformedRecordError', 'malformed')
  })
})

describe('signDetached / verifyDetached', () => {
  it('verifies with string or byte forms, and only for the right key and message', () => {
    const msg = utf8('hello')
    const sig = signDetached(msg, account.secretKey)
    expect(fromBase64Url(sig)).toHaveLength(64)
    expect(verifyDetached(msg, sig, account.signer)).toBe(true)
    expect(verifyDetached(msg, fromBase64Url(sig), account.publicKey)).toBe(true)
    expect(verifyDetached(msg, sig, otherAccount.signer)).toBe(false)
    expect(verifyDetached(utf8('hellp'), sig, account.signer)).toBe(false)
  })

  it('returns false, never throws, on malformed input', () => {
    const msg = utf8('hello')
    const sig = signDetached(msg, account.secretKey)
    const bad: [unknown, unknown, unknown][] = [
      [msg, 'not base64!', account.signer],
      [msg, sig, 'short'],
      [msg, sig.slice(1), account.signer],
      [msg, new Uint8Array(63), account.publicKey],
      [msg, sig, new Uint8Array(33)],
      ['hello', sig, account.signer],
      [msg, null, account.signer],
      [msg, sig, undefined],
      [null, null, null],
    ]
    for (const [m, s, k] of bad) expect(verifyDetached(m as Uint8Array, s as string, k as string)).toBe(false)
  })

  it('never throws for arbitrary inputs (property)', () => {
    fc.assert(
      fc.property(fc.anything(), fc.oneof(fc.anything(), fc.string(), fc.uint8Array({ maxLength: 70 })), fc.oneof(fc.anything(), fc.string(), fc.uint8Array({ maxLength: 40 })), (m, s, k) => {
        expect(verifyDetached(m as Uint8Array, s as string, k as string)).toBe(false)
      }),
      { numRuns: 500 },
    )
  })
})

describe('nameClaimMessage', () => {
  const claim = {
    name: 'alice',
    owner: '0xAbCdEf0123456789aBcDeF0123456789AbCdEf01',
    chainId: 31337,
    registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  }

  it('is the exact documented byte string, addresses lowercased', () => {
    expect(text(nameClaimMessage(claim))).toBe(
      'baran.name-claim.v1\0alice\0' +
        '0xabcdef0123456789abcdef0123456789abcdef01\0' +
        '31337\0' +
        '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    )
  })

  it('treats a bigint and a number chainId alike', () => {
    expect(nameClaimMessage({ ...claim, chainId: 31337n })).toEqual(nameClaimMessage(claim))
  })

  it('signs and verifies as a detached signature', () => {
    const sig = signDetached(nameClaimMessage(claim), account.secretKey)
    expect(verifyDetached(nameClaimMessage(claim), sig, account.signer)).toBe(true)
    expect(verifyDetached(nameClaimMessage({ ...claim, name: 'alicf' }), sig, account.signer)).toBe(false)
    expect(verifyDetached(nameClaimMessage({ ...claim, chainId: 1 }), sig, account.signer)).toBe(false)
  })

  it.each([
    ['an empty name', { name: '' }],
    ['a name with NUL', { name: 'a\0b' }],
    ['a bad owner', { owner: '0x123' }],
    ['an owner without 0x', { owner: 'abcdef0123456789abcdef0123456789abcdef01' }],
    ['a bad registry', { registry: 'registry' }],
    ['a negative chainId', { chainId: -1 }],
    ['a float chainId', { chainId: 1.5 }],
    ['a string chainId', { chainId: '1' }],
  ])('rejects %s with MalformedRecordError', (_what, over) => {
    expectTrustError(() => nameClaimMessage({ ...claim, ...over } as typeof claim), 'MalformedRecordError', 'malformed')
  })
})

describe('the Node fast path and tweetnacl agree', () => {
  it('produce the same signatures and verify each other', async () => {
    const nacl = (await import('tweetnacl')).default
    const { ed25519Sign, ed25519Verify } = await import('../src/lib/ed25519.ts')
    for (let i = 0; i < 20; i++) {
      const kp = nacl.sign.keyPair()
      const msg = nacl.randomBytes(i * 7)
      const fast = ed25519Sign(msg, kp.secretKey)
      expect(Buffer.from(fast).equals(Buffer.from(nacl.sign.detached(msg, kp.secretKey)))).toBe(true)
      expect(nacl.sign.detached.verify(msg, fast, kp.publicKey)).toBe(true)
      expect(ed25519Verify(msg, fast, kp.publicKey)).toBe(true)
      fast[0] = (fast[0] ?? 0) ^ 1
      expect(ed25519Verify(msg, fast, kp.publicKey)).toBe(false)
    }
    // 32 bytes that are not a curve point never verify (and never throw)
    expect(ed25519Verify(new Uint8Array(1), new Uint8Array(64), new Uint8Array(32).fill(255))).toBe(false)
  })
})

describe('public keys from seeds', () => {
  it('match tweetnacl for random seeds and RFC 8032 test 1', async () => {
    const { ed25519PublicKeyFromSeed } = await import('../src/lib/ed25519.ts')
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        expect(ed25519PublicKeyFromSeed(seed)).toEqual(nacl.sign.keyPair.fromSeed(seed).publicKey)
      }),
      { numRuns: 50 },
    )
    // RFC 8032 section 7.1, TEST 1
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex')
    expect(Buffer.from(ed25519PublicKeyFromSeed(seed)).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    // a seed of another length takes tweetnacl's path, which refuses it
    expect(() => ed25519PublicKeyFromSeed(new Uint8Array(31))).toThrow()
  })

  it('generateKeyPair gives a secret key whose halves belong together', () => {
    const kp = generateKeyPair()
    expect(kp.publicKey).toEqual(nacl.sign.keyPair.fromSeed(kp.secretKey.subarray(0, 32)).publicKey)
    expect(verifyDetached(utf8('m'), signDetached(utf8('m'), kp.secretKey), kp.signer)).toBe(true)
  })
})
