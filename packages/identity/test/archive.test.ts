import { canonicalDecode, canonicalEncode, fromBase64Url, generateKeyPair, toBase64Url } from '@baran/trust'
import { Wallet } from 'ethers'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type AccountPayload,
  ARCHIVE_MAGIC,
  archiveKdf,
  DEFAULT_SCRYPT,
  decodeArchive,
  encodeArchive,
  encodeContainer,
  newAccountPayload,
} from '../src/index.ts'
import { FAST_KDF, rejection } from './helpers.ts'

const T0 = Date.now()
const enc = new TextEncoder()
const ARCHIVE_ERRORS = [
  'NotAnArchiveError',
  'UnsupportedArchiveVersionError',
  'TruncatedArchiveError',
  'WrongPasswordError',
  'TamperedArchiveError',
  'MalformedArchiveError',
]

function makePayload(now = T0): AccountPayload {
  const account = generateKeyPair()
  const device = generateKeyPair()
  const eth = Wallet.createRandom()
  const payload = newAccountPayload(
    { accountSecretKey: account.secretKey, now },
    { privateKey: eth.privateKey, address: eth.address },
    { publicKey: device.publicKey, name: 'laptop' },
    now,
  )
  return { ...payload, contacts: [{ accountId: 'ab'.repeat(20), name: 'Ann', addedAt: now }], config: { theme: 'dark', n: 3 } }
}

function headerOf(bytes: Uint8Array): { header: Record<string, unknown>; ciphertext: Uint8Array } {
  const len = (bytes[9]! << 8) | bytes[10]!
  return { header: canonicalDecode(bytes.subarray(11, 11 + len)) as Record<string, unknown>, ciphertext: bytes.subarray(11 + len) }
}

function withHeader(header: unknown, ciphertext: Uint8Array, magic = ARCHIVE_MAGIC, version = 1): Uint8Array {
  const h = canonicalEncode(header)
  return new Uint8Array([...enc.encode(magic), version, h.length >> 8, h.length & 255, ...h, ...ciphertext])
}

describe('archive', () => {
  let payload: AccountPayload
  let archive: Uint8Array

  beforeAll(async () => {
    payload = makePayload()
    archive = await encodeArchive(payload, 'hunter22', FAST_KDF)
  })

  it('round-trips an account payload', async () => {
    expect(new TextDecoder().decode(archive.subarray(0, 8))).toBe('BARANARC')
    expect(await decodeArchive(archive, 'hunter22')).toEqual(payload)
    expect(archiveKdf(archive)).toEqual({ name: 'scrypt', ...FAST_KDF })
  })

  it('does not contain the secrets in clear', () => {
    const text = Buffer.from(archive).toString('latin1')
    expect(text).not.toContain(payload.accountSecretKey.slice(0, 20))
    expect(text).not.toContain(payload.ethPrivateKey.slice(2, 22))
  })

  it('uses the default scrypt params (N=2^18) when asked and still round-trips', async () => {
    const a = await encodeArchive(payload, 'hunter22', DEFAULT_SCRYPT)
    expect(archiveKdf(a)).toEqual({ name: 'scrypt', ...DEFAULT_SCRYPT })
    expect(await decodeArchive(a, 'hunter22')).toEqual(payload)
  })

  it.each([
    ['wrong password', () => ({ bytes: archive, pw: 'hunter23' }), 'WrongPasswordError', 'wrong_password'],
    ['truncated', () => ({ bytes: archive.subarray(0, archive.length - 10), pw: 'hunter22' }), 'TruncatedArchiveError', 'truncated'],
    ['tampered ciphertext', () => {
      const t = archive.slice()
      t[t.length - 20]! ^= 0x40
      return { bytes: t, pw: 'hunter22' }
    }, 'TamperedArchiveError', 'tampered'],
    ['tampered header (nonce)', () => {
      const { header, ciphertext } = headerOf(archive)
      const nonce = fromBase64Url(header.nonce as string)
      nonce[3]! ^= 1
      return { bytes: withHeader({ ...header, nonce: toBase64Url(nonce) }, ciphertext), pw: 'hunter22' }
    }, 'TamperedArchiveError', 'tampered'],
    ['tampered header (a raw byte)', () => {
      const t = archive.slice()
      t[20]! ^= 0x01
      return { bytes: t, pw: 'hunter22' }
    }, 'MalformedArchiveError', 'malformed_archive'],
    ['bad magic', () => {
      const t = archive.slice()
      t[0] = 0x58
      return { bytes: t, pw: 'hunter22' }
    }, 'NotAnArchiveError', 'not_an_archive'],
    ['future version', () => {
      const t = archive.slice()
      t[8] = 2
      return { bytes: t, pw: 'hunter22' }
    }, 'UnsupportedArchiveVersionError', 'unsupported_version'],
  ])('%s → %s', async (_, make, name, code) => {
    const { bytes, pw } = make()
    const err = await rejection(decodeArchive(bytes, pw))
    expect(err.name).toBe(name)
    expect((err as { code?: string }).code).toBe(code)
  })

  it('a store file (other magic) is not an archive', async () => {
    const other = await encodeContainer('BARANKEY', canonicalEncode(payload), 'hunter22', FAST_KDF)
    expect((await rejection(decodeArchive(other, 'hunter22'))).name).toBe('NotAnArchiveError')
  })

  it('rejects a well-sealed but inconsistent payload as malformed', async () => {
    const stranger = makePayload()
    const cases: unknown[] = [
      { ...payload, deviceList: stranger.deviceList }, // another account's records
      { ...payload, ethAddress: stranger.ethAddress }, // eth key and address disagree
      { ...payload, accountSecretKey: toBase64Url(new Uint8Array(64)) }, // halves disagree
      { ...payload, ethPrivateKey: `0x${'0'.repeat(64)}` }, // not a secp256k1 key: zero
      { ...payload, ethPrivateKey: `0x${'f'.repeat(64)}` }, // not a secp256k1 key: above the curve order
      { ...payload, extra: 1 }, // unknown field
      { ...payload, deviceCerts: [{ ...payload.deviceCerts[0]!, seq: 99 }] }, // bad signature
      [1, 2, 3],
    ]
    for (const bad of cases) {
      const bytes = await encodeContainer(ARCHIVE_MAGIC, canonicalEncode(bad), 'pw', FAST_KDF)
      const err = await rejection(decodeArchive(bytes, 'pw'))
      expect(err.name).toBe('MalformedArchiveError')
    }
    const notJson = await encodeContainer(ARCHIVE_MAGIC, enc.encode('{"a": 1}'), 'pw', FAST_KDF)
    expect((await rejection(decodeArchive(notJson, 'pw'))).name).toBe('MalformedArchiveError')
  })

  it('accepts an archive whose records have expired (an old backup is still the account)', async () => {
    const old = makePayload(T0 - 2 * 365 * 86_400_000)
    expect(old.deviceList.expiresAt).toBeLessThan(T0)
    const later = await encodeArchive(old, 'pw', FAST_KDF)
    expect((await decodeArchive(later, 'pw')).deviceList.expiresAt).toBe(old.deviceList.expiresAt)
  })

  it('refuses to encode with an empty password or a non-canonical payload', async () => {
    expect((await rejection(encodeArchive(payload, '', FAST_KDF))).name).toBe('InvalidArgumentError')
    const floaty = { ...payload, config: { ratio: 0.5 } }
    expect((await rejection(encodeArchive(floaty, 'pw', FAST_KDF))).name).toBe('InvalidArgumentError')
  })

  it('fuzz: random bytes only ever give an archive error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (data) => {
        expect(ARCHIVE_ERRORS).toContain((await rejection(decodeArchive(data, 'pw'))).name)
      }),
      { numRuns: 300 },
    )
  })

  it('fuzz: bit flips, cuts and insertions in a real archive only ever give an archive error', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    )
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const at = m.at % archive.length
        let bytes: Uint8Array
        if (m.kind === 'flip') {
          bytes = archive.slice()
          bytes[at]! ^= 1 << m.bit
        } else if (m.kind === 'cut') {
          bytes = archive.slice(0, at)
        } else {
          bytes = new Uint8Array([...archive.subarray(0, at), m.byte, ...archive.subarray(at)])
        }
        expect(ARCHIVE_ERRORS).toContain((await rejection(decodeArchive(bytes, 'hunter22'))).name)
      }),
      { numRuns: 250 },
    )
  })
})
