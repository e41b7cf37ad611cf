/**
 * History backfill to a new device, one JSON object on stdout. One nats-server (file storage); device B's history
 * holds N messages (4 conversations, both directions, through HistoryStore's write path); a new device C pulls
 * them all (`pullHistory`, pages of PAGE=500, WINDOW=4 in flight) from B's history (`historySource`), with B's store
 * opened cold and never synced before (no snapshot of its sync hashes: it reads every message to hash it first).
 * The channel between the two is a direct call in this process: no transport, no sealing; this measures the history
 * side of a sync (reads on B, checks and writes on C). Then the same to a third new device from B restarted (a new
 * store over the same bucket: it reads the hashes' snapshot that the first load wrote, and what came after it), and
 * to a fourth from B's store now warm (its hashes in memory, as on a running device).
 * The same three again with the new device in a worker thread of its own (history-device.worker.ts: its own bus
 * connection, pulling over the sync protocol, every answer checked against the bus schema; clock in the worker around
 * `pullHistory`), as a second device is a second machine: `twoThreads`.
 * Against, in the same round just before: raw JetStream reads of B's bucket: (a) the whole stream in order
 * (`KvBucket.range`, 1000 per read), (b) one nats.js `get` per message, 256 at a time; and (c) a raw copy of B's
 * messages into a new bucket: the reads of (a), each chunk created there with `createMany` (as a backfill creates)
 * while the next is read, nothing decoded, checked or hashed: the floor of any backfill that stores one entry per
 * message (`vsRawCopy`). ROUNDS=3 rounds of all of them side by side; each figure is the median over rounds (a
 * ratio: the median of the rounds' ratios), and every round is kept in `rounds`. Last, a second sync with nothing
 * new (the summaries compared, nothing fetched): p50/max of 20.
 * Clocks: each starts just before its read loop or `pullHistory` call and stops when it returns.
 * CPU: beside each rate, the CPU time per message of this process (all its threads: both devices, or the reader) and
 * of nats-server (/proc, 10 ms ticks) over the same span, in µs (`cpuUsPerMessage`, medians over rounds): where a
 * backfill's time goes against a raw read's (a read by key and a create per message, against one in-order read).
 * Run: npx node --conditions=@baran/source packages/outbox/bench/history.bench.ts [scale]  (scale 1 = 10,000)
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { Bus, SyncRequestSchema } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { cpuMs } from '@baran/testkit'
import { SNAPSHOT_FIRST_KEY } from '../src/lib/history-hash-snapshot.ts'
import { HistoryStore } from '../src/lib/history.ts'
import { historySource, pullHistory } from '../src/lib/history-pull.ts'
import { newMessageId } from '../src/lib/ids.ts'
import { answerSync } from '../src/lib/sync-wire.ts'

const scale = Math.max(0.01, Math.min(10, Number(process.argv[2] ?? 1) || 1))
const N = Math.round(10_000 * scale)
const ROUNDS = 20
/** Rounds of raw reads and backfills side by side (the figures are their medians: load moves between runs). */
const BACKFILL_ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 3))
const PAGE = Number(process.env.PAGE ?? 500)
const WINDOW = Number(process.env.WINDOW ?? 4)
const BOB = 'b1'.repeat(20)
const BOB_PHONE = 'b2'.repeat(20)
const PEERS = ['a1', 'c1', 'd1', 'e1'].map((x) => x.repeat(20))
const round2 = (x: number) => Math.round(x * 100) / 100
const round1 = (x: number) => Math.round(x * 10) / 10

const ownCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const dir = await mkdtemp(join(tmpdir(), 'baran-bench-history-'))
const server = await startNatsServer({ workDir: dir, jetstream: true })
const result: Record<string, unknown> = { cpus: cpus().length, scale, messages: N, conversations: PEERS.length, goal: 'backfill ≥ 0.5× raw reads; second sync ≤ 50 ms' }
try {
  const bus = await Bus.connect({ servers: server.url, node: 'n1' })
  const bKv = await bus.kv('bench_history_b')
  const b = new HistoryStore({ kv: bKv })
  const body = 'x'.repeat(200)
  const t0 = performance.now()
  for (let i = 0; i < N; i += 512) {
    const batch = Array.from({ length: Math.min(512, N - i) }, (_, j) => ({ id: newMessageId(), peer: PEERS[(i + j) % PEERS.length]!, out: (i + j) % 2 === 0 }))
    await Promise.all(
      batch.map(({ id, peer, out }) =>
        out
          ? b.recordSent({ id, from: BOB, fromDevice: BOB_PHONE, to: peer, body, sentAt: Date.now() }, [`${peer.slice(0, 2)}`.repeat(20)])
          : b.recordReceived({ id, from: peer, fromDevice: peer, to: BOB, body, sentAt: Date.now(), receivedAt: Date.now() }, BOB),
      ),
    )
  }
  result.fill = { seconds: round2((performance.now() - t0) / 1000) }

  // ---- the new device in a thread of its own, over the sync protocol (answered here from `answering`) ----
  const worker = new Worker(new URL('./history-device.worker.ts', import.meta.url), { workerData: { servers: server.url }, execArgv: ['--conditions=@baran/source'] })
  let answering: HistoryStore | undefined
  let pulled: ((m: { ok: boolean; fetched?: number; ms?: number; error?: string }) => void) | undefined
  const workerReady = new Promise<void>((resolve, reject) => {
    worker.once('error', reject)
    worker.on('message', async (m: { op?: string; id?: number; request?: unknown; ok?: boolean; fetched?: number; ms?: number; error?: string }) => {
      if (m.op === 'ready') resolve()
      else if (m.op === 'pulled') pulled?.(m as { ok: boolean })
      else if (m.id !== undefined) {
        try {
          const answer = await answerSync(answering!, SyncRequestSchema.parse(m.request), { open: async (e) => e })
          worker.postMessage({ id: m.id, answer })
        } catch (e) {
          worker.postMessage({ id: m.id, error: String(e) })
        }
      }
    })
  })
  await workerReady
  /** A backfill to a new device in the worker from `source`: messages/s by the worker's clock around `pullHistory`. */
  const pullInThread = (bucket: string, source: HistoryStore): Promise<number> => {
    answering = source
    return new Promise((resolve, reject) => {
      pulled = (m) => {
        if (!m.ok) reject(new Error(m.error))
        else if (m.fetched !== N) reject(new Error(`backfill in a thread fetched ${m.fetched} of ${N}`))
        else resolve(N / (m.ms! / 1000))
      }
      worker.postMessage({ op: 'pull', bucket })
    })
  }

  // ---- rounds, each side by side: raw reads of B's bucket, then the backfills from B (cold, then warm) ----
  const keys = (await bKv.keys('m.>')).slice()
  /** B's bucket in stream order, 1000 entries a read (`KvBucket.range`), up to where it stood at `st`. */
  async function* inOrder(st: { firstRevision: number; lastRevision: number }) {
    for (let from = st.firstRevision; from <= st.lastRevision; ) {
      const chunk = await bKv.range(from, 1000, st.lastRevision)
      if (chunk.length === 0) return
      yield chunk
      from = chunk.at(-1)!.revision + 1
    }
  }
  const rounds: Array<Record<string, number>> = []
  /** Per round, per phase: CPU µs per message of this process and of nats-server. */
  const cpuRounds: Array<Record<string, { bench: number; server: number }>> = []
  let cpu: Record<string, { bench: number; server: number }> = {}
  let cpuAt = { own: 0, server: 0 }
  const cpuStart = async () => {
    cpuAt = { own: ownCpuMs(), server: await cpuMs(server.pid!) }
  }
  const cpuStop = async (phase: string, messages: number) => {
    const own = ownCpuMs()
    const serverNow = await cpuMs(server.pid!)
    cpu[phase] = { bench: round1(((own - cpuAt.own) * 1000) / messages), server: round1(((serverNow - cpuAt.server) * 1000) / messages) }
  }
  let source = new HistoryStore({ kv: bKv })
  let c = source
  for (let r = 0; r < BACKFILL_ROUNDS; r++) {
    cpu = {}
    const st = await bKv.state()
    await cpuStart()
    let t = performance.now()
    let read = 0
    for await (const chunk of inOrder(st)) read += chunk.filter((e) => e.key.startsWith('m.')).length
    const streamRate = read / ((performance.now() - t) / 1000)
    await cpuStop('streamInOrder', read)
    await cpuStart()
    t = performance.now()
    for (let i = 0; i < keys.length; i += 256) await Promise.all(keys.slice(i, i + 256).map((k) => bKv.get(k)))
    const getRate = keys.length / ((performance.now() - t) / 1000)
    await cpuStop('getPerMessage', keys.length)
    // (c) a raw copy: the least a backfill with one entry per message can do, with nothing between the reads and the
    // writes (no decoding, no checks, no hashes, no merge): B's bucket read in order as in (a), each chunk created in
    // a new bucket (`createMany`, as a backfill creates), the next chunk read while the last one is written.
    const copyKv = await bus.kv(`bench_history_copy${r}`)
    await cpuStart()
    t = performance.now()
    let copied = 0
    let writing: Promise<void> = Promise.resolve()
    for await (const chunk of inOrder(st)) {
      await writing
      const messages = chunk.filter((e) => e.key.startsWith('m.')).map((e) => ({ key: e.key, value: e.value }))
      writing = copyKv.createMany(messages).then((results) => {
        const failed = results.find((x) => typeof x !== 'number')
        if (failed !== undefined) throw failed
      })
      writing.catch(() => undefined) // a failure is thrown by the `await writing` that follows, not reported unhandled
      copied += messages.length
    }
    await writing
    const copyRate = copied / ((performance.now() - t) / 1000)
    await cpuStop('rawCopy', copied)
    if (copied !== N) throw new Error(`the raw copy copied ${copied} of ${N}`)
    // C pulls everything from B, B's store opened cold and never synced before (no snapshot of its hashes: it
    // reads every message to hash it first)
    await bKv.delete(SNAPSHOT_FIRST_KEY)
    c = new HistoryStore({ kv: await bus.kv(`bench_history_c${r}`) })
    source = new HistoryStore({ kv: bKv })
    await cpuStart()
    t = performance.now()
    const pulled = await pullHistory(c, historySource(source), { pageSize: PAGE, window: WINDOW })
    const coldRate = N / ((performance.now() - t) / 1000)
    await cpuStop('backfill', N)
    if (pulled.fetched !== N) throw new Error(`backfill fetched ${pulled.fetched} of ${N}`)
    // the same from B restarted: it reads the snapshot of its hashes that the load above wrote
    await source.hashesSaved()
    const restartedSource = new HistoryStore({ kv: bKv })
    const e = new HistoryStore({ kv: await bus.kv(`bench_history_e${r}`) })
    await cpuStart()
    t = performance.now()
    const restarted = await pullHistory(e, historySource(restartedSource), { pageSize: PAGE, window: WINDOW })
    const restartRate = N / ((performance.now() - t) / 1000)
    await cpuStop('backfillRestartedSource', N)
    if (restarted.fetched !== N) throw new Error(`restarted-source backfill fetched ${restarted.fetched} of ${N}`)
    // the same to another new device, from the source now warm (a running device keeps its hashes in memory)
    const d = new HistoryStore({ kv: await bus.kv(`bench_history_d${r}`) })
    await cpuStart()
    t = performance.now()
    const warm = await pullHistory(d, historySource(source), { pageSize: PAGE, window: WINDOW })
    const warmRate = N / ((performance.now() - t) / 1000)
    await cpuStop('backfillWarmSource', N)
    if (warm.fetched !== N) throw new Error(`warm backfill fetched ${warm.fetched} of ${N}`)
    // the same three with the new device in its own thread, over the sync protocol
    await bKv.delete(SNAPSHOT_FIRST_KEY)
    const threadSource = new HistoryStore({ kv: bKv })
    const threadCold = await pullInThread(`bench_history_tc${r}`, threadSource)
    await threadSource.hashesSaved()
    const threadRestarted = await pullInThread(`bench_history_tr${r}`, new HistoryStore({ kv: bKv }))
    await cpuStart()
    const threadWarm = await pullInThread(`bench_history_tw${r}`, threadSource)
    await cpuStop('twoThreadsWarm', N)
    cpuRounds.push(cpu)
    rounds.push({
      streamInOrder: Math.round(streamRate),
      getPerMessage: Math.round(getRate),
      rawCopy: Math.round(copyRate),
      backfillCold: Math.round(coldRate),
      backfillRestarted: Math.round(restartRate),
      backfillWarm: Math.round(warmRate),
      threadCold: Math.round(threadCold),
      threadRestarted: Math.round(threadRestarted),
      threadWarm: Math.round(threadWarm),
    })
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const ratios = (k: 'backfillCold' | 'backfillRestarted' | 'backfillWarm' | 'threadCold' | 'threadRestarted' | 'threadWarm') => ({
    msgsPerSec: median(rounds.map((x) => x[k]!)),
    vsStreamInOrder: round2(median(rounds.map((x) => x[k]! / x.streamInOrder!))),
    vsGetPerMessage: round2(median(rounds.map((x) => x[k]! / x.getPerMessage!))),
    vsRawCopy: round2(median(rounds.map((x) => x[k]! / x.rawCopy!))),
  })
  result.raw = {
    streamInOrder: { msgsPerSec: median(rounds.map((x) => x.streamInOrder!)) },
    getPerMessage: { msgsPerSec: median(rounds.map((x) => x.getPerMessage!)) },
    copy: { msgsPerSec: median(rounds.map((x) => x.rawCopy!)), vsStreamInOrder: round2(median(rounds.map((x) => x.rawCopy! / x.streamInOrder!))) },
  }
  result.backfill = ratios('backfillCold')
  result.backfillRestartedSource = ratios('backfillRestarted')
  result.backfillWarmSource = ratios('backfillWarm')
  result.twoThreads = { neverSynced: ratios('threadCold'), restarted: ratios('threadRestarted'), warm: ratios('threadWarm') }
  result.cpuUsPerMessage = Object.fromEntries(
    Object.keys(cpuRounds[0] ?? {}).map((phase) => [
      phase,
      { bench: median(cpuRounds.map((x) => x[phase]!.bench)), server: median(cpuRounds.map((x) => x[phase]!.server)) },
    ]),
  )
  result.rounds = rounds
  result.cpuRounds = cpuRounds

  // ---- second sync, nothing new ----
  const ms: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const s = performance.now()
    const again = await pullHistory(c, historySource(source))
    ms.push(performance.now() - s)
    if (again.fetched !== 0) throw new Error('a second sync fetched something')
  }
  ms.sort((x, y) => x - y)
  result.secondSyncMs = { p50: round2(ms[Math.floor(ms.length / 2)]!), max: round2(ms.at(-1)!) }
  worker.postMessage({ op: 'stop' })
  await bus.close()
} finally {
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
process.stdout.write(`${JSON.stringify(result)}\n`)
