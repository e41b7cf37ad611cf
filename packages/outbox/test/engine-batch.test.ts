/**
 * What a burst of messages to one account costs the engine in round trips: discovery lookups and outbox bucket
 * reads and writes (each a JetStream round trip on a busy node). The network is a TEST DOUBLE at the discovery
 * and transport boundary (as in engine.test.ts); behind it the receiver is a real Inbox on real JetStream, and the
 * sender's store is a real bucket, counted.
 */
import { Cleanup, waitUntil } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { type AccountDevices, type DeliveryDeps, DeliveryEngine } from '../src/lib/engine.ts'
import { Inbox } from '../src/lib/inbox.ts'
import type { KvStore } from '../src/lib/kv.ts'
import { encodePayload } from '../src/lib/payload.ts'
import { OutboxRecordBucket, payloadOf } from '../src/lib/records.ts'
import { ALICE, ALICE_PHONE, BOB, BOB_PHONE, jetstream, ManualClock, outgoing } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** The bucket, counting each kind of call. */
function counted(kv: KvStore) {
  const calls = { get: 0, create: 0, update: 0 }
  const store: KvStore = {
    get: (k) => {
      calls.get++
      return kv.get(k)
    },
    create: (k, v) => {
      calls.create++
      return kv.create(k, v)
    },
    update: (k, v, r) => {
      calls.update++
      return kv.update(k, v, r)
    },
    put: (k, v) => kv.put(k, v),
    delete: (k) => kv.delete(k),
    keys: (f) => kv.keys(f),
    entries: () => kv.entries(),
  }
  return { store, calls }
}

async function setup(c: Cleanup) {
  const js = await jetstream(c)
  const clock = new ManualClock()
  const kv = counted(await js.bucket('outbox'))
  const store = new OutboxRecordBucket(kv.store)
  const inbox = new Inbox({
    log: await js.bucket('inbox'),
    read: await js.bucket('inbox_read'),
    outgoing: new OutboxRecordBucket(await js.bucket('theirs')),
    self: () => ({ accountId: BOB, deviceId: BOB_PHONE }),
    now: () => clock.now(),
  })
  const net = { lookups: 0, lookupHangs: false, sends: 0, concurrent: 0, maxConcurrent: 0, hold: undefined as Promise<void> | undefined }
  const deps: DeliveryDeps = {
    store,
    lookupAccount: async (): Promise<AccountDevices> => {
      net.lookups++
      if (net.lookupHangs) return new Promise<never>(() => {})
      return { devices: [{ deviceId: BOB_PHONE, online: true, peerId: 'bob-phone', addrs: [] }], revoked: [] }
    },
    // Sealing is identity's (actor.test.ts): the library inbox here gets the opened payload.
    seal: async (req) => encodePayload(payloadOf(req.record, req.sync)),
    send: async (req) => {
      net.sends++
      net.concurrent++
      net.maxConcurrent = Math.max(net.maxConcurrent, net.concurrent)
      await net.hold
      net.concurrent--
      const r = await inbox.receive({ id: req.id, payload: req.payload, from: { accountId: ALICE, deviceId: ALICE_PHONE, peerId: 'alice-phone' } })
      if (r.status === 'rejected') throw Object.assign(new Error(r.reason), { code: 'rejected' })
      return r
    },
    watch: async () => {},
    unwatch: async () => {},
  }
  // default settings, as the actor runs it
  const engine = new DeliveryEngine(deps, { clock, random: () => 0.5 })
  c.add('stop engine', () => engine.stop())
  return { clock, kv, store, inbox, net, engine }
}

describe('delivery engine: a burst to one account', () => {
  it('64 messages sent at once arrive exactly once, with one discovery lookup and no read of the outbox bucket', async () => {
    const t = await setup(cleanup)
    const records = Array.from({ length: 64 }, (_, i) => outgoing({ now: t.clock.now() + i }))
    // as outbox.send does: persist, then hand over, one after the other while earlier ones are being delivered
    for (const r of records) {
      await t.store.create(r)
      t.engine.add(r)
    }
    await t.engine.idle()
    for (let i = 0; i < 50 && t.engine.stats().messages > 0; i++) await t.engine.idle()
    expect(t.engine.stats().messages).toBe(0)
    const inbox = await t.inbox.list({ limit: 100 })
    expect(inbox.messages.map((m) => m.id).sort()).toEqual(records.map((r) => r.id).sort())
    expect(t.net.sends).toBe(64)
    // the lookup's answer serves the whole burst (it was one lookup per resolving batch)
    expect(t.net.lookups).toBe(1)
    // a write per step (resolved, delivered) and no read: the store kept what it wrote (it was a read before each write and each send)
    expect(t.kv.calls.get).toBe(0)
    expect(t.kv.calls.update).toBe(128)
    for (const r of records) expect((await t.store.get(r.id))?.devices.map((d) => d.state)).toEqual(['delivered'])
  })

  it('64 sends to one device are in flight at once by default (pipelined on its stream, acked in batches)', async () => {
    const t = await setup(cleanup)
    let release!: () => void
    t.net.hold = new Promise((resolve) => {
      release = resolve
    })
    const records = Array.from({ length: 64 }, (_, i) => outgoing({ now: t.clock.now() + i }))
    for (const r of records) {
      await t.store.create(r)
      t.engine.add(r)
    }
    await waitUntil(() => t.net.concurrent === 64, { timeoutMs: 20_000, what: '64 sends in flight' })
    release()
    for (let i = 0; i < 50 && t.engine.stats().messages > 0; i++) await t.engine.idle()
    expect(t.net.maxConcurrent).toBe(64)
    expect(t.net.sends).toBe(64)
    expect((await t.inbox.list({ limit: 100 })).messages).toHaveLength(64)
  })

  it('a message to an account looked up moments ago is persisted with its devices: one write after its create', async () => {
    const t = await setup(cleanup)
    const first = outgoing({ now: t.clock.now() })
    await t.store.create(first)
    t.engine.add(first)
    await t.engine.idle()
    const before = { ...t.kv.calls }
    const r = t.engine.withKnownDevices(outgoing({ now: t.clock.now() + 1 }))
    expect(r.devicesResolved).toBe(true)
    expect(r.devices.map((d) => d.deviceId)).toEqual([BOB_PHONE])
    await t.store.create(r)
    t.engine.add(r)
    await t.engine.idle()
    expect(t.kv.calls.update - before.update).toBe(1)
    expect(t.kv.calls.get - before.get).toBe(0)
    expect(t.net.lookups).toBe(1)
    expect((await t.store.get(r.id))?.devices.map((d) => d.state)).toEqual(['delivered'])
  })

  it('past lookupFreshMs a new burst is addressed by one new lookup, never by the old answer (it may list a device revoked since)', async () => {
    const t = await setup(cleanup)
    const first = outgoing({ now: t.clock.now() })
    await t.store.create(first)
    t.engine.add(first)
    await t.engine.idle()
    expect(t.net.lookups).toBe(1)
    t.clock.t += 6000
    // the old answer no longer addresses a message
    expect(t.engine.withKnownDevices(outgoing({ now: t.clock.now() })).devicesResolved).toBe(false)
    const records = Array.from({ length: 8 }, (_, i) => outgoing({ now: t.clock.now() + i }))
    for (const r of records) {
      await t.store.create(r)
      t.engine.add(r)
    }
    await waitUntil(() => t.engine.stats().messages === 0, { timeoutMs: 20_000, what: 'all 8 delivered' })
    expect((await t.inbox.list({ limit: 100 })).messages).toHaveLength(9)
    // one new lookup for the burst, not one per message
    expect(t.net.lookups).toBe(2)
  })

  it('an answer past lookupUsableMs is not used: the recipient is looked up again first', async () => {
    const t = await setup(cleanup)
    const first = outgoing({ now: t.clock.now() })
    await t.store.create(first)
    t.engine.add(first)
    await t.engine.idle()
    t.clock.t += 60_000
    expect(t.engine.withKnownDevices(outgoing({ now: t.clock.now() })).devicesResolved).toBe(false)
  })
})
