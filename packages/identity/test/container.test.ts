import { canonicalDecode, canonicalEncode, fromBase64Url, toBase64Url } from '@baran/trust'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type ContainerHeader,
  decodeContainer,
  encodeContainer,
  hasMagic,
  keysFor,
  newSealingKeys,
  openContainer,
  parseContainer,
  type SealingKeys,
  sealContainer,
} from '../src/index.ts'
import { FAST_KDF, rejection, thrown } from './helpers.ts'

const MAGIC = 'TESTMAGC'
const enc = new TextEncoder()
const ARCHIVE_ERRORS = [
  'NotAnArchiveError',
  'UnsupportedArchiveVersionError',
  'TruncatedArchiveError',
  'WrongPasswordError',
  'TamperedArchiveError',
  'MalformedArchiveError',
]

/** Splits a container into prefix fields so a test can rebuild it with a changed header. */
function split(bytes: Uint8Array): { header: ContainerHeader; ciphertext: Uint8Array } {
  const len = (bytes[9]! << 8) | bytes[10]!
  return { header: canonicalDecode(bytes.subarray(11, 11 + len)) as ContainerHeader, ciphertext: bytes.subarray(11 + len) }
}

function rebuild(header: unknown, ciphertext: Uint8Array, magic = MAGIC, version = 1): Uint8Array {
  const h = canonicalEncode(header)
  return new Uint8Array([...enc.encode(magic), version, h.length >> 8, h.length & 255, ...h, ...ciphertext])
}

describe('container', () => {
  let keys: SealingKeys
  let sealed: Uint8Array
  const payload = enc.encode('{"hello":"world"}')

  beforeAll(async () => {
    keys = await newSealingKeys('pw', FAST_KDF)
    sealed = sealContainer(MAGIC, payload, keys)
  })

  it('round-trips any payload under the same keys, with a fresh nonce each time', async () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (data) => {
        const a = sealContainer(MAGIC, data, keys)
        const b = sealContainer(MAGIC, data, keys)
        expect(split(a).header.nonce).not.toBe(split(b).header.nonce)
        expect(Buffer.from(openContainer(parseContainer(a, MAGIC), keys)).equals(Buffer.from(data))).toBe(true)
      }),
      { numRuns: 100 },
    )
    const { payload: out } = await decodeContainer(sealed, MAGIC, 'pw')
    expect(new TextDecoder().decode(out)).toBe('{"hello":"world"}')
  })

  it('writes the documented layout and header', () => {
    expect(hasMagic(sealed, MAGIC)).toBe(true)
    expect(sealed[8]).toBe(1)
    const { header, ciphertext } = split(sealed)
    expect(Object.keys(header).sort()).toEqual(['check', 'ciphertextLength', 'compression', 'kdf', 'nonce'])
    expect(header.kdf).toMatchObject({ name: 'scrypt', ...FAST_KDF })
    expect(fromBase64Url(header.kdf.salt)).toHaveLength(16)
    expect(fromBase64Url(header.nonce)).toHaveLength(24)
    expect(fromBase64Url(header.check)).toHaveLength(16)
    expect(header.compression).toBe('brotli')
    expect(header.ciphertextLength).toBe(ciphertext.length)
  })

  it('encodeContainer derives fresh keys (fresh salt) every time', async () => {
    const a = await encodeContainer(MAGIC, payload, 'pw', FAST_KDF)
    const b = await encodeContainer(MAGIC, payload, 'pw', FAST_KDF)
    expect(split(a).header.kdf.salt).not.toBe(split(b).header.kdf.salt)
  })

  it('tells a wrong password from a tampered ciphertext', async () => {
    expect((await rejection(decodeContainer(sealed, MAGIC, 'PW'))).name).toBe('WrongPasswordError')
    const t = sealed.slice()
    t[t.length - 5]! ^= 1
    expect((await rejection(decodeContainer(t, MAGIC, 'pw'))).name).toBe('TamperedArchiveError')
  })

  it('detects a header that does not match the hash sealed inside (defence in depth)', () => {
    const parsed = parseContainer(sealed, MAGIC)
    const prefix = parsed.prefix.slice()
    prefix[0] = 0 // any change to the covered bytes
    const err = thrown(() => openContainer({ ...parsed, prefix }, keys))
    expect(err.name).toBe('TamperedArchiveError')
  })

  it('reports a changed nonce as tampering and a changed salt as a wrong password', async () => {
    const { header, ciphertext } = split(sealed)
    const nonce = fromBase64Url(header.nonce)
    nonce[0]! ^= 1
    const n = rebuild({ ...header, nonce: toBase64Url(nonce) }, ciphertext)
    expect((await rejection(decodeContainer(n, MAGIC, 'pw'))).name).toBe('TamperedArchiveError')
    const salt = fromBase64Url(header.kdf.salt)
    salt[0]! ^= 1
    const s = rebuild({ ...header, kdf: { ...header.kdf, salt: toBase64Url(salt) } }, ciphertext)
    expect((await rejection(decodeContainer(s, MAGIC, 'pw'))).name).toBe('WrongPasswordError')
  })

  it.each([
    ['empty input', () => new Uint8Array(0), 'NotAnArchiveError'],
    ['bad magic', () => rebuild(split(sealed).header, split(sealed).ciphertext, 'XXXXXXXX'), 'NotAnArchiveError'],
    ['a prefix of the magic', () => enc.encode('TESTM'), 'TruncatedArchiveError'],
    ['magic only', () => sealed.subarray(0, 8), 'TruncatedArchiveError'],
    ['future version', () => rebuild(split(sealed).header, split(sealed).ciphertext, MAGIC, 2), 'UnsupportedArchiveVersionError'],
    ['no header length', () => sealed.subarray(0, 10), 'TruncatedArchiveError'],
    ['cut in the header', () => sealed.subarray(0, 30), 'TruncatedArchiveError'],
    ['cut in the ciphertext', () => sealed.subarray(0, sealed.length - 1), 'TruncatedArchiveError'],
    ['trailing bytes', () => new Uint8Array([...sealed, 0]), 'MalformedArchiveError'],
    ['zero header length', () => new Uint8Array([...enc.encode(MAGIC), 1, 0, 0]), 'MalformedArchiveError'],
    ['non-canonical header', () => {
      const { header, ciphertext } = split(sealed)
      const h = enc.encode(JSON.stringify(header, null, 1))
      return new Uint8Array([...enc.encode(MAGIC), 1, h.length >> 8, h.length & 255, ...h, ...ciphertext])
    }, 'MalformedArchiveError'],
    ['unknown header field', () => rebuild({ ...split(sealed).header, extra: 1 }, split(sealed).ciphertext), 'MalformedArchiveError'],
    ['unknown compression', () => rebuild({ ...split(sealed).header, compression: 'gzip' }, split(sealed).ciphertext), 'MalformedArchiveError'],
    ['memory-bomb scrypt params', () => rebuild({ ...split(sealed).header, kdf: { ...split(sealed).header.kdf, N: 2 ** 30 } }, split(sealed).ciphertext), 'MalformedArchiveError'],
    ['too-weak scrypt params', () => rebuild({ ...split(sealed).header, kdf: { ...split(sealed).header.kdf, N: 2 } }, split(sealed).ciphertext), 'MalformedArchiveError'],
  ])('%s → %s', async (_, make, name) => {
    const err = await rejection(decodeContainer(make(), MAGIC, 'pw'))
    expect(err.name).toBe(name)
    expect(typeof (err as { code?: unknown }).code).toBe('string')
  })

  it('keysFor re-derives the sealing keys from a parsed container', async () => {
    const k = await keysFor(parseContainer(sealed, MAGIC), 'pw')
    expect(Buffer.from(k.encKey).equals(Buffer.from(keys.encKey))).toBe(true)
    expect(k.kdf).toEqual(keys.kdf)
  })

  it('fuzz: random bytes only ever give an archive error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (data) => {
        const err = await rejection(decodeContainer(data, MAGIC, 'pw'))
        expect(ARCHIVE_ERRORS).toContain(err.name)
      }),
      { numRuns: 300 },
    )
  })

  it('fuzz: random bytes behind a valid magic and version only ever give an archive error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (data) => {
        const err = await rejection(decodeContainer(new Uint8Array([...enc.encode(MAGIC), 1, ...data]), MAGIC, 'pw'))
        expect(ARCHIVE_ERRORS).toContain(err.name)
      }),
      { numRuns: 300 },
    )
  })
})
