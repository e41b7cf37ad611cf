import { describe, expect, it } from 'vitest'
import { acceptedVersions, bodySchemas, isRecordType, recordTypes } from '../src/lib/types.ts'
import { account, bindingBody, certBody, device } from './fixtures.ts'

const ok = (type: keyof typeof bodySchemas, body: unknown) => bodySchemas[type].safeParse(body).success

describe('recordTypes / isRecordType', () => {
  it('describes the five record types, their current version, and who signs them', () => {
    expect(recordTypes).toEqual({
      'device-cert': { v: 2, signer: 'account' },
      'peer-binding': { v: 1, signer: 'device' },
      revocations: { v: 1, signer: 'account' },
      'device-list': { v: 1, signer: 'account' },
      presence: { v: 1, signer: 'device' },
    })
    expect(Object.isFrozen(recordTypes)).toBe(true)
    expect(Object.isFrozen(recordTypes['device-cert'])).toBe(true)
    expect(Object.keys(bodySchemas).sort()).toEqual(Object.keys(recordTypes).sort())
    expect(acceptedVersions).toEqual({ 'device-cert': [1, 2], 'peer-binding': [1], revocations: [1], 'device-list': [1], presence: [1] })
    for (const [t, versions] of Object.entries(acceptedVersions)) expect(versions.at(-1)).toBe(recordTypes[t as keyof typeof recordTypes].v)
  })

  it('recognises only the known names (not inherited properties, not name-claim)', () => {
    for (const t of Object.keys(recordTypes)) expect(isRecordType(t)).toBe(true)
    for (const t of ['name-claim', 'toString', '__proto__', 'constructor', '', 'Device-Cert', 1, null]) expect(isRecordType(t)).toBe(false)
  })
})

describe('body schemas', () => {
  const dev = { deviceId: device.id, deviceKey: device.signer, name: 'laptop' }

  it('device-cert', () => {
    expect(ok('device-cert', certBody())).toBe(true)
    expect(ok('device-cert', { ...certBody(), name: 'x'.repeat(64) })).toBe(true)
    expect(ok('device-cert', { ...certBody(), name: 'x'.repeat(65) })).toBe(false)
    expect(ok('device-cert', { ...certBody(), name: '' })).toBe(false)
    expect(ok('device-cert', { ...certBody(), accountId: account.id.toUpperCase() })).toBe(false)
    expect(ok('device-cert', { ...certBody(), deviceKey: account.id })).toBe(false)
    expect(ok('device-cert', { ...certBody(), extra: true })).toBe(false)
    const { name: _n, ...noName } = certBody()
    expect(ok('device-cert', noName)).toBe(false)
  })

  it('peer-binding', () => {
    expect(ok('peer-binding', bindingBody())).toBe(true)
    expect(ok('peer-binding', { ...bindingBody(), peerId: 'p'.repeat(128) })).toBe(true)
    expect(ok('peer-binding', { ...bindingBody(), peerId: 'p'.repeat(129) })).toBe(false)
    expect(ok('peer-binding', { ...bindingBody(), peerId: '' })).toBe(false)
  })

  it('revocations', () => {
    const entry = { deviceId: device.id, revokedAt: 1 }
    expect(ok('revocations', { accountId: account.id, devices: [] })).toBe(true)
    expect(ok('revocations', { accountId: account.id, devices: Array(1024).fill(entry) })).toBe(true)
    expect(ok('revocations', { accountId: account.id, devices: Array(1025).fill(entry) })).toBe(false)
    expect(ok('revocations', { accountId: account.id, devices: [{ ...entry, revokedAt: 1.5 }] })).toBe(false)
    expect(ok('revocations', { accountId: account.id, devices: [{ ...entry, reason: 'x' }] })).toBe(false)
  })

  it('device-list', () => {
    expect(ok('device-list', { accountId: account.id, devices: Array(64).fill(dev) })).toBe(true)
    expect(ok('device-list', { accountId: account.id, devices: Array(65).fill(dev) })).toBe(false)
    expect(ok('device-list', { accountId: account.id, devices: [{ ...dev, name: '' }] })).toBe(false)
  })

  it('presence', () => {
    const p = { ...bindingBody(), addrs: ['/ip4/127.0.0.1/tcp/4001'] }
    expect(ok('presence', p)).toBe(true)
    expect(ok('presence', { ...p, addrs: Array(32).fill('a'.repeat(512)) })).toBe(true)
    expect(ok('presence', { ...p, addrs: Array(33).fill('a') })).toBe(false)
    expect(ok('presence', { ...p, addrs: ['a'.repeat(513)] })).toBe(false)
    expect(ok('presence', { ...p, addrs: [1] })).toBe(false)
  })
})
