/**
 * History backfill to a new device, one JSON object on stdout. One nats-server (file storage); device B's history
 * holds N messages (4 conversations, both directions, through HistoryStore's write path); a new device C pulls
 * them all (`pullHistory`, pages of 200, 4 in flight) from B's history (`historySource`), with B's store opened
 * cold (as after a restart: it reads its messages to hash them first). The channel between the two is a direct
 * call in this process: no transport, no sealing; this measures the history side of a sync.
 * Against: raw JetStream reads of B's bucket in the same run: (a) the whole stream in order (`KvBucket.range`,
 * 1000 per read), (b) one `get` per message, 256 at a time (what fetching by ID costs at best).
 * Then the same backfill to a third device from B's store now warm (its hashes in memory, as on a running device),
 * and a second sync with nothing new (the summaries compared, nothing fetched): p50/max of ROUNDS.
 * Run: npx node --conditions=@baran/source packages/outbox/bench/history.bench.ts [scale]  (scale 1 = 10,000)
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bus } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { HistoryStore } from '../src/lib/history.ts'
import { historySource, pullHistory } from '../src/lib/history-pull.ts'
import { newMessageId } from '../src/lib/ids.ts'

const scale = Math.max(0.01, Math.min(10, Number(process.argv[2] ?? 1) || 1))
const N = Math.round(10_000 * scale)
const ROUNDS = 20
const PAGE = Number(process.env.PAGE ?? 500)
const WINDOW = Number(process.env.WINDOW ?? 4)
const BOB = 'b1'.repeat(20)
const BOB_PHONE = 'b2'.repeat(20)
const PEERS = ['a1', 'c1', 'd1', 'e1'].map((x) => x.repeat(20))
const round2 = (x: number) => Math.round(x * 100) / 100

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

  // ---- raw JetStream reads of the same bucket ----
  const st = await bKv.state()
  let t = performance.now()
  let read = 0
  for (let from = st.firstRevision; from <= st.lastRevision; ) {
    const chunk = await bKv.range(from, 1000, st.lastRevision)
    if (chunk.length === 0) break
    read += chunk.filter((e) => e.key.startsWith('m.')).length
    from = chunk.at(-1)!.revision + 1
  }
  const rangeSec = (performance.now() - t) / 1000
  const keys = (await bKv.keys('m.>')).slice()
  t = performance.now()
  for (let i = 0; i < keys.length; i += 256) await Promise.all(keys.slice(i, i + 256).map((k) => bKv.get(k)))
  const getSec = (performance.now() - t) / 1000
  result.raw = {
    streamInOrder: { messages: read, seconds: round2(rangeSec), msgsPerSec: Math.round(read / rangeSec) },
    getPerMessage: { messages: keys.length, seconds: round2(getSec), msgsPerSec: Math.round(keys.length / getSec) },
  }

  // ---- backfill: C pulls everything from B (B's store opened cold) ----
  const c = new HistoryStore({ kv: await bus.kv('bench_history_c') })
  const source = new HistoryStore({ kv: bKv })
  t = performance.now()
  const pulled = await pullHistory(c, historySource(source), { pageSize: PAGE, window: WINDOW })
  const backSec = (performance.now() - t) / 1000
  if (pulled.fetched !== N) throw new Error(`backfill fetched ${pulled.fetched} of ${N}`)
  const backRate = Math.round(N / backSec)
  result.backfill = {
    seconds: round2(backSec),
    msgsPerSec: backRate,
    vsStreamInOrder: round2(backRate / (read / rangeSec)),
    vsGetPerMessage: round2(backRate / (keys.length / getSec)),
  }

  // ---- the same to another new device, from the source now warm (a running device keeps its hashes in memory) ----
  const d = new HistoryStore({ kv: await bus.kv('bench_history_d') })
  t = performance.now()
  const warm = await pullHistory(d, historySource(source), { pageSize: PAGE, window: WINDOW })
  const warmSec = (performance.now() - t) / 1000
  if (warm.fetched !== N) throw new Error(`warm backfill fetched ${warm.fetched} of ${N}`)
  result.backfillWarmSource = {
    seconds: round2(warmSec),
    msgsPerSec: Math.round(N / warmSec),
    vsStreamInOrder: round2(N / warmSec / (read / rangeSec)),
    vsGetPerMessage: round2(N / warmSec / (keys.length / getSec)),
  }

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
  await bus.close()
} finally {
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
process.stdout.write(`${JSON.stringify(result)}\n`)
