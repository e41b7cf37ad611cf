import { randomBytes, scryptSync } from 'node:crypto'
import { canonicalEncode, generateKeyPair } from '@baran/trust'
import { Wallet } from 'ethers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type AccountPayload,
  checkLinkTtl,
  compress,
  DEFAULT_LINK_TTL_MS,
  deriveLinkKeys,
  type LinkKdf,
  MAX_LINK_VALUE_BYTES,
  newAccountPayload,
  openLinkOffer,
  sealForPin,
  sealLinkOffer,
} from '../src/index.ts'
import { rejection, thrown } from './helpers.ts'

const fastKdf: LinkKdf = async (pin, salt) => new Uint8Array(scryptSync(pin, salt, 64, { N: 16, r: 1, p: 1 }))
const T0 = Date.UTC(2026, 10, 1)

function account(): AccountPayload {
  const eth = Wallet.createRandom()
  return newAccountPayload(
    { accountSecretKey: generateKeyPair().secretKey, now: T0 },
    { privateKey: eth.privateKey, address: eth.address },
    { publicKey: generateKeyPair().publicKey, name: 'laptop' },
    T0,
  )
}

describe('link offers', () => {
  it('seal an account under a fresh PIN and open with it: the same account, a 40-hex location, the PIN\'s delete token', async () => {
    const payload = account()
    const offer = await sealLinkOffer(payload, { now: T0, kdf: fastKdf })
    expect(offer.pin).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/)
    expect(offer.key).toMatch(/^[0-9a-f]{40}$/)
    expect(offer.expiresAt).toBe(T0 + DEFAULT_LINK_TTL_MS)
    expect(offer.value.length).toBeLessThanOrEqual(MAX_LINK_VALUE_BYTES)
    const keys = await deriveLinkKeys(offer.pin.toLowerCase(), fastKdf)
    expect(keys.key).toBe(offer.key)
    expect(Buffer.from(keys.deleteToken).toString('base64url')).toBe(offer.deleteToken)
    expect(await openLinkOffer(offer.value, offer.pin, { now: T0 + 1000, kdf: fastKdf })).toEqual(payload)
  })

  it('give typed errors: wrong PIN, nothing found, expired inside, bad ttl', async () => {
    const offer = await sealLinkOffer(account(), { now: T0, ttlMs: 5_000, pin: 'ABCD-EFGH', kdf: fastKdf })
    await expect(openLinkOffer(offer.value, 'ABCD-EFGJ', { now: T0, kdf: fastKdf })).rejects.toMatchObject({ name: 'WrongPinError', code: 'wrong_pin' })
    await expect(openLinkOffer(undefined, 'ABCD-EFGH', { now: T0, kdf: fastKdf })).rejects.toMatchObject({ name: 'LinkExpiredError', code: 'link_expired' })
    // a DHT node that kept it past its life does not make it usable (60 s of clock skew allowed)
    await expect(openLinkOffer(offer.value, 'ABCD-EFGH', { now: T0 + 5_000 + 60_001, kdf: fastKdf })).rejects.toMatchObject({ name: 'LinkExpiredError' })
    await expect(openLinkOffer(offer.value, 'ABCD-EFGH', { now: T0 + 5_000 + 59_000, kdf: fastKdf })).resolves.toBeTruthy()
    for (const ttl of [999, DEFAULT_LINK_TTL_MS + 1, 1.5, '5000']) {
      expect(thrown(() => checkLinkTtl(ttl))).toMatchObject({ name: 'InvalidArgumentError' })
      expect(await rejection(sealLinkOffer(account(), { now: T0, ttlMs: ttl as number, kdf: fastKdf }))).toMatchObject({ name: 'InvalidArgumentError' })
    }
  })

  it('refuse an account too large for a DHT value (many contacts) with LinkTooLargeError', async () => {
    const big = account()
    big.contacts = Array.from({ length: 300 }, () => ({ accountId: randomBytes(20).toString('hex'), name: randomBytes(64).toString('base64'), addedAt: T0 }))
    expect(await rejection(sealLinkOffer(big, { now: T0, kdf: fastKdf }))).toMatchObject({ name: 'LinkTooLargeError', code: 'link_too_large' })
  })

  it('refuse sealed contents that are not an offer, or hold no valid account, with MalformedLinkError', async () => {
    const pin = 'WXYZ-2345'
    const payload = account()
    const cases = [
      new TextEncoder().encode('not brotli'),
      compress(new TextEncoder().encode('{"not":"canonical"')),
      compress(canonicalEncode({ v: 2, expiresAt: T0, account: payload })),
      compress(canonicalEncode({ v: 1, expiresAt: T0, account: payload, extra: 1 })),
      compress(canonicalEncode({ v: 1, expiresAt: T0, account: { ...payload, ethAddress: '0x' } })),
    ]
    for (const plain of cases) {
      const sealed = await sealForPin(plain, pin, fastKdf)
      await expect(openLinkOffer(sealed.value, pin, { now: T0, kdf: fastKdf })).rejects.toMatchObject({ name: 'MalformedLinkError', code: 'malformed_link' })
    }
  })

  it('never crash on arbitrary bytes: only typed errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        const e = await rejection(openLinkOffer(bytes, 'ABCD-EFGH', { now: T0, kdf: fastKdf }))
        expect(['MalformedLinkError', 'WrongPinError']).toContain(e.name)
      }),
      { numRuns: 100 },
    )
  })
})
