import { generateKeyPair, verifyChain, verifyDeviceList, verifyRecord } from '@baran/trust'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import {
  type AccountPayload,
  MAX_DEVICES,
  newAccountPayload,
  normalizeDeviceName,
  refreshed,
  type SignContext,
  validateAccountPayload,
  withDevice,
  withRevoked,
} from '../src/index.ts'
import { thrown } from './helpers.ts'

const T0 = Date.UTC(2026, 10, 1)
const DAY = 86_400_000

function fresh(): { payload: AccountPayload; ctx: SignContext; deviceId: string } {
  const account = generateKeyPair()
  const device = generateKeyPair()
  const eth = Wallet.createRandom()
  const ctx: SignContext = { accountSecretKey: account.secretKey, now: T0 }
  const payload = newAccountPayload(ctx, { privateKey: eth.privateKey, address: eth.address }, { publicKey: device.publicKey, name: 'one' }, T0)
  return { payload, ctx, deviceId: device.id }
}

describe('account transitions', () => {
  it('a new account lists its device, revokes nothing, and validates', () => {
    const { payload, deviceId } = fresh()
    expect(validateAccountPayload(payload)).toEqual(payload)
    const list = verifyDeviceList(payload.deviceList, { now: T0 })
    expect(list.devices.map((d) => d.deviceId)).toEqual([deviceId])
    expect(payload.revocations.body.devices).toEqual([])
    const chain = verifyChain({ deviceCert: payload.deviceCerts[0], revocations: payload.revocations, now: T0 })
    expect(chain.deviceId).toBe(deviceId)
    expect(chain.deviceName).toBe('one')
    expect(payload.deviceCerts[0]!.expiresAt).toBe(T0 + 365 * DAY)
  })

  it('withDevice lists a new device with seq+1; re-certifying renames without duplicating', () => {
    const { payload, ctx } = fresh()
    const other = generateKeyPair()
    const a = withDevice(payload, ctx, { publicKey: other.publicKey, name: 'two' }, T0 + 1)
    expect(a.payload.deviceList.seq).toBe(payload.deviceList.seq + 1)
    expect(a.payload.deviceList.body.devices).toHaveLength(2)
    expect(verifyChain({ deviceCert: a.cert, now: T0 }).deviceId).toBe(other.id)
    const b = withDevice(a.payload, ctx, { publicKey: other.publicKey, name: 'deux' }, T0 + 2)
    expect(b.payload.deviceList.body.devices).toHaveLength(2)
    expect(b.payload.deviceList.body.devices.find((d) => d.deviceId === other.id)?.name).toBe('deux')
    expect(b.payload.deviceCerts.filter((c) => c.body.deviceId === other.id)).toHaveLength(1)
  })

  it('withDevice refuses a full device list and a revoked device', () => {
    let { payload, ctx } = fresh()
    for (let i = 1; i < MAX_DEVICES; i++) payload = withDevice(payload, ctx, { publicKey: generateKeyPair().publicKey, name: `d${i}` }, i).payload
    expect(payload.deviceList.body.devices).toHaveLength(MAX_DEVICES)
    const full = thrown(() => withDevice(payload, ctx, { publicKey: generateKeyPair().publicKey, name: 'x' }, 99))
    expect([full.name, (full as { code?: string }).code]).toEqual(['TooManyDevicesError', 'too_many_devices'])

    const f = fresh()
    const other = generateKeyPair()
    const listed = withDevice(f.payload, f.ctx, { publicKey: other.publicKey, name: 'two' }, 1).payload
    const revoked = withRevoked(listed, f.ctx, other.id)
    const again = thrown(() => withDevice(revoked, f.ctx, { publicKey: other.publicKey, name: 'two' }, 2))
    expect([again.name, (again as { code?: string }).code]).toEqual(['DeviceRevokedError', 'device_revoked'])
  })

  it('withRevoked bumps both seqs, records revokedAt, drops the cert; errors are typed', () => {
    const { payload, ctx } = fresh()
    const other = generateKeyPair()
    const listed = withDevice(payload, ctx, { publicKey: other.publicKey, name: 'two' }, 1).payload
    const later = { ...ctx, now: T0 + 5000 }
    const revoked = withRevoked(listed, later, other.id)
    expect(revoked.revocations.seq).toBe(listed.revocations.seq + 1)
    expect(revoked.deviceList.seq).toBe(listed.deviceList.seq + 1)
    expect(revoked.revocations.body.devices).toEqual([{ deviceId: other.id, revokedAt: T0 + 5000 }])
    expect(revoked.deviceList.body.devices.map((d) => d.deviceId)).not.toContain(other.id)
    expect(revoked.deviceCerts.map((c) => c.body.deviceId)).not.toContain(other.id)
    expect(thrown(() => withRevoked(revoked, ctx, other.id)).name).toBe('AlreadyRevokedError')
    expect(thrown(() => withRevoked(revoked, ctx, 'ab'.repeat(20))).name).toBe('UnknownDeviceError')
  })

  it('refreshed renews only records close to expiry, with seq+1', () => {
    const { payload, ctx, deviceId } = fresh()
    expect(refreshed(payload, ctx, { deviceId, certSeq: 5 }, 30 * DAY)).toBe(payload)
    const late = { ...ctx, now: T0 + 340 * DAY }
    const next = refreshed(payload, late, { deviceId, certSeq: T0 + 340 * DAY }, 30 * DAY)
    expect(next.deviceList.seq).toBe(payload.deviceList.seq + 1)
    expect(next.revocations.seq).toBe(payload.revocations.seq + 1)
    const cert = next.deviceCerts.find((c) => c.body.deviceId === deviceId)!
    expect(cert.issuedAt).toBe(T0 + 340 * DAY)
    verifyRecord(cert, { type: 'device-cert', now: T0 + 400 * DAY })
  })

  it('normalizeDeviceName trims, cuts to 64 characters, and never returns empty', () => {
    expect(normalizeDeviceName('  box  ')).toBe('box')
    expect(normalizeDeviceName('')).toBe('device')
    expect(normalizeDeviceName('x'.repeat(100))).toHaveLength(64)
    expect(normalizeDeviceName('😀'.repeat(40)).length).toBeLessThanOrEqual(64)
  })
})
