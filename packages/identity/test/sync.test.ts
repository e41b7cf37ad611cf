import { generateKeyPair, type KeyPair, signRecord, verifyDeviceList } from '@baran/trust'
import { Wallet } from 'ethers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type AccountPayload,
  MAX_DEVICES,
  mergeDeviceLists,
  newAccountPayload,
  type SignContext,
  withDevice,
  withRevoked,
} from '../src/index.ts'
import { thrown } from './helpers.ts'

const T0 = Date.UTC(2026, 10, 1)

/** An account with its first device, and a context to sign as it. */
function fresh(): { payload: AccountPayload; ctx: SignContext; device: KeyPair } {
  const account = generateKeyPair()
  const device = generateKeyPair()
  const eth = Wallet.createRandom()
  const ctx: SignContext = { accountSecretKey: account.secretKey, now: T0 }
  const payload = newAccountPayload(ctx, { privateKey: eth.privateKey, address: eth.address }, { publicKey: device.publicKey, name: 'one' }, T0)
  return { payload, ctx, device }
}

const add = (p: AccountPayload, ctx: SignContext, name = 'dev'): { payload: AccountPayload; id: string } => {
  const k = generateKeyPair()
  return { payload: withDevice(p, ctx, { publicKey: k.publicKey, name }, T0).payload, id: k.id }
}
const remoteOf = (p: AccountPayload) => ({ deviceList: p.deviceList, revocations: p.revocations })
/** What a pair says, order and signatures aside. */
const content = (p: AccountPayload) => ({
  devices: p.deviceList.body.devices.map((d) => d.deviceId).sort(),
  revoked: p.revocations.body.devices.map((d) => d.deviceId).sort(),
})

describe('mergeDeviceLists', () => {
  it('adopts a newer list that already says everything, verbatim (no new signature)', () => {
    const { payload, ctx, device } = fresh()
    const other = add(payload, ctx, 'laptop')
    const m = mergeDeviceLists(payload, ctx, remoteOf(other.payload), device.id)
    expect(m).toMatchObject({ changed: true, resigned: false, revoked: [] })
    expect(m.added.map((d) => d.deviceId)).toEqual([other.id])
    expect(m.payload.deviceList).toEqual(other.payload.deviceList)
    expect(m.payload.revocations).toEqual(other.payload.revocations)
    // and the other way round there is nothing to do
    const back = mergeDeviceLists(other.payload, ctx, remoteOf(payload), device.id)
    expect(back).toMatchObject({ changed: false, resigned: false, added: [], revoked: [] })
    expect(back.payload).toBe(other.payload)
  })

  it('adopts a revocation of this very device, keeping its own certificate', () => {
    const { payload, ctx, device } = fresh()
    const two = add(payload, ctx, 'two')
    const revokedMe = withRevoked(two.payload, ctx, device.id)
    const m = mergeDeviceLists(two.payload, ctx, remoteOf(revokedMe), device.id)
    expect(m.revoked.map((d) => d.deviceId)).toEqual([device.id])
    expect(content(m.payload)).toEqual({ devices: [two.id], revoked: [device.id] })
    expect(m.payload.deviceCerts.map((c) => c.body.deviceId)).toContain(device.id)
  })

  it('re-signs the union with seq = max + 1 when both changed at the same seq; the other side then adopts it', () => {
    const { payload, ctx, device } = fresh()
    const base = add(add(payload, ctx, 'b').payload, ctx, 'c')
    const c = base.id
    const mine = withRevoked(base.payload, ctx, c) // this device revokes C …
    const theirs = add(base.payload, ctx, 'd') // … while another adds D, at the same seq
    expect(mine.deviceList.seq).toBe(theirs.payload.deviceList.seq)

    const m = mergeDeviceLists(mine, ctx, remoteOf(theirs.payload), device.id)
    expect(m).toMatchObject({ changed: true, resigned: true })
    expect(m.payload.deviceList.seq).toBe(mine.deviceList.seq + 1)
    expect(m.payload.revocations).toBe(mine.revocations) // already says it, and newer
    expect(content(m.payload).revoked).toEqual([c])
    expect(content(m.payload).devices).toContain(theirs.id)
    expect(content(m.payload).devices).not.toContain(c)
    expect(verifyDeviceList(m.payload.deviceList, { now: T0 }).seq).toBe(m.payload.deviceList.seq)

    const other = mergeDeviceLists(theirs.payload, ctx, remoteOf(m.payload), device.id)
    expect(other).toMatchObject({ changed: true, resigned: false })
    expect(other.payload.deviceList).toEqual(m.payload.deviceList)
    expect(other.revoked.map((d) => d.deviceId)).toEqual([c])
  })

  it('outbids a higher seq that says less, and re-signs when the remote pair has no revocations', () => {
    const { payload, ctx, device } = fresh()
    const two = add(payload, ctx, 'two')
    // A forged-looking but genuine older content under a higher seq: signed by the account, says only device one.
    const stale = signRecord({ ...payload.deviceList, seq: 40 }, ctx.accountSecretKey)
    const m = mergeDeviceLists(two.payload, ctx, { deviceList: stale, revocations: payload.revocations }, device.id)
    expect(m).toMatchObject({ changed: true, resigned: true })
    expect(m.payload.deviceList.seq).toBe(41)
    expect(content(m.payload).devices).toEqual([device.id, two.id].sort())

    const noRevs = mergeDeviceLists(payload, ctx, { deviceList: two.payload.deviceList }, device.id)
    expect(noRevs.resigned).toBe(true)
    expect(noRevs.payload.revocations).toBe(payload.revocations)
  })

  it('refuses lists of another account, forged or malformed ones, with UntrustedDeviceListError', () => {
    const { payload, ctx, device } = fresh()
    const stranger = fresh()
    const forged = { ...payload.deviceList, body: { ...payload.deviceList.body, devices: [] } }
    for (const remote of [
      remoteOf(stranger.payload),
      { deviceList: forged, revocations: payload.revocations },
      { deviceList: payload.deviceList, revocations: stranger.payload.revocations },
      { deviceList: 'junk' },
      { deviceList: { ...payload.deviceList, seq: -1 } },
      null,
    ]) {
      const e = thrown(() => mergeDeviceLists(payload, ctx, remote as never, device.id))
      expect(e).toMatchObject({ name: 'UntrustedDeviceListError', code: 'untrusted_device_list' })
    }
  })

  it('refuses a union over the device limit with TooManyDevicesError', () => {
    const { payload, ctx, device } = fresh()
    let mine = payload
    let theirs = payload
    for (let i = 0; i < MAX_DEVICES / 2 + 1; i++) {
      mine = add(mine, ctx).payload
      theirs = add(theirs, ctx).payload
    }
    expect(thrown(() => mergeDeviceLists(mine, ctx, remoteOf(theirs), device.id))).toMatchObject({ name: 'TooManyDevicesError' })
  })

  it('converges: whatever two devices do and however they sync, a final exchange leaves both with the same lists', () => {
    type Op = { who: 0 | 1; kind: 'add' | 'revoke' | 'sync'; pick: number }
    const op = fc.record({ who: fc.constantFrom<0 | 1>(0, 1), kind: fc.constantFrom<'add' | 'revoke' | 'sync'>('add', 'revoke', 'sync'), pick: fc.nat() })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops: Op[]) => {
        const { payload, ctx, device } = fresh()
        const two = add(payload, ctx, 'two')
        const own = [device.id, two.id]
        const ever = new Set(own)
        const side: AccountPayload[] = [two.payload, two.payload]
        const merge = (to: 0 | 1) => {
          side[to] = mergeDeviceLists(side[to] as AccountPayload, ctx, remoteOf(side[1 - to] as AccountPayload), own[to] as string).payload
        }
        for (const o of ops) {
          const p = side[o.who] as AccountPayload
          if (o.kind === 'add') {
            const r = add(p, ctx)
            ever.add(r.id)
            side[o.who] = r.payload
          } else if (o.kind === 'revoke') {
            const others = p.deviceList.body.devices.filter((d) => !own.includes(d.deviceId))
            if (others.length) side[o.who] = withRevoked(p, ctx, (others[o.pick % others.length] as { deviceId: string }).deviceId)
          } else {
            merge(o.who)
          }
        }
        merge(0)
        merge(1)
        merge(0)
        const [a, b] = side as [AccountPayload, AccountPayload]
        expect(content(a)).toEqual(content(b))
        expect(a.deviceList.seq).toBe(b.deviceList.seq)
        const revoked = new Set(content(a).revoked)
        // every device ever added and not revoked is listed; no revoked one is
        expect(content(a).devices).toEqual([...ever].filter((d) => !revoked.has(d)).sort())
      }),
      { numRuns: 60 },
    )
  })
})
