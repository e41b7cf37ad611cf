/**
 * Revocation after the handshake: a device revoked while its streams are open is cut off (CLOSE revoked), its
 * pending and later sends fail with RevokedError both ways, and it is refused from then on.
 */
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import type { EnvelopeResult, RevokedSessions, TransportHost } from '../src/index.ts'
import { RevokedDevices } from '../src/lib/revocations.ts'
import { credentialsFor, type Device, directAddrs, failure, HostPool, makeDevice, makeRevocations, sibling as siblingOf, waitUntil } from './fixtures.ts'

const pool = new HostPool()
afterEach(() => pool.stopAll())
afterAll(() => pool.stopAll())

const to = (h: TransportHost) => ({ peerId: h.peerId, addrs: directAddrs(h) })
const one = Uint8Array.of(1)


const sibling = (of: Device) => siblingOf(pool, of)

describe('a device revoked while its streams are open', () => {
  test('revokeDevice() closes its streams, reports them, and later sends both ways fail with RevokedError', async () => {
    const a = await pool.host()
    const b = await pool.host()
    a.onEnvelope(async () => 'stored')
    b.onEnvelope(async () => 'stored')
    expect((await b.send(to(a), { id: 'before', payload: one })).status).toBe('stored')
    expect(a.remotes()).toEqual([{ peerId: b.peerId, accountId: b.device.account.id, deviceId: b.device.device.id }])
    const reports: RevokedSessions[] = []
    a.onRevoked((r) => reports.push(r))

    const r = a.revokeDevice(b.device.account.id, b.device.device.id)
    expect(r).toEqual({ accountId: b.device.account.id, deviceId: b.device.device.id, closed: 1, peerIds: [b.peerId] })
    expect(reports).toEqual([r])
    expect(a.streamCount).toBe(0)
    await waitUntil(() => b.streamCount === 0, 5_000, 'the revoked side sees its stream closed')

    const fromRevoked = await failure(b.send(to(a), { id: 'after-1', payload: one }))
    expect(fromRevoked.name).toBe('RevokedError')
    expect(fromRevoked.code).toBe('revoked')
    expect(fromRevoked.remote).toBe(true)
    const toRevoked = await failure(a.send(to(b), { id: 'after-2', payload: one }))
    expect(toRevoked.name).toBe('RevokedError')
    expect(toRevoked.remote).toBe(false)
    expect(a.streamCount).toBe(0)
    // idempotent: nothing left to close, nothing reported
    expect(a.revokeDevice(b.device.account.id, b.device.device.id).closed).toBe(0)
    expect(reports).toHaveLength(1)
  })

  test('a send in flight on the cut stream fails with RevokedError, not a retry', async () => {
    const a = await pool.host()
    const b = await pool.host()
    let received = 0
    a.onEnvelope(() => {
      received++
      return new Promise<EnvelopeResult>(() => {})
    })
    const pending = failure(b.send(to(a), { id: 'in-flight', payload: one }, { timeoutMs: 8_000 }))
    await waitUntil(() => received === 1, 5_000, 'the envelope reached its handler')
    a.revokeDevice(b.device.account.id, b.device.device.id)
    const err = await pending
    expect(err.name).toBe('RevokedError')
    expect(err.remote).toBe(true)
    expect(received).toBe(1)
  })

  test('own revocations in renewed credentials cut the revoked sibling device', async () => {
    const a = await pool.host()
    a.onEnvelope(async () => 'stored')
    const a2 = await sibling(a.device)
    expect((await a2.send(to(a), { id: 's-1', payload: one })).status).toBe('stored')
    a.setCredentials({ ...credentialsFor(a.device, a.peerId), revocations: makeRevocations(a.device.account, [a2.device.device.id]) })
    expect(a.streamCount).toBe(0)
    expect((await failure(a2.send(to(a), { id: 's-2', payload: one }))).name).toBe('RevokedError')
  })

  test("a sibling's HELLO that carries the account's revocations cuts the revoked device", async () => {
    const a = await pool.host()
    a.onEnvelope(async () => 'stored')
    const c = await pool.host()
    expect((await c.send(to(a), { id: 'c-1', payload: one })).status).toBe('stored')
    // another device of c's account, whose credentials list c's device as revoked
    const c2 = await pool.host({}, { withCredentials: false })
    const d2 = makeDevice({ account: c.device.account })
    c2.setCredentials({ ...credentialsFor(d2, c2.peerId), revocations: makeRevocations(c.device.account, [c.device.device.id]) })
    expect((await c2.send(to(a), { id: 'c2-1', payload: one })).status).toBe('stored')
    await waitUntil(() => a.remotes().every((r) => r.deviceId !== c.device.device.id), 5_000, 'c cut')
    expect((await failure(c.send(to(a), { id: 'c-2', payload: one }))).name).toBe('RevokedError')
  })
})

describe('RevokedDevices', () => {
  test('revocations learnt from peers are bounded; those the owner gave are kept', () => {
    const set = new RevokedDevices(3)
    expect(set.add('acc', 'own', true)).toBe(true)
    for (let i = 0; i < 10; i++) set.add('spammer', `d${i}`, false)
    expect(set.size).toBe(4)
    expect(set.has('acc', 'own')).toBe(true)
    expect(set.has('spammer', 'd9')).toBe(true)
    expect(set.has('spammer', 'd0')).toBe(false)
    expect(set.add('acc', 'own', false)).toBe(false)
  })
})
