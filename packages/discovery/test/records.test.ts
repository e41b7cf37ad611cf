import { signRecord } from '@baran/trust'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeBundle, MAX_BUNDLE_BYTES, verifyDeviceListBundle, verifyPresenceBundle } from '../src/index.ts'
import { ChainCache } from '../src/lib/records.ts'
import { deviceListBundle, makeAccount, makeDevice, presenceBundle, revocationsRecord } from './helpers.ts'

const account = makeAccount()
const device = makeDevice(account)
const other = makeDevice(account, 'phone')
const good = presenceBundle(device, { seq: 3, peerId: '12D3KooWPeerA', addrs: ['/ip4/127.0.0.1/tcp/1'] })
const goodBytes = encodeBundle(good)
const named = (name: string, code?: string) => expect.objectContaining(code ? { name, code } : { name })

describe('presence bundles', () => {
  it('verify and report who and where', () => {
    const p = verifyPresenceBundle(goodBytes, { deviceId: device.deviceId })
    expect(p).toMatchObject({
      accountId: account.accountId,
      deviceId: device.deviceId,
      deviceName: 'laptop',
      peerId: '12D3KooWPeerA',
      addrs: ['/ip4/127.0.0.1/tcp/1'],
      seq: 3,
    })
    expect(p.expiresAt).toBe(good.presence.expiresAt)
    // same result from the object form
    expect(verifyPresenceBundle(good).seq).toBe(3)
  })

  it('refuse a forged presence (addresses changed after signing)', () => {
    const forged = { ...good, presence: { ...good.presence, body: { ...good.presence.body, addrs: ['/ip4/6.6.6.6/tcp/1'] } } }
    expect(() => verifyPresenceBundle(encodeBundle(forged))).toThrow(named('BadSignatureError', 'bad_signature'))
  })

  it('refuse a presence signed by another device of the account', () => {
    const theirs = presenceBundle(other, { peerId: '12D3KooWPeerA' })
    const mixed = { ...good, presence: theirs.presence }
    expect(() => verifyPresenceBundle(mixed)).toThrow(named('WrongSignerError', 'wrong_signer'))
  })

  it('refuse a certificate from another account', () => {
    const stranger = makeAccount()
    const cert = presenceBundle({ ...device, account: stranger }).deviceCert
    expect(() => verifyPresenceBundle({ ...good, deviceCert: cert })).toThrow(named('WrongSignerError'))
  })

  it('refuse a bundle stored under another device key', () => {
    expect(() => verifyPresenceBundle(goodBytes, { deviceId: other.deviceId })).toThrow(named('KeyMismatchError', 'key_mismatch'))
  })

  it('refuse a presence for another peer than the binding', () => {
    const p = presenceBundle(device, { peerId: '12D3KooWPeerB' })
    expect(() => verifyPresenceBundle({ ...good, presence: p.presence })).toThrow(named('WrongSignerError'))
  })

  it('refuse expired and not-yet-valid presence', () => {
    const past = presenceBundle(device, { now: Date.now() - 2 * 3600_000, ttlMs: 3600_000 })
    expect(() => verifyPresenceBundle(past)).toThrow(named('ExpiredRecordError', 'expired'))
    expect(() => verifyPresenceBundle(good, { now: good.presence.expiresAt })).toThrow(named('ExpiredRecordError'))
    expect(() => verifyPresenceBundle(good, { now: good.presence.issuedAt - 3600_000 })).toThrow(named('NotYetValidError'))
  })

  it('refuse a device its own revocation list names, or that the caller knows is revoked', () => {
    const revoked = presenceBundle(device, { revocations: revocationsRecord(account, [device.deviceId], 1) })
    expect(() => verifyPresenceBundle(revoked)).toThrow(named('RevokedDeviceError', 'revoked'))
    expect(() => verifyPresenceBundle(good, { isRevoked: (a, d) => a === account.accountId && d === device.deviceId })).toThrow(
      named('RevokedDeviceError'),
    )
    const fine = verifyPresenceBundle(presenceBundle(device, { revocations: revocationsRecord(account, [other.deviceId], 2) }))
    expect(fine.revocations).toMatchObject({ seq: 2, devices: [other.deviceId] })
  })

  it('refuse unknown fields and missing parts', () => {
    expect(() => verifyPresenceBundle({ ...good, extra: 1 } as never)).toThrow(named('MalformedValueError', 'malformed_value'))
    const { peerBinding: _, ...noBinding } = good
    expect(() => verifyPresenceBundle(noBinding as never)).toThrow(named('MalformedValueError'))
  })

  it('refuse oversized bundles before decoding them', () => {
    expect(() => verifyPresenceBundle(new Uint8Array(MAX_BUNDLE_BYTES + 1))).toThrow(named('ValueTooLargeError'))
  })

  it('throw only typed errors on random bytes and on bit flips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(() => verifyPresenceBundle(bytes)).toThrow(expect.objectContaining({ code: expect.any(String) }))
      }),
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: goodBytes.length * 8 - 1 }), (bit) => {
        const flipped = goodBytes.slice()
        flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7))
        expect(() => verifyPresenceBundle(flipped, { deviceId: device.deviceId })).toThrow(
          expect.objectContaining({ code: expect.any(String) }),
        )
      }),
      { numRuns: 60 },
    )
  })

  it('reuse a verified chain for a republish, and not for changed records', () => {
    const cache = new ChainCache()
    const now = Date.now()
    const first = presenceBundle(device, { now, seq: 1 })
    verifyPresenceBundle(first, { chainCache: cache, now })
    const links = { deviceCert: first.deviceCert, peerBinding: first.peerBinding }
    expect(cache.get(links, now)).toMatchObject({ deviceId: device.deviceId })
    expect(cache.get(links, first.deviceCert.expiresAt)).toBeUndefined()
    const tampered = { ...links, deviceCert: { ...first.deviceCert, body: { ...first.deviceCert.body, name: 'evil' } } }
    expect(cache.get(tampered, now)).toBeUndefined()
    expect(() => verifyPresenceBundle({ ...first, deviceCert: tampered.deviceCert }, { chainCache: cache, now })).toThrow(
      named('BadSignatureError'),
    )
  })
})

describe('device-list bundles', () => {
  it('verify with the revocations they carry', () => {
    const b = deviceListBundle(account, [device, other], { seq: 4, revocations: revocationsRecord(account, [other.deviceId], 2) })
    const l = verifyDeviceListBundle(encodeBundle(b), { accountId: account.accountId })
    expect(l).toMatchObject({ accountId: account.accountId, seq: 4, revocations: { devices: [other.deviceId] } })
    expect(l.devices.map((d) => d.deviceId)).toEqual([device.deviceId, other.deviceId])
  })

  it('refuse a list stored under another account, or signed by another', () => {
    const b = deviceListBundle(account, [device])
    expect(() => verifyDeviceListBundle(b, { accountId: makeAccount().accountId })).toThrow(named('KeyMismatchError'))
    const stranger = makeAccount()
    const forged = { deviceList: signRecord({ ...b.deviceList, seq: 9 }, stranger.keys.secretKey) }
    expect(() => verifyDeviceListBundle(forged)).toThrow(named('WrongSignerError'))
  })

  it('refuse revocations from another account', () => {
    const b = deviceListBundle(account, [device], { revocations: revocationsRecord(makeAccount(), [], 1) })
    expect(() => verifyDeviceListBundle(b)).toThrow(named('WrongSignerError'))
  })

  it('throw only typed errors on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(() => verifyDeviceListBundle(bytes)).toThrow(expect.objectContaining({ code: expect.any(String) }))
      }),
    )
  })
})
