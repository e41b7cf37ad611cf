/**
 * Throughput of the durable pipeline at several concurrencies, across two real nodes on loopback (each its own
 * supervisor, nats-server and five actor processes), against raw JetStream KV puts measured in the same run.
 *
 * For each mode and concurrency C (default 1, 8, 16, 32) the bench process runs C senders on A's bus until N messages
 * (default 500) were sent: in `open` mode a sender sends its next message as soon as `outbox.send` replied
 * (persisted on A: a backlog builds up in A's engine), in `closed` mode only once A reported the previous one
 * `delivered` (B acked it). It listens to B's `outbox.evt.received`:
 * - msgsPerSec: N / (last message persisted in B's inbox − first send issued), one clock in the bench process;
 * - latency of one message: from just before its `outbox.send` request is issued to the moment the bench hears B's
 *   `received` event for it (the inbox write is done before that event), p50/p95/max;
 * - cpuMsPerMessage: CPU time (user + system, /proc) each process of both nodes used during the level, per message:
 *   on a machine shared with other work it moves far less than msgs/s;
 * - retries: A's `outbox.evt.delivery` events that put a device back to `queued` after a failed attempt (a healthy
 *   run has none), and messages still missing when the level gave up.
 * Raw baseline: the same bench process puts max(N, 5000) values of the same size into a KV bucket of its own
 * nats-server (JetStream on file storage like the nodes') with C puts in flight, after a warm-up of a tenth as many;
 * the clock runs from the first put issued to the last put acknowledged. `rawOverPipeline` at each level compares
 * the two.
 * writeFloor: the JetStream writes a message made on both nodes (jetstream-writes.ts: their streams' sequences
 * before and after the level), times the CPU a raw put cost (bench process + its nats-server, same concurrency):
 * what the writes alone would cost if each were as cheap as a raw put, and the msgs/s that leaves on this machine's
 * cores (`ceilingMsgsPerSec`, `ceilingOverRaw`). No pipeline that makes as many writes can go faster.
 * floor: the writes' floor plus the envelope work of one message from the raw node:crypto primitives (testkit's
 * envelopeFloorCpuUs, measured in the bench process before the nodes start: the sender's seal at rest and signed seal to
 * the device, the receiver's open), and the msgs/s both leave on this machine's cores (`ceilingMsgsPerSec`). No
 * pipeline that makes as many writes and seals each message in an envelope of its own can go faster.
 * goal: issue 19's (≥ 5,000 msgs/s and ≥ 0.5× raw puts at one level), whether a level met it, and whether the highest
 * ceilings of the run let such a pipeline reach it at all (`reachableWithTheseWrites`, `reachableAboveFloor`).
 *
 * `pipeline.bench.ts [--messages N] [--levels 1,8,16,32] [--modes open,closed] [--logs DIR]` (DIR keeps both nodes'
 * actor logs; BARAN_LOG_LEVEL=debug makes them detailed).
 */

import { cp } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Bus, identityStatus, outboxDelivery, outboxReceived, outboxSend } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { Cleanup, cpuMs, envelopeFloorCpuUs, tempDir, waitUntil } from '@baran/testkit'
import { startNode } from '../test/helpers.ts'
import { cpuPer, cpuSnapshot, rolesOf } from './cpu.ts'
import { streamSequences, writesBetween } from './jetstream-writes.ts'
import { warnings } from './warnings.ts'

const { values } = parseArgs({ options: { messages: { type: 'string' }, levels: { type: 'string' }, modes: { type: 'string' }, logs: { type: 'string' } } })
const MESSAGES = Number(values.messages ?? 500)
const LEVELS = (values.levels ?? '1,8,16,32').split(',').map(Number)
/** open: a sender moves on as soon as `send` replied (persisted on A); closed: only once A reports it delivered. */
const MODES = (values.modes ?? 'open,closed').split(',').filter((m): m is 'open' | 'closed' => m === 'open' || m === 'closed')
if (MODES.length === 0 || LEVELS.length === 0 || !LEVELS.every((c) => Number.isInteger(c) && c > 0)) {
  throw new Error(`pipeline.bench: --modes takes open and/or closed, --levels positive integers (got ${values.modes ?? '-'} / ${values.levels ?? '-'})`)
}
const LEVEL_TIMEOUT_MS = 180_000
/** Issue 19's goal for the durable pipeline: msgs/s, and that rate over raw KV puts at the same concurrency. */
const GOAL = { msgsPerSec: 5000, overRaw: 0.5 }
/** What the goal reads of a level's result. */
type LevelSummary = { msgsPerSec: number; rawKvPutsPerSec: number; writeFloor: { ceilingMsgsPerSec: number }; floor: { ceilingMsgsPerSec: number } }
/** Raw puts a level (after a tenth as many to warm up): enough for nats-server's CPU, read in 10 ms ticks. */
const RAW_PUTS = Math.max(MESSAGES, 5000)
const cleanup = new Cleanup()
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN
const r1 = (x: number) => Math.round(x * 10) / 10
const r2 = (x: number) => Math.round(x * 100) / 100
/** Writes by stream, per message. */
const per = (w: Record<string, number>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, r2(v / MESSAGES)]))

/** Runs job(0..n-1) with `concurrency` in flight. */
async function pool(n: number, concurrency: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await job(next++)
    }),
  )
}

const bodyOf = (i: number) => `m${i} ${'x'.repeat(100)}`

try {
  // ---- raw JetStream baseline ----
  const dir = await tempDir(cleanup)
  const server = await startNatsServer({ workDir: dir, jetstream: true })
  cleanup.add('nats', () => server.stop())
  const raw = await Bus.connect({ servers: server.url, node: 'raw' })
  cleanup.add('raw bus', () => raw.close())
  const kv = await raw.kv('bench_raw')
  const value = new TextEncoder().encode(JSON.stringify({ body: bodyOf(0), pad: 'x'.repeat(200) }))
  const rawPerSec: Record<number, number> = {}
  /** CPU ms one raw put costs the bench process and its nats-server together (both do nothing else meanwhile). */
  const rawCpuPerPut: Record<number, number> = {}
  // The bench process to the microsecond; nats-server from /proc in 10 ms ticks, hence enough puts to count.
  const rawCpu = async () => {
    const own = process.cpuUsage()
    return (own.user + own.system) / 1000 + (server.pid ? await cpuMs(server.pid) : Number.NaN)
  }
  await pool(RAW_PUTS / 10, 8, (i) => kv.put(`warm.k${i}`, value))
  for (const c of LEVELS) {
    const cpu0 = await rawCpu()
    const t = performance.now()
    await pool(RAW_PUTS, c, (i) => kv.put(`c${c}.k${i}`, value))
    rawPerSec[c] = RAW_PUTS / ((performance.now() - t) / 1000)
    rawCpuPerPut[c] = ((await rawCpu()) - cpu0) / RAW_PUTS
  }
  // One message's envelope work from the raw primitives, on a payload the size of the raw puts' values: like the
  // raw puts, in this process before the nodes start (nothing else running), best case (back to back, hot caches).
  const envelopeCpuMs = envelopeFloorCpuUs(value, 2000) / 1000

  // ---- two nodes ----
  const a = await startNode(cleanup, {}, { name: 'alice', args: ['--create-account'] })
  const b = await startNode(cleanup, {}, { name: 'bob', home: a.home, args: ['--create-account'] })
  cleanup.add('stop nodes', async () => {
    for (const n of [b, a]) await n.proc.stop('SIGTERM', 20_000)
  })
  for (const n of [a, b]) await waitUntil(async () => (await n.bus.request(identityStatus, {})).hasAccount, { timeoutMs: 20_000 })
  const bob = (await b.bus.request(identityStatus, {})).account?.accountId ?? ''

  const receivedAt = new Map<string, number>()
  const deliveredAt = new Map<string, number>()
  const waiting = new Map<string, () => void>()
  const sub = await b.bus.subscribe(outboxReceived, (m) => void receivedAt.set(m.id, performance.now()))
  let retries = 0
  const deliverySub = await a.bus.subscribe(outboxDelivery, (e) => {
    if (e.state === 'queued' && e.attempts > 0) retries++
    if (e.state === 'delivered') {
      deliveredAt.set(e.id, performance.now())
      waiting.get(e.id)?.()
    }
  })
  /** Resolves once A reports the message delivered (B acked it), bounded. */
  const delivered = (id: string) =>
    new Promise<void>((resolve, reject) => {
      if (deliveredAt.has(id)) return resolve()
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error(`message ${id} not delivered within ${LEVEL_TIMEOUT_MS} ms`))
      }, LEVEL_TIMEOUT_MS)
      waiting.set(id, () => {
        clearTimeout(timer)
        waiting.delete(id)
        resolve()
      })
    })
  cleanup.add('subscriptions', () => {
    sub.unsubscribe()
    deliverySub.unsubscribe()
  })
  // Warm-up: the first message dials, handshakes and looks the recipient up.
  const warm = await a.bus.request(outboxSend, { to: bob, body: 'warm-up' })
  await waitUntil(() => receivedAt.has(warm.id), { timeoutMs: 60_000, what: 'warm-up message' })

  const roles = { sender: await rolesOf(a), receiver: await rolesOf(b) }
  const streams = { sender: await streamSequences(a, cleanup), receiver: await streamSequences(b, cleanup) }
  const levels: Record<string, unknown> = {}
  for (const [mode, c] of MODES.flatMap((m) => LEVELS.map((l) => [m, l] as const))) {
    const sentAt = new Map<string, number>()
    const retriesBefore = retries
    const seqBefore = { sender: await streams.sender(), receiver: await streams.receiver() }
    const cpuBefore = await cpuSnapshot(roles)
    const t = performance.now()
    await pool(MESSAGES, c, async (i) => {
      const t0 = performance.now()
      const r = await a.bus.request(outboxSend, { to: bob, body: bodyOf(i) }, { timeoutMs: 30_000 })
      sentAt.set(r.id, t0)
      if (mode === 'closed') await delivered(r.id)
    })
    const ids = [...sentAt.keys()]
    const done = await waitUntil(() => ids.every((id) => receivedAt.has(id)), { timeoutMs: LEVEL_TIMEOUT_MS, intervalMs: 20 }).then(
      () => true,
      () => false,
    )
    const arrived = ids.filter((id) => receivedAt.has(id))
    const end = Math.max(...arrived.map((id) => receivedAt.get(id) ?? 0))
    const latencies = arrived.map((id) => (receivedAt.get(id) ?? 0) - (sentAt.get(id) ?? 0))
    const perSec = arrived.length / ((end - t) / 1000)
    const cpuAfter = await cpuSnapshot(roles)
    const wrote = { sender: writesBetween(seqBefore.sender, await streams.sender()), receiver: writesBetween(seqBefore.receiver, await streams.receiver()) }
    const writes = Object.values(wrote.sender).reduce((x, y) => x + y, 0) + Object.values(wrote.receiver).reduce((x, y) => x + y, 0)
    // What those writes alone would cost at the raw puts' CPU: a floor for any pipeline that makes as many.
    const floorCpuMs = (writes / MESSAGES) * (rawCpuPerPut[c] ?? Number.NaN)
    levels[`${mode}-c${c}`] = {
      mode,
      concurrency: c,
      messages: MESSAGES,
      arrived: arrived.length,
      complete: done,
      msgsPerSec: r1(perSec),
      latencyMs: { p50: r1(pct(latencies, 0.5)), p95: r1(pct(latencies, 0.95)), max: r1(Math.max(...latencies)) },
      retries: retries - retriesBefore,
      // CPU ms each process spent per message: a figure the machine's other load barely moves
      cpuMsPerMessage: cpuPer(cpuBefore, cpuAfter, MESSAGES),
      rawKvPutsPerSec: r1(rawPerSec[c] ?? Number.NaN),
      rawOverPipeline: r1((rawPerSec[c] ?? Number.NaN) / perSec),
      writeFloor: {
        jetstreamWritesPerMessage: r2(writes / MESSAGES),
        byStream: { sender: per(wrote.sender), receiver: per(wrote.receiver) },
        rawCpuMsPerPut: r2(rawCpuPerPut[c] ?? Number.NaN),
        cpuMsPerMessage: r2(floorCpuMs),
        ceilingMsgsPerSec: Math.round((availableParallelism() * 1000) / floorCpuMs),
        ceilingOverRaw: r2((availableParallelism() * 1000) / floorCpuMs / (rawPerSec[c] ?? Number.NaN)),
      },
      floor: {
        writesCpuMsPerMessage: r2(floorCpuMs),
        envelopeCpuMsPerMessage: r2(envelopeCpuMs),
        cpuMsPerMessage: r2(floorCpuMs + envelopeCpuMs),
        ceilingMsgsPerSec: Math.round((availableParallelism() * 1000) / (floorCpuMs + envelopeCpuMs)),
      },
    }
    process.stderr.write(`${mode}-c${c}: ${JSON.stringify(levels[`${mode}-c${c}`])}\n`)
  }
  // --logs DIR keeps both nodes' actor logs (the data dirs go with the cleanup).
  if (values.logs) for (const n of [a, b]) await cp(join(n.dataDir, 'logs'), join(values.logs, n.node), { recursive: true })
  const rows = Object.entries(levels) as Array<[string, LevelSummary]>
  const best = rows.reduce((a, b) => (b[1].msgsPerSec > a[1].msgsPerSec ? b : a))
  const ceiling = Math.max(...rows.map(([, l]) => l.writeFloor.ceilingMsgsPerSec))
  const floorCeiling = Math.max(...rows.map(([, l]) => l.floor.ceilingMsgsPerSec))
  process.stdout.write(
    `${JSON.stringify({
      messages: MESSAGES,
      goal: {
        ...GOAL,
        best: { level: best[0], msgsPerSec: best[1].msgsPerSec, overRaw: r2(best[1].msgsPerSec / best[1].rawKvPutsPerSec) },
        met: rows.some(([, l]) => l.msgsPerSec >= GOAL.msgsPerSec && l.msgsPerSec / l.rawKvPutsPerSec >= GOAL.overRaw),
        // The highest writeFloor ceiling of any level: no pipeline making as many JetStream writes a message goes faster
        // on these cores, whatever else it saves (envelopes, bus hops and transport come on top).
        writesCeilingMsgsPerSec: ceiling,
        reachableWithTheseWrites: ceiling >= GOAL.msgsPerSec,
        // The same with each message's envelope work (raw primitives) on top: a pipeline of these writes and one
        // envelope a message, with everything else (bus hops, transport, checks, encodings) free.
        floorCeilingMsgsPerSec: floorCeiling,
        reachableAboveFloor: floorCeiling >= GOAL.msgsPerSec,
      },
      levels,
      warnings: { sender: await warnings(a), receiver: await warnings(b) },
      clocks:
        'pipeline: from the first outbox.send issued on A to the last outbox.evt.received heard from B, in the bench process; raw: from the first KV put issued to the last acked, same process, own nats-server',
      writeFloor:
        "JetStream writes a message made on both nodes (their streams' sequences before and after a level, the warm-up excluded), times the CPU one raw put cost the bench process and its nats-server at the same concurrency: what those writes alone would cost if each were as cheap as a raw put, and the msgs/s that leaves on this machine's cores",
      floor:
        "the writes' floor plus one message's envelope work from raw node:crypto primitives (the sender's seal at rest and signed X25519 + ChaCha20-Poly1305 seal to the device, the receiver's verification and open), measured back to back in the bench process before the nodes started; the msgs/s that leaves on this machine's cores",
    })}\n`,
  )
} finally {
  await cleanup.run()
}
