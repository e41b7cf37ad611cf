/**
 * The delivery policy, driven by a manual clock. The network here is a TEST DOUBLE at the transport and discovery
 * boundary (allowed for unit tests of the policy only): it implements the engine's deps interface, and behind it
 * every device is a real Inbox on real JetStream KV, so what arrives is decoded, verified and de-duplicated for
 * real. Two-node delivery over the real transport and discovery actors is tested where those actors run.
 */
import { type Cleanup as CleanupType, Cleanup, waitUntil } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { type AccountDevices, type DeliveryChange, type DeliveryDeps, DeliveryEngine, type DeliveryEngineInit, type SealRequest } from '../src/lib/engine.ts'
import { Inbox } from '../src/lib/inbox.ts'
import { encodePayload } from '../src/lib/payload.ts'
import { OutboxRecordBucket, type OutgoingRecord, payloadOf } from '../src/lib/records.ts'
import { ALICE, ALICE_LAPTOP, ALICE_PHONE, BOB, BOB_LAPTOP, BOB_PHONE, jetstream, ManualClock, outgoing } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

type Mode = 'ack' | 'refuse' | 'revoked' | 'lose-ack' | 'hang' | 'unreachable'
interface Device {
  account: string
  online: boolean
  peerId: string
  inbox: Inbox
  mode: Mode
}
type Sent = { deviceId: string; id: string; at: number; sync: boolean }

class TestNetwork implements DeliveryDeps {
  store: OutboxRecordBucket
  accounts = new Map<string, { devices: string[]; revoked: string[] }>()
  devices = new Map<string, Device>()
  sends: Sent[] = []
  watched: string[] = []
  unwatched: string[] = []
  lookups = 0
  concurrent = 0
  maxConcurrent = 0
  inFlightPairs = new Set<string>()
  doublePairs = 0
  #release: Array<(fail?: boolean) => void> = []
  clock: ManualClock

  constructor(store: OutboxRecordBucket, clock: ManualClock) {
    this.store = store
    this.clock = clock
  }

  async lookupAccount(accountId: string): Promise<AccountDevices> {
    this.lookups++
    const a = this.accounts.get(accountId)
    if (!a) throw Object.assign(new Error(`account ${accountId} not found`), { code: 'not_found' })
    return {
      devices: a.devices.map((deviceId) => {
        const d = this.devices.get(deviceId)!
        return { deviceId, online: d.online, ...(d.online ? { peerId: d.peerId } : {}), addrs: d.online ? ['/ip4/127.0.0.1/tcp/1'] : [] }
      }),
      revoked: a.revoked,
    }
  }

  /** Sealing is identity's (packages/outbox/test/actor.test.ts): here the receiving library inbox gets the opened payload. */
  async seal(req: SealRequest): Promise<Uint8Array> {
    this.seals.push(req.deviceId)
    const fail = this.sealFailures.get(req.deviceId)
    if (fail) throw Object.assign(new Error(`${fail}: sealing refused`), { code: fail })
    return encodePayload(payloadOf(req.record, req.sync))
  }
  /** Devices whose sealing fails with this code (identity's or discovery's). */
  sealFailures = new Map<string, string>()
  seals: string[] = []

  async send(req: { peerId: string; addrs: string[]; id: string; payload: Uint8Array }): Promise<unknown> {
    const [deviceId, d] = [...this.devices].find(([, x]) => x.peerId === req.peerId) ?? []
    if (!deviceId || !d) throw Object.assign(new Error('no such peer'), { code: 'unreachable' })
    const pair = `${req.id}/${deviceId}`
    if (this.inFlightPairs.has(pair)) this.doublePairs++
    this.inFlightPairs.add(pair)
    this.concurrent++
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent)
    try {
      if (d.mode === 'hang') {
        const fail = await new Promise<boolean | undefined>((resolve) => this.#release.push(resolve))
        if (fail) throw Object.assign(new Error('connection reset'), { code: 'unreachable' })
      }
      if (!d.online || d.mode === 'unreachable') throw Object.assign(new Error('dial failed'), { code: 'unreachable' })
      if (d.mode === 'refuse') throw Object.assign(new Error('rejected: wrong_recipient'), { code: 'rejected' })
      if (d.mode === 'revoked') throw Object.assign(new Error('device was revoked by its account'), { code: 'revoked' })
      const r = await d.inbox.receive({ id: req.id, payload: req.payload, from: { accountId: ALICE, deviceId: ALICE_PHONE, peerId: 'alice-phone' } })
      if (r.status === 'rejected') throw Object.assign(new Error(r.reason), { code: 'rejected' })
      this.sends.push({ deviceId, id: req.id, at: this.clock.now(), sync: d.account === ALICE })
      if (d.mode === 'lose-ack') {
        d.mode = 'ack'
        throw Object.assign(new Error('no ack within 30000 ms'), { code: 'timeout' })
      }
      return r
    } finally {
      this.concurrent--
      this.inFlightPairs.delete(pair)
    }
  }

  async watch(accountId: string): Promise<void> {
    this.watched.push(accountId)
  }
  async unwatch(accountId: string): Promise<void> {
    this.unwatched.push(accountId)
  }

  /** Lets the hanging sends go on (or fail). */
  release(fail = false): number {
    const all = this.#release.splice(0)
    for (const r of all) r(fail)
    return all.length
  }
  get hanging(): number {
    return this.#release.length
  }
}

async function setup(c: CleanupType, opts: Partial<DeliveryEngineInit> = {}) {
  const js = await jetstream(c)
  const clock = new ManualClock()
  const store = new OutboxRecordBucket(await js.bucket('outbox'))
  const net = new TestNetwork(store, clock)
  const changes: DeliveryChange[] = []
  const addDevice = async (account: string, deviceId: string, online = true, mode: Mode = 'ack') => {
    const inbox = new Inbox({
      log: await js.bucket('inbox'),
      read: await js.bucket('inbox_read'),
      outgoing: new OutboxRecordBucket(await js.bucket('theirs')),
      self: () => ({ accountId: account, deviceId }),
      now: () => clock.now(),
    })
    net.devices.set(deviceId, { account, online, peerId: `peer-${deviceId.slice(0, 4)}`, inbox, mode })
    const a = net.accounts.get(account) ?? { devices: [], revoked: [] }
    a.devices.push(deviceId)
    net.accounts.set(account, a)
  }
  const engine = (more: Partial<DeliveryEngineInit> = {}) => {
    const e = new DeliveryEngine(net, { clock, random: () => 0.5, onChange: (ch) => void changes.push(ch), ...opts, ...more })
    c.add('stop engine', () => e.stop())
    return e
  }
  const send = async (e: DeliveryEngine, r: OutgoingRecord) => {
    await store.create(r)
    e.add(r)
    await e.idle()
    return r
  }
  const device = async (id: string, deviceId: string) => (await store.get(id))?.devices.find((d) => d.deviceId === deviceId)
  const inboxOf = (deviceId: string) => net.devices.get(deviceId)!.inbox.list()
  return { js, clock, store, net, changes, addDevice, engine, send, device, inboxOf }
}

describe('delivery engine', () => {
  it("delivers at once to every device of the recipient, and a sync copy to the sender's other devices", async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE)
    await t.addDevice(BOB, BOB_LAPTOP)
    await t.addDevice(ALICE, ALICE_LAPTOP)
    const e = t.engine()
    const r = await t.send(e, outgoing({ now: t.clock.now(), sync: [ALICE_LAPTOP] }))
    const rec = await t.store.get(r.id)
    expect(rec?.devicesResolved).toBe(true)
    expect(rec?.devices.map((d) => [d.deviceId, d.state, d.sync]).sort()).toEqual(
      [
        [ALICE_LAPTOP, 'delivered', true],
        [BOB_LAPTOP, 'delivered', false],
        [BOB_PHONE, 'delivered', false],
      ].sort(),
    )
    for (const d of [BOB_PHONE, BOB_LAPTOP, ALICE_LAPTOP]) expect((await t.inboxOf(d)).messages.map((m) => m.id)).toEqual([r.id])
    expect((await t.inboxOf(ALICE_LAPTOP)).messages[0]).toMatchObject({ sync: true, to: BOB })
    expect(t.changes.filter((c) => c.deviceId === BOB_PHONE).map((c) => c.state)).toEqual(['queued', 'sending', 'delivered'])
    expect(e.stats()).toMatchObject({ pending: 0, unresolved: 0, messages: 0, inFlight: 0 })
    // nothing is left, so no timer is armed
    expect(t.clock.nextAt).toBeUndefined()
  })

  it('backs off (1 s doubling, jittered) while a device is offline, watches it, and delivers the moment it comes online', async () => {
    const t = await setup(cleanup, { lookupFreshMs: 0 })
    await t.addDevice(BOB, BOB_PHONE, false)
    const e = t.engine()
    const start = t.clock.now()
    const r = await t.send(e, outgoing({ now: start }))
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'queued', attempts: 1, nextAttemptAt: start + 1000, lastError: 'offline' })
    expect(t.net.watched).toEqual([BOB])
    await t.clock.advance(1000, () => e.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ attempts: 2, nextAttemptAt: start + 3000 })
    await t.clock.advance(2000, () => e.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ attempts: 3, nextAttemptAt: start + 7000 })
    // Bob's phone publishes its presence: no waiting for the 4 s back-off
    t.clock.t += 500
    t.net.devices.get(BOB_PHONE)!.online = true
    e.deviceOnline({ accountId: BOB, deviceId: BOB_PHONE, peerId: t.net.devices.get(BOB_PHONE)!.peerId, addrs: ['/ip4/127.0.0.1/tcp/1'] })
    await e.idle()
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'delivered', attempts: 3, deliveredAt: start + 3500 })
    expect(t.net.sends).toEqual([{ deviceId: BOB_PHONE, id: r.id, at: start + 3500, sync: false }])
    expect(t.net.unwatched).toEqual([BOB])
  })

  it('a device that acknowledges a message gets its other waiting messages at once, not after their back-off', async () => {
    const t = await setup(cleanup, { lookupFreshMs: 0 })
    await t.addDevice(BOB, BOB_PHONE, false)
    const e = t.engine()
    const start = t.clock.now()
    const first = await t.send(e, outgoing({ now: start }))
    const second = await t.send(e, outgoing({ now: start }))
    await t.clock.advance(1000 + 2000 + 4000, () => e.idle())
    const waiting = await t.device(first.id, BOB_PHONE)
    expect(waiting).toMatchObject({ state: 'queued', attempts: 4 })
    // The phone is back, but no presence event says so (only the path was down): a new message gets through...
    t.net.devices.get(BOB_PHONE)!.online = true
    t.clock.t += 100
    const third = await t.send(e, outgoing({ now: t.clock.now() }))
    await e.idle()
    expect(await t.device(third.id, BOB_PHONE)).toMatchObject({ state: 'delivered' })
    // ...and the two waiting ones go right behind it, long before their back-off (about 8 s) ends.
    expect(t.clock.now()).toBeLessThan(waiting!.nextAttemptAt!)
    for (const r of [first, second]) expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'delivered', deliveredAt: t.clock.now() })
    expect((await t.inboxOf(BOB_PHONE)).messages.map((m) => m.id).sort()).toEqual([first.id, second.id, third.id].sort())
  })

  it('spreads retries with jitter within ±50%', async () => {
    const t = await setup(cleanup, { lookupFreshMs: 0 })
    await t.addDevice(BOB, BOB_PHONE, false)
    const e = t.engine({ random: () => 0 })
    const start = t.clock.now()
    const r = await t.send(e, outgoing({ now: start }))
    expect((await t.device(r.id, BOB_PHONE))?.nextAttemptAt).toBe(start + 500)
  })

  it('falls back to back-off when no presence event comes, and honours the 5 min cap', async () => {
    const t = await setup(cleanup, { lookupFreshMs: 0 })
    await t.addDevice(BOB, BOB_PHONE, false)
    const e = t.engine()
    const start = t.clock.now()
    const r = await t.send(e, outgoing({ now: start, ttlMs: 86_400_000 }))
    // 12 failures: 1+2+4+…+256 s, then capped at 300 s
    await t.clock.advance(1000 + 2000 + 4000 + 8000 + 16000 + 32000 + 64000 + 128000 + 256000 + 300_000 + 300_000, () => e.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'queued', attempts: 12, nextAttemptAt: t.clock.now() + 300_000 })
    t.net.devices.get(BOB_PHONE)!.online = true
    await t.clock.advance(300_000, () => e.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'delivered' })
    expect(t.net.sends).toHaveLength(1)
  })

  it('expires a message nobody took within its TTL, with an event, and never delivers it', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE, false)
    const e = t.engine()
    const r = await t.send(e, outgoing({ now: t.clock.now(), ttlMs: 10_000 }))
    await t.clock.advance(11_000, () => e.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'expired' })
    expect(t.changes.at(-1)).toMatchObject({ id: r.id, deviceId: BOB_PHONE, state: 'expired' })
    t.net.devices.get(BOB_PHONE)!.online = true
    e.deviceOnline({ accountId: BOB, deviceId: BOB_PHONE, peerId: t.net.devices.get(BOB_PHONE)!.peerId, addrs: [] })
    await t.clock.advance(60_000, () => e.idle())
    expect(t.net.sends).toEqual([])
    expect((await t.inboxOf(BOB_PHONE)).messages).toEqual([])
  })

  it('keeps a message for an account it cannot find yet, watches it, and resolves it when the account shows up', async () => {
    const t = await setup(cleanup)
    const e = t.engine()
    const r = await t.send(e, outgoing({ now: t.clock.now() }))
    expect((await t.store.get(r.id))?.devicesResolved).toBe(false)
    expect(t.net.watched).toEqual([BOB])
    expect(t.changes.at(-1)).toMatchObject({ id: r.id, state: 'queued', attempts: 1, error: expect.stringMatching(/not_found/) })
    expect(t.changes.at(-1)).not.toHaveProperty('deviceId')
    expect(e.stats()).toMatchObject({ unresolved: 1, pending: 0 })
    await t.addDevice(BOB, BOB_PHONE)
    e.deviceOnline({ accountId: BOB, deviceId: BOB_PHONE, peerId: t.net.devices.get(BOB_PHONE)!.peerId, addrs: [] })
    await e.idle()
    expect(await t.store.get(r.id)).toMatchObject({ devicesResolved: true, devices: [{ deviceId: BOB_PHONE, state: 'delivered' }] })
  })

  it('expires an unresolved message (no device ever found)', async () => {
    const t = await setup(cleanup)
    const e = t.engine()
    const start = t.clock.now()
    const r = await t.send(e, outgoing({ now: start, ttlMs: 5000 }))
    await t.clock.advance(6000, () => e.idle())
    // retried at +1 s and +3 s, then the next try falls on the expiry
    expect((await t.store.get(r.id))?.expiredAt).toBe(start + 5000)
    expect(t.net.lookups).toBe(3)
    expect(t.changes.at(-1)).toMatchObject({ id: r.id, state: 'expired' })
    expect(t.changes.at(-1)).not.toHaveProperty('deviceId')
    expect(e.stats().messages).toBe(0)
  })

  it('ends as rejected when the device refuses, and does not retry', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE, true, 'refuse')
    const e = t.engine()
    const r = await t.send(e, outgoing({ now: t.clock.now() }))
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'rejected', lastError: expect.stringMatching(/^rejected: /) })
    await t.clock.advance(600_000, () => e.idle())
    expect(t.net.lookups).toBe(1)
  })

  it('ends as rejected when the device cannot be sealed to (no encryption key), and retries while identity does not answer', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE)
    await t.addDevice(BOB, BOB_LAPTOP)
    t.net.sealFailures.set(BOB_PHONE, 'no_encryption_key')
    t.net.sealFailures.set(BOB_LAPTOP, 'no_responder')
    const e = t.engine()
    const r = await t.send(e, outgoing({ now: t.clock.now() }))
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'rejected', lastError: expect.stringMatching(/^no_encryption_key: /) })
    expect(await t.device(r.id, BOB_LAPTOP)).toMatchObject({ state: 'queued', attempts: 1, lastError: expect.stringMatching(/^no_responder: /) })
    expect(t.net.sends).toEqual([])
    // identity answers again: the laptop's next attempt goes out; the phone is not tried again
    t.net.sealFailures.delete(BOB_LAPTOP)
    await t.clock.advance(2000, () => e.idle())
    expect(await t.device(r.id, BOB_LAPTOP)).toMatchObject({ state: 'delivered' })
    expect(t.net.seals.filter((d) => d === BOB_PHONE)).toHaveLength(1)
  })

  it('ends as rejected when transport cut the device as revoked, and does not retry', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE, true, 'revoked')
    const e = t.engine()
    const r = await t.send(e, outgoing({ now: t.clock.now() }))
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'rejected', lastError: expect.stringMatching(/revoked/) })
    await t.clock.advance(600_000, () => e.idle())
    expect(t.net.lookups).toBe(1)
  })

  it('sends nothing new to a revoked device', async () => {
    const t = await setup(cleanup, { lookupFreshMs: 0 })
    await t.addDevice(BOB, BOB_PHONE, false)
    await t.addDevice(BOB, BOB_LAPTOP)
    await t.addDevice(ALICE, ALICE_LAPTOP, false)
    t.net.accounts.get(BOB)!.revoked.push(BOB_LAPTOP)
    const e = t.engine()
    const r = await t.send(e, outgoing({ now: t.clock.now(), sync: [ALICE_LAPTOP] }))
    // the revoked laptop is not even a recipient
    expect((await t.store.get(r.id))?.devices.map((d) => d.deviceId).sort()).toEqual([ALICE_LAPTOP, BOB_PHONE].sort())
    // the phone is revoked while the message waits for it: discovery's next answer says so
    t.net.accounts.get(BOB)!.revoked.push(BOB_PHONE)
    await t.clock.advance(1000, () => e.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'rejected', lastError: 'revoked' })
    // identity tells us one of our own devices was revoked
    e.revokeDevice(ALICE_LAPTOP)
    await e.idle()
    expect(await t.device(r.id, ALICE_LAPTOP)).toMatchObject({ state: 'rejected', lastError: 'revoked' })
    expect(t.net.sends).toEqual([])
  })

  it('resumes after a restart, and an ack lost in transit still ends delivered exactly once', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE, true, 'lose-ack')
    const first = t.engine()
    const r = await t.send(first, outgoing({ now: t.clock.now() }))
    // Bob stored it but the ack never came back: for Alice it is still queued
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'queued', attempts: 1 })
    expect((await t.inboxOf(BOB_PHONE)).messages).toHaveLength(1)
    await first.stop()
    // a new process: it loads the record and tries again; Bob answers duplicate, which is an ack
    const second = t.engine()
    expect(await second.start()).toEqual({ resumed: 1, pruned: 0, corrupt: [] })
    await t.clock.advance(1500, () => second.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'delivered' })
    expect((await t.inboxOf(BOB_PHONE)).messages.map((m) => m.id)).toEqual([r.id])
  })

  it('runs at most maxInFlight sends at once, and one per (message, device)', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE, true, 'hang')
    await t.addDevice(BOB, BOB_LAPTOP, true, 'hang')
    const e = t.engine({ maxInFlight: 4 })
    const ids: string[] = []
    for (let i = 0; i < 12; i++) {
      const r = outgoing({ now: t.clock.now() + i })
      await t.store.create(r)
      e.add(r)
      ids.push(r.id)
    }
    // Every send hangs until released: each round lets the current ones finish, and the next ones start.
    let engineMax = 0
    await waitUntil(
      async () => {
        // presence events while sends hang must not start a second send of the same pair
        e.deviceOnline({ accountId: BOB, deviceId: BOB_PHONE, peerId: t.net.devices.get(BOB_PHONE)!.peerId, addrs: [] })
        engineMax = Math.max(engineMax, e.stats().inFlight)
        t.net.release()
        await new Promise((r) => setTimeout(r, 5))
        return e.stats().messages === 0
      },
      { timeoutMs: 30_000, intervalMs: 1, what: 'all delivered' },
    )
    await e.idle()
    expect(engineMax).toBeLessThanOrEqual(4)
    expect(t.net.maxConcurrent).toBeLessThanOrEqual(4)
    expect(t.net.maxConcurrent).toBeGreaterThan(1)
    expect(t.net.doublePairs).toBe(0)
    expect(t.net.sends).toHaveLength(24)
    // listed in arrival order: with 4 sends in flight that is not always ID order
    expect((await t.inboxOf(BOB_PHONE)).messages.map((m) => m.id).sort()).toEqual(ids)
  })

  it('goes again at once when a presence event arrived during a failing attempt', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE, true, 'hang')
    const e = t.engine()
    const r = outgoing({ now: t.clock.now() })
    await t.store.create(r)
    e.add(r)
    await waitUntil(() => t.net.hanging === 1, { what: 'the send hangs' })
    e.deviceOnline({ accountId: BOB, deviceId: BOB_PHONE, peerId: t.net.devices.get(BOB_PHONE)!.peerId, addrs: [] })
    t.net.devices.get(BOB_PHONE)!.mode = 'ack'
    t.net.release(true)
    await e.idle()
    // no clock movement: the retry did not wait for the back-off
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'delivered', attempts: 1 })
  })

  it('goes again at once when the device acknowledged another message during a failing attempt', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE, true, 'hang')
    const e = t.engine()
    const stuck = outgoing({ now: t.clock.now() })
    await t.store.create(stuck)
    e.add(stuck)
    await waitUntil(() => t.net.hanging === 1, { what: 'the send hangs' })
    // The path is back (no presence event): the next message is acknowledged while the first attempt still hangs.
    t.net.devices.get(BOB_PHONE)!.mode = 'ack'
    const next = outgoing({ now: t.clock.now() })
    await t.store.create(next)
    e.add(next)
    await waitUntil(async () => (await t.device(next.id, BOB_PHONE))?.state === 'delivered', { what: 'the next message delivered' })
    t.net.release(true)
    await e.idle()
    // no clock movement: the failed attempt's retry did not wait out the back-off
    expect(await t.device(stuck.id, BOB_PHONE)).toMatchObject({ state: 'delivered', attempts: 1 })
  })

  it('keeps going when the store fails, and nothing is recorded as done that was not', async () => {
    const t = await setup(cleanup)
    await t.addDevice(BOB, BOB_PHONE)
    let failUpdates = 2
    const flaky = new OutboxRecordBucket(t.store.kv)
    const update = flaky.update.bind(flaky)
    flaky.update = (id, fn) => (failUpdates-- > 0 ? Promise.reject(Object.assign(new Error('JetStream unavailable'), { code: 'unavailable' })) : update(id, fn))
    t.net.store = flaky
    const e = t.engine()
    const r = outgoing({ now: t.clock.now() })
    await t.store.create(r)
    e.add(r)
    await e.idle()
    expect((await t.store.get(r.id))?.devicesResolved).toBe(false)
    await t.clock.advance(2000, () => e.idle())
    await t.clock.advance(2000, () => e.idle())
    expect(await t.device(r.id, BOB_PHONE)).toMatchObject({ state: 'delivered' })
    expect((await t.inboxOf(BOB_PHONE)).messages).toHaveLength(1)
    // the second attempt got "duplicate" from Bob, so delivered was written exactly when it was known
    expect(t.changes.filter((c) => c.state === 'delivered')).toHaveLength(1)
  })
})
