/**
 * Outbox benchmarks, one JSON object on stdout:
 * - inbox receive throughput (messages persisted per second), through the library and through the actor over the
 *   bus (sealed envelopes: identity opens each), vs a raw JetStream KV put loop of the same values at the same
 *   concurrency, in the same run (ratio); outbox.send through the actor (each body sealed at rest);
 * - presence event → message stored in the receiver's inbox (engine + real receiving Inbox on JetStream; the
 *   network between them is the in-process stand-in of the engine tests, so this is the outbox's own share);
 * - engine memory with 100k pending messages (bounded: no bodies in memory), and resuming 20k records from KV.
 * Run: npx node --conditions=@baran/source --expose-gc packages/outbox/bench/outbox.bench.ts [scale]
 */
import { ActorRuntime, silentLogger } from '@baran/actor'
import { Bus, identityCreate, identityPeerBinding, identitySeal, outboxReceive, outboxSend } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { identityActor } from '@baran/identity'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { actor } from '../src/actor.ts'
import { type AccountDevices, type Clock, DeliveryEngine } from '../src/lib/engine.ts'
import { newMessageId } from '../src/lib/ids.ts'
import { Inbox } from '../src/lib/inbox.ts'
import { encodePayload, type MessagePayload } from '../src/lib/payload.ts'
import { OutboxRecordBucket, type OutgoingRecord, payloadOf } from '../src/lib/records.ts'

const scale = Math.max(0.05, Math.min(10, Number(process.argv[2] ?? 1) || 1))
const N_RECEIVE = Math.round(3000 * scale)
const CONCURRENCY = 32
const N_PENDING = Math.round(100_000 * scale)
const N_RESUME = Math.round(20_000 * scale)
const N_ONLINE = Math.round(200 * scale)

const ALICE = 'a1'.repeat(20)
const ALICE_PHONE = 'a2'.repeat(20)
const BOB = 'b1'.repeat(20)
const BOB_PHONE = 'b2'.repeat(20)
const round1 = (x: number) => Math.round(x * 10) / 10
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN
const gc = () => (globalThis as { gc?: () => void }).gc?.()
const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Runs fn over items, `concurrency` at a time; returns items per second. */
async function throughput<T>(items: T[], fn: (item: T) => Promise<unknown>, concurrency = CONCURRENCY): Promise<number> {
  let next = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!)
    }),
  )
  return items.length / ((performance.now() - t) / 1000)
}

function message(to: string, body: string): MessagePayload {
  const now = Date.now()
  return { v: 1, kind: 'message', id: newMessageId(), from: ALICE, fromDevice: ALICE_PHONE, to, body, sentAt: now, expiresAt: now + 86_400_000, sync: false }
}

const dir = await mkdtemp(join(tmpdir(), 'baran-bench-outbox-'))
const server = await startNatsServer({ workDir: dir, jetstream: true })
const result: Record<string, unknown> = { cpus: cpus().length, scale }
try {
  const bus = await Bus.connect({ servers: server.url, node: 'n1' })
  const body = 'x'.repeat(200)

  // ---- receive throughput: library, actor over the bus, raw KV put ----
  {
    const inbox = new Inbox({ log: await bus.kv('bench_inbox'), read: await bus.kv('bench_inbox_read'), outgoing: new OutboxRecordBucket(await bus.kv('bench_outbox')), self: () => ({ accountId: BOB, deviceId: BOB_PHONE }) })
    const raw = await bus.kv('bench_raw')
    const lib: number[] = []
    const rawPut: number[] = []
    for (let r = 0; r < 3; r++) {
      const reqs = Array.from({ length: N_RECEIVE }, () => {
        const m = message(BOB, body)
        return { id: m.id, payload: encodePayload(m), from: { accountId: ALICE, deviceId: ALICE_PHONE, peerId: 'p' } }
      })
      lib.push(await throughput(reqs, (r) => inbox.receive(r)))
      // the same number of values of the same size, written with plain put (no checks, no de-duplication)
      const values = reqs.map((r) => ({ key: `${ALICE}.${newMessageId()}`, value: new TextEncoder().encode(JSON.stringify({ p: Buffer.from(r.payload).toString('base64'), receivedAt: Date.now() })) }))
      rawPut.push(await throughput(values, (v) => raw.put(v.key, v.value)))
    }
    const libBest = Math.max(...lib)
    const rawBest = Math.max(...rawPut)
    result.receive = {
      messages: N_RECEIVE,
      concurrency: CONCURRENCY,
      libraryMsgsPerSec: Math.round(libBest),
      rawKvPutMsgsPerSec: Math.round(rawBest),
      rawOverLibrary: round1(rawBest / libBest),
    }
  }

  // ---- receive through the actor: bus request → identity.open (verify, decrypt) → inbox → KV → reply ----
  // ---- send through the actor: bus request → identity.seal (to this device) → KV → reply ----
  {
    const dataDir = join(dir, 'node')
    const common = { node: 'n1', bus: { connect: { servers: server.url } }, dataDir, log: silentLogger() }
    const identity = new ActorRuntime(identityActor, { ...common, config: { kdf: { N: 1024, r: 8, p: 1 } } })
    await identity.start()
    const me = await bus.request(identityCreate, {})
    const outbox = new ActorRuntime(actor, { ...common, config: { buckets: { outbox: 'actor_outbox', inbox: 'actor_inbox' } } })
    await outbox.start()
    // Another account's device seals the envelopes (its own identity actor, node n2), as the real sender would.
    const sender = new ActorRuntime(identityActor, { ...common, node: 'n2', dataDir: join(dir, 'sender'), config: { kdf: { N: 1024, r: 8, p: 1 } } })
    await sender.start()
    const them = await bus.request(identityCreate, {}, { node: 'n2' })
    const { deviceCert } = await bus.request(identityPeerBinding, { peerId: '12D3KooWBenchReceiver' })
    const reqs: Array<{ id: string; payload: string; from: { accountId: string; deviceId: string; peerId: string } }> = []
    for (let i = 0; i < N_RECEIVE; i++) {
      const p = { ...message(me.accountId, body), from: them.accountId, fromDevice: them.deviceId }
      const sealed = await bus.request(identitySeal, { id: p.id, payload: Buffer.from(encodePayload(p)).toString('base64'), recipients: [deviceCert] }, { node: 'n2' })
      reqs.push({ id: p.id, payload: sealed.envelope, from: { accountId: them.accountId, deviceId: them.deviceId, peerId: 'p' } })
    }
    const statuses = new Map<string, number>()
    const viaBus = await throughput(reqs, async (r) => {
      const { status } = await bus.request(outboxReceive, r)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    })
    ;(result.receive as Record<string, unknown>).actorOverBusMsgsPerSec = Math.round(viaBus)
    ;(result.receive as Record<string, unknown>).actorStatuses = Object.fromEntries(statuses)
    ;(result.receive as Record<string, unknown>).rawOverActor = round1(((result.receive as Record<string, number>).rawKvPutMsgsPerSec ?? 0) / viaBus)
    // outbox.send to an account nobody serves discovery for: the reply comes once the record (body sealed) is stored
    const sends = Array.from({ length: Math.round(N_RECEIVE / 3) }, (_, i) => `${body} ${i}`)
    result.send = { messages: sends.length, concurrency: CONCURRENCY, actorOverBusMsgsPerSec: Math.round(await throughput(sends, (b) => bus.request(outboxSend, { to: BOB, body: b }))) }
    await sender.stop()
    await sender.close()
    await outbox.stop()
    await outbox.close()
    await identity.stop()
    await identity.close()
  }

  // ---- presence event → stored in the receiver's inbox ----
  {
    const receiver = new Inbox({ log: await bus.kv('bench_online_inbox'), read: await bus.kv('bench_online_read'), outgoing: new OutboxRecordBucket(await bus.kv('bench_online_x')), self: () => ({ accountId: BOB, deviceId: BOB_PHONE }) })
    const store = new OutboxRecordBucket(await bus.kv('bench_online_outbox'))
    let online = false
    let storedAt = 0
    const engine = new DeliveryEngine({
      store,
      lookupAccount: async (): Promise<AccountDevices> => ({ devices: [{ deviceId: BOB_PHONE, online, ...(online ? { peerId: 'bob' } : {}), addrs: [] }], revoked: [] }),
      seal: async (req) => encodePayload(payloadOf(req.record, req.sync)),
      send: async (req) => {
        if (!online) throw Object.assign(new Error('offline'), { code: 'unreachable' })
        const r = await receiver.receive({ id: req.id, payload: req.payload, from: { accountId: ALICE, deviceId: ALICE_PHONE, peerId: 'alice' } })
        storedAt = performance.now()
        return r
      },
      watch: async () => {},
      unwatch: async () => {},
    })
    const delays: number[] = []
    for (let i = 0; i < N_ONLINE; i++) {
      online = false
      const now = Date.now()
      const rec: OutgoingRecord = { v: 1, id: newMessageId(), kind: 'message', from: ALICE, fromDevice: ALICE_PHONE, to: BOB, body, createdAt: now, expiresAt: now + 86_400_000, devicesResolved: true, devices: [{ deviceId: BOB_PHONE, state: 'queued', attempts: 0, sync: false }] }
      await store.create(rec)
      engine.add(rec)
      await engine.idle() // first attempt failed: Bob is offline, the message waits on its back-off
      online = true
      storedAt = 0
      const t = performance.now()
      engine.deviceOnline({ accountId: BOB, deviceId: BOB_PHONE, peerId: 'bob', addrs: [] })
      await engine.idle()
      delays.push(storedAt - t)
    }
    await engine.stop()
    result.onlineToStoredMs = { n: delays.length, p50: round1(pct(delays, 0.5)), p95: round1(pct(delays, 0.95)), max: round1(Math.max(...delays)) }
  }

  // ---- engine memory with 100k pending ----
  {
    // A clock whose timers never fire, and a discovery that never answers: everything stays pending.
    const frozen: Clock = { now: () => Date.now(), setTimeout: () => 0, clearTimeout: () => {} }
    const never = new Promise<never>(() => {})
    const before = heap()
    const engine = new DeliveryEngine(
      { store: new OutboxRecordBucket(await bus.kv('bench_unused')), lookupAccount: () => never, seal: () => never, send: () => never, watch: async () => {}, unwatch: async () => {} },
      { clock: frozen },
    )
    const now = Date.now()
    for (let i = 0; i < N_PENDING; i++) {
      const to = (i % 1000).toString(16).padStart(40, '0') // 1000 recipients
      engine.add({
        v: 1,
        id: newMessageId(),
        kind: 'message',
        from: ALICE,
        fromDevice: ALICE_PHONE,
        to,
        body,
        createdAt: now,
        expiresAt: now + 86_400_000,
        devicesResolved: true,
        devices: [
          { deviceId: to.replace(/^0/, 'd'), state: 'queued', attempts: 0, sync: false },
          { deviceId: 'a3'.repeat(20), state: 'queued', attempts: 0, sync: true },
        ],
      })
    }
    const after = heap()
    const stats = engine.stats()
    result.memory = {
      pendingMessages: N_PENDING,
      pendingDevices: stats.pending,
      heapMB: round1((after - before) / 1048576),
      bytesPerMessage: Math.round((after - before) / N_PENDING),
      rssMB: round1(process.memoryUsage().rss / 1048576),
    }
    void engine.stop()
  }

  // ---- resume: load N records from KV and index them ----
  {
    const kv = await bus.kv('bench_resume')
    const store = new OutboxRecordBucket(kv)
    const now = Date.now()
    const records = Array.from(
      { length: N_RESUME },
      (_, i): OutgoingRecord => ({ v: 1, id: newMessageId(), kind: 'message', from: ALICE, fromDevice: ALICE_PHONE, to: (i % 100).toString(16).padStart(40, '0'), body, createdAt: now, expiresAt: now + 86_400_000, devicesResolved: true, devices: [{ deviceId: 'b9'.repeat(20), state: 'queued', attempts: 0, sync: false }] }),
    )
    const writeRate = await throughput(records, (r) => store.create(r), 64)
    const frozen: Clock = { now: () => Date.now(), setTimeout: () => 0, clearTimeout: () => {} }
    const never = new Promise<never>(() => {})
    const engine = new DeliveryEngine({ store, lookupAccount: () => never, seal: () => never, send: () => never, watch: async () => {}, unwatch: async () => {} }, { clock: frozen })
    const t = performance.now()
    const { resumed } = await engine.start()
    result.resume = { records: N_RESUME, resumed, startMs: Math.round(performance.now() - t), createMsgsPerSec: Math.round(writeRate) }
    void engine.stop()
  }
  await bus.close()
} finally {
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
