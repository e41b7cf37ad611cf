import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DeviceCertWireSchema, DeviceListWireSchema, PeerBindingWireSchema, PresenceWireSchema, RevocationsWireSchema } from '../src/index.ts'

const id = (c: string) => c.repeat(40)
const key = 'A'.repeat(43)
const envelope = (type: string, body: unknown) => ({ type, v: 1, signer: key, seq: 3, issuedAt: 1_000, expiresAt: 2_000, body, sig: 's'.repeat(86) })

describe('signed-record wire schemas', () => {
  it('type each record body, and never change what was signed (unknown body fields pass through untouched)', () => {
    const cert = envelope('device-cert', { accountId: id('a'), deviceId: id('b'), deviceKey: key, name: 'laptop', extra: { x: 1 } })
    const parsed = DeviceCertWireSchema.parse(cert)
    expect(parsed).toEqual(cert)
    expect(parsed.body.deviceId).toBe(id('b'))
    const list = envelope('device-list', { accountId: id('a'), devices: [{ deviceId: id('b'), deviceKey: key, name: 'laptop', since: 5 }] })
    expect(DeviceListWireSchema.parse(list)).toEqual(list)
    const revocations = envelope('revocations', { accountId: id('a'), devices: [{ deviceId: id('c'), revokedAt: 7 }] })
    expect(RevocationsWireSchema.parse(revocations).body.devices[0]?.deviceId).toBe(id('c'))
    expect(PeerBindingWireSchema.parse(envelope('peer-binding', { accountId: id('a'), deviceId: id('b'), peerId: 'p' })).body.peerId).toBe('p')
    expect(PresenceWireSchema.parse(envelope('presence', { accountId: id('a'), deviceId: id('b'), peerId: 'p', addrs: ['/ip4/127.0.0.1/tcp/1'] })).body.addrs).toHaveLength(1)
  })

  it('refuse a record of another type or a body missing a field, with the path of the issue', () => {
    const cert = { accountId: id('a'), deviceId: id('b'), deviceKey: key, name: 'laptop' }
    const wrongType = DeviceCertWireSchema.safeParse(envelope('device-list', cert))
    expect(wrongType.success).toBe(false)
    expect(wrongType.error?.issues[0]?.path).toEqual(['type'])
    const missing = DeviceCertWireSchema.safeParse(envelope('device-cert', { ...cert, deviceId: undefined }))
    expect(missing.error?.issues[0]?.path).toEqual(['body', 'deviceId'])
    expect(RevocationsWireSchema.safeParse(envelope('revocations', { accountId: id('a'), devices: 'none' })).success).toBe(false)
  })

  it('parse is the identity on any well-formed presence record (property)', () => {
    const hex40 = fc.stringMatching(/^[0-9a-f]{40}$/)
    fc.assert(
      fc.property(hex40, hex40, fc.string({ maxLength: 128 }), fc.array(fc.string({ maxLength: 512 }), { maxLength: 32 }), fc.dictionary(fc.stringMatching(/^x[a-z]{0,8}$/), fc.jsonValue()), (a, d, peerId, addrs, extra) => {
        const record = envelope('presence', { ...extra, accountId: a, deviceId: d, peerId, addrs })
        expect(PresenceWireSchema.parse(record)).toEqual(record)
      }),
      { numRuns: 100 },
    )
  })
})
