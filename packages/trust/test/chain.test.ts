import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { verifyChain, verifyDeviceList } from '../src/lib/chain.ts'
import { decodeRecord, encodeRecord } from '../src/lib/record.ts'
import {
  account,
  bindingBody,
  certBody,
  device,
  expectOnlyTrustError,
  expectTrustError,
  HOUR,
  NOW,
  otherAccount,
  otherDevice,
  sign,
} from './fixtures.ts'

const PEER = '12D3KooWTestPeer'
const goodCert = () => sign('device-cert', certBody(), account)
const goodBinding = () => sign('peer-binding', bindingBody(account, device, PEER), device)
const revocations = (deviceIds: string[], key = account, accountId = key.id) =>
  sign('revocations', { accountId, devices: deviceIds.map((deviceId) => ({ deviceId, revokedAt: NOW - HOUR })) }, key, { seq: 1 })
// Records as they arrive off the wire.
const wire = (r: Parameters<typeof encodeRecord>[0]) => decodeRecord(encodeRecord(r))

describe('verifyChain', () => {
  it('accepts a good chain: cert + binding + revocations that do not list the device', () => {
    const chain = verifyChain({
      deviceCert: wire(goodCert()),
      peerBinding: wire(goodBinding()),
      revocations: wire(revocations([otherDevice.id])),
      expect: { accountId: account.id, deviceId: device.id, peerId: PEER },
      now: NOW,
    })
    expect(chain).toEqual({
      accountId: account.id,
      accountKey: account.signer,
      deviceId: device.id,
      deviceKey: device.signer,
      deviceName: 'laptop',
      peerId: PEER,
      expiresAt: NOW + HOUR,
    })
  })

  it('accepts a cert alone (no peerId in the result)', () => {
    const chain = verifyChain({ deviceCert: goodCert(), now: NOW })
    expect(chain.peerId).toBeUndefined()
    expect(chain.accountId).toBe(account.id)
  })

  it('reports the earliest expiry of cert and binding', () => {
    const binding = sign('peer-binding', bindingBody(account, device, PEER), device, { expiresAt: NOW + 10 })
    expect(verifyChain({ deviceCert: goodCert(), peerBinding: binding, now: NOW }).expiresAt).toBe(NOW + 10)
  })

  it('rejects a cert signed by another account → WrongSignerError', () => {
    // Claims account A, but the account key that signed it is B's.
    const forged = sign('device-cert', certBody(account, device), otherAccount)
    expectTrustError(() => verifyChain({ deviceCert: forged, now: NOW }), 'WrongSignerError', 'wrong_signer')
  })

  it('rejects a cert whose deviceId is not the ID of its deviceKey → MalformedRecordError', () => {
    const bad = sign('device-cert', { ...certBody(), deviceId: otherDevice.id }, account)
    expectTrustError(() => verifyChain({ deviceCert: bad, now: NOW }), 'MalformedRecordError', 'malformed')
  })

  it('rejects an unexpected account or device → WrongSignerError', () => {
    expectTrustError(() => verifyChain({ deviceCert: goodCert(), expect: { accountId: otherAccount.id }, now: NOW }), 'WrongSignerError', 'wrong_signer')
    expectTrustError(() => verifyChain({ deviceCert: goodCert(), expect: { deviceId: otherDevice.id }, now: NOW }), 'WrongSignerError', 'wrong_signer')
  })

  it('rejects a binding signed by another device → WrongSignerError', () => {
    const binding = sign('peer-binding', bindingBody(account, device, PEER), otherDevice)
    expectTrustError(() => verifyChain({ deviceCert: goodCert(), peerBinding: binding, now: NOW }), 'WrongSignerError', 'wrong_signer')
  })

  it('rejects a binding made for another account or device → WrongSignerError', () => {
    for (const body of [bindingBody(otherAccount, device, PEER), bindingBody(account, otherDevice, PEER)]) {
      const binding = sign('peer-binding', body, device)
      expectTrustError(() => verifyChain({ deviceCert: goodCert(), peerBinding: binding, now: NOW }), 'WrongSignerError', 'wrong_signer')
    }
  })

  it('rejects a binding for another peerId → WrongSignerError', () => {
    expectTrustError(
      () => verifyChain({ deviceCert: goodCert(), peerBinding: goodBinding(), expect: { peerId: '12D3KooWOther' }, now: NOW }),
      'WrongSignerError',
      'wrong_signer',
    )
  })

  it('rejects expect.peerId without a binding → WrongSignerError', () => {
    expectTrustError(() => verifyChain({ deviceCert: goodCert(), expect: { peerId: PEER }, now: NOW }), 'WrongSignerError', 'wrong_signer')
  })

  it('rejects a revoked device → RevokedDeviceError', () => {
    expectTrustError(
      () => verifyChain({ deviceCert: goodCert(), peerBinding: goodBinding(), revocations: revocations([otherDevice.id, device.id]), now: NOW }),
      'RevokedDeviceError',
      'revoked',
    )
  })

  it('rejects revocations signed by another account → WrongSignerError', () => {
    expectTrustError(
      () => verifyChain({ deviceCert: goodCert(), revocations: revocations([], otherAccount), now: NOW }),
      'WrongSignerError',
      'wrong_signer',
    )
  })

  it('rejects revocations whose accountId is not the signer\'s → MalformedRecordError', () => {
    expectTrustError(
      () => verifyChain({ deviceCert: goodCert(), revocations: revocations([], account, otherAccount.id), now: NOW }),
      'MalformedRecordError',
      'malformed',
    )
  })

  it('rejects an expired cert → ExpiredRecordError', () => {
    const cert = sign('device-cert', certBody(), account, { issuedAt: NOW - 2 * HOUR, expiresAt: NOW - 1 })
    expectTrustError(() => verifyChain({ deviceCert: cert, now: NOW }), 'ExpiredRecordError', 'expired')
  })

  it('rejects an expired binding → ExpiredRecordError', () => {
    const binding = sign('peer-binding', bindingBody(), device, { issuedAt: NOW - 2 * HOUR, expiresAt: NOW })
    expectTrustError(() => verifyChain({ deviceCert: goodCert(), peerBinding: binding, now: NOW }), 'ExpiredRecordError', 'expired')
  })

  it('rejects a cert issued in the future → NotYetValidError', () => {
    const cert = sign('device-cert', certBody(), account, { issuedAt: NOW + 2 * 60_000, expiresAt: NOW + HOUR })
    expectTrustError(() => verifyChain({ deviceCert: cert, now: NOW }), 'NotYetValidError', 'not_yet_valid')
    expect(verifyChain({ deviceCert: cert, now: NOW, clockSkewMs: 3 * 60_000 }).accountId).toBe(account.id)
  })

  it('rejects bad input shapes with MalformedRecordError', () => {
    for (const input of [null, 42, { deviceCert: goodCert(), expect: null }, { deviceCert: goodCert(), expect: { peerId: 1 } }, { deviceCert: goodCert(), now: Number.NaN }]) {
      expectTrustError(() => verifyChain(input as never), 'MalformedRecordError', 'malformed')
    }
  })

  describe('domain separation: a signature over one type replayed as another', () => {
    it('a peer-binding offered as the device cert → UnknownRecordTypeError', () => {
      expectTrustError(() => verifyChain({ deviceCert: goodBinding(), now: NOW }), 'UnknownRecordTypeError', 'unknown_type')
    })

    it('a device cert offered as the peer binding → UnknownRecordTypeError', () => {
      expectTrustError(() => verifyChain({ deviceCert: goodCert(), peerBinding: goodCert(), now: NOW }), 'UnknownRecordTypeError', 'unknown_type')
    })

    it('an account signature over a device-list body relabelled as revocations → BadSignatureError', () => {
      // Same signer, same body shape fits both schemas when empty: only the type (and its domain
      // prefix) differs, so the old signature must not carry over.
      const list = sign('device-list', { accountId: account.id, devices: [] }, account, { seq: 1 })
      const relabelled = { ...list, type: 'revocations' }
      expectTrustError(() => verifyChain({ deviceCert: goodCert(), revocations: relabelled, now: NOW }), 'BadSignatureError', 'bad_signature')
    })
  })

  it('random inputs only ever throw TrustError (fuzz)', () => {
    const good = [goodCert(), goodBinding(), revocations([])]
    const piece = fc.oneof(fc.constantFrom(...good), fc.anything(), fc.uint8Array({ maxLength: 64 }))
    fc.assert(
      fc.property(piece, fc.option(piece), fc.option(piece), fc.anything(), (deviceCert, peerBinding, revs, exp) => {
        const input = { deviceCert, peerBinding: peerBinding ?? undefined, revocations: revs ?? undefined, expect: exp as never, now: NOW }
        try {
          verifyChain(input)
        } catch (e) {
          expectOnlyTrustError(() => {
            throw e
          })
        }
      }),
      { numRuns: 500 },
    )
    expectOnlyTrustError(() => verifyChain(null as never))
    expectOnlyTrustError(() => verifyChain(42 as never))
    expectOnlyTrustError(() => verifyChain({} as never))
  })
})

describe('verifyDeviceList', () => {
  const laptop = { deviceId: device.id, deviceKey: device.signer, name: 'laptop' }
  const phone = { deviceId: otherDevice.id, deviceKey: otherDevice.signer, name: 'phone' }

  it('returns the body and seq of a good list', () => {
    const list = sign('device-list', { accountId: account.id, devices: [laptop, phone] }, account, { seq: 7 })
    expect(verifyDeviceList(wire(list), { accountId: account.id, now: NOW })).toEqual({
      accountId: account.id,
      devices: [laptop, phone],
      seq: 7,
    })
  })

  it('rejects a list signed by a key that is not the account\'s → WrongSignerError', () => {
    const list = sign('device-list', { accountId: account.id, devices: [laptop] }, otherAccount)
    expectTrustError(() => verifyDeviceList(list, { now: NOW }), 'WrongSignerError', 'wrong_signer')
  })

  it('rejects another account than expected → WrongSignerError', () => {
    const list = sign('device-list', { accountId: account.id, devices: [laptop] }, account)
    expectTrustError(() => verifyDeviceList(list, { accountId: otherAccount.id, now: NOW }), 'WrongSignerError', 'wrong_signer')
  })

  it('rejects an entry whose deviceId is not the ID of its key → MalformedRecordError', () => {
    const list = sign('device-list', { accountId: account.id, devices: [{ ...laptop, deviceId: otherDevice.id }] }, account)
    expectTrustError(() => verifyDeviceList(list, { now: NOW }), 'MalformedRecordError', 'malformed')
  })

  it('rejects an old list with lastSeq → ReplayedRecordError, and other types → UnknownRecordTypeError', () => {
    const list = sign('device-list', { accountId: account.id, devices: [] }, account, { seq: 3 })
    expectTrustError(() => verifyDeviceList(list, { now: NOW, lastSeq: 3 }), 'ReplayedRecordError', 'replayed')
    expectTrustError(() => verifyDeviceList(goodCert(), { now: NOW }), 'UnknownRecordTypeError', 'unknown_type')
  })

  it('rejects an expired list → ExpiredRecordError', () => {
    const list = sign('device-list', { accountId: account.id, devices: [] }, account, { issuedAt: NOW - HOUR, expiresAt: NOW })
    expectTrustError(() => verifyDeviceList(list, { now: NOW }), 'ExpiredRecordError', 'expired')
  })
})
