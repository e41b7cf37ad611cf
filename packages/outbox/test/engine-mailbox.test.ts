/**
 * The deposit policy: when a device is not reachable (no presence, or the send failed for a reason that may pass),
 * its envelope goes to its DHT mailbox once, after the first failed direct attempt, and direct attempts go on. The
 * records are real JetStream KV; discovery and transport are a TEST DOUBLE at their boundary (the engine's deps), as
 * in engine.test.ts. Real deposits and fetches between nodes: apps/node/test/mailbox.e2e.test.ts.
 */
import { Cleanup, type Cleanup as CleanupType } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { type DeliveryChange, type DeliveryDeps, DeliveryEngine } from '../src/lib/engine.ts'
import { decodePayload, encodePayload } from '../src/lib/payload.ts'
import { OutboxRecordBucket, payloadOf } from '../src/lib/records.ts'
import { BOB, BOB_PHONE, jetstream, ManualClock, outgoing } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

type SendMode = 'offline' | 'unreachable' | 'rejected' | 'ack'

async function setup(c: CleanupType) {
  const js = await jetstream(c)
  const clock = new ManualClock()
  const store = new OutboxRecordBucket(await js.bucket('outbox'))
  const deposits: Array<{ deviceId: string; id: string; at: number }> = []
  const net = { mode: 'offline' as SendMode, depositFails: 0, sends: 0 }
  const deps: DeliveryDeps = {
    store,
    lookupAccount: async () => ({
      devices: [{ deviceId: BOB_PHONE, online: net.mode !== 'offline', ...(net.mode !== 'offline' ? { peerId: 'bob-phone' } : {}), addrs: net.mode !== 'offline' ? ['/ip4/127.0.0.1/tcp/1'] : [] }],
      revoked: [],
    }),
    seal: async (req) => encodePayload(payloadOf(req.record, req.sync)),
    send: async () => {
      net.sends++
      if (net.mode === 'ack') return { status: 'stored' }
      throw Object.assign(new Error(`${net.mode}: no`), { code: net.mode === 'rejected' ? 'rejected' : 'unreachable' })
    },
    deposit: async (req) => {
      if (net.depositFails > 0) {
        net.depositFails--
        throw Object.assign(new Error('no node took it'), { code: 'rpc_failed' })
      }
      deposits.push({ deviceId: req.deviceId, id: decodePayload(req.envelope).id, at: clock.now() })
      return { stored: 2 }
    },
    watch: async () => {},
    unwatch: async () => {},
  }
  const changes: DeliveryChange[] = []
  const engine = () => {
    const e = new DeliveryEngine(deps, { clock, random: () => 0.5, lookupFreshMs: 0, onChange: (ch) => void changes.push(ch) })
    c.add('stop engine', () => e.stop())
    return e
  }
  const device = async (id: string) => (await store.get(id))?.devices.find((d) => d.deviceId === BOB_PHONE)
  return { clock, store, net, deposits, changes, engine, device }
}

describe('delivery engine: the DHT mailbox', () => {
  it('deposits once after the first failed attempt of an offline device, keeps trying direct, and delivers when it comes online', async () => {
    const t = await setup(cleanup)
    const e = t.engine()
    const start = t.clock.now()
    const r = outgoing({ now: start })
    await t.store.create(r)
    e.add(r)
    await e.idle()
    expect(t.deposits).toEqual([{ deviceId: BOB_PHONE, id: r.id, at: start }])
    expect(await t.device(r.id)).toMatchObject({ state: 'queued', attempts: 1, depositedAt: start, lastError: 'offline' })
    expect(t.changes.filter((ch) => ch.deposited !== undefined)).toEqual([expect.objectContaining({ id: r.id, deviceId: BOB_PHONE, state: 'queued', deposited: start })])
    // more failed attempts: no second deposit
    await t.clock.advance(1000, () => e.idle())
    await t.clock.advance(2000, () => e.idle())
    expect((await t.device(r.id))?.attempts).toBe(3)
    expect(t.deposits).toHaveLength(1)
    // it comes online: delivered directly (the receiver de-duplicates against its mailbox by message ID)
    t.net.mode = 'ack'
    e.deviceOnline({ accountId: BOB, deviceId: BOB_PHONE, peerId: 'bob-phone', addrs: ['/ip4/127.0.0.1/tcp/1'] })
    await e.idle()
    expect(await t.device(r.id)).toMatchObject({ state: 'delivered', depositedAt: start })
    expect(t.deposits).toHaveLength(1)
  })

  it('deposits when the dial fails, not when the device refuses; a failed deposit is tried at the next failed attempt', async () => {
    const t = await setup(cleanup)
    const e = t.engine()
    t.net.mode = 'rejected'
    const refused = outgoing({ now: t.clock.now() })
    await t.store.create(refused)
    e.add(refused)
    await e.idle()
    expect((await t.device(refused.id))?.state).toBe('rejected')
    expect(t.deposits).toEqual([])

    t.net.mode = 'unreachable'
    t.net.depositFails = 1
    const r = outgoing({ now: t.clock.now() })
    await t.store.create(r)
    e.add(r)
    await e.idle()
    expect(t.net.sends).toBe(2)
    expect(t.deposits).toEqual([])
    expect((await t.device(r.id))?.depositedAt).toBeUndefined()
    await t.clock.advance(1000, () => e.idle())
    expect(t.deposits.map((d) => d.id)).toEqual([r.id])
    expect((await t.device(r.id))?.depositedAt).toBe(t.clock.now())
  })

  it('does not deposit again after a restart: the record remembers it', async () => {
    const t = await setup(cleanup)
    const first = t.engine()
    const r = outgoing({ now: t.clock.now() })
    await t.store.create(r)
    first.add(r)
    await first.idle()
    await first.stop()
    expect(t.deposits).toHaveLength(1)
    const second = t.engine()
    expect((await second.start()).resumed).toBe(1)
    await t.clock.advance(1000, () => second.idle())
    await t.clock.advance(2000, () => second.idle())
    expect((await t.device(r.id))?.attempts).toBeGreaterThanOrEqual(2)
    expect(t.deposits).toHaveLength(1)
  })

  it("ends as delivered when the device says it took the message from its mailbox (a 'delivered' receipt), with no more attempts", async () => {
    const t = await setup(cleanup)
    const e = t.engine()
    const r = outgoing({ now: t.clock.now() })
    await t.store.create(r)
    e.add(r)
    await e.idle()
    expect(await t.device(r.id)).toMatchObject({ state: 'queued', attempts: 1 })
    t.clock.t += 500
    e.deliveredElsewhere(r.id, BOB_PHONE)
    await e.idle()
    expect(await t.device(r.id)).toMatchObject({ state: 'delivered', deliveredAt: t.clock.now() })
    expect(t.changes.at(-1)).toMatchObject({ id: r.id, deviceId: BOB_PHONE, state: 'delivered' })
    expect(e.stats().pending).toBe(0)
    const sends = t.net.sends
    await t.clock.advance(10_000, () => e.idle())
    expect(t.net.sends).toBe(sends)
  })
})
