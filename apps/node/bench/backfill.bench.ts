/**
 * History backfill between two real devices of one account (issue 18), one JSON object on stdout. Three real nodes
 * on one loopback local network (one BARAN_HOME, each its own supervisor, nats-server and five actor processes, run
 * from the TypeScript sources as startNode runs them): Alice (A) and Bob's device B, both with `--create-account`,
 * exchange N messages (default 2,000: N/2 each way, 20 per side in flight); then B offers a link (`baran devices link`)
 * and a new node C takes it by PIN (`--pin`): C is a device of Bob's account and pulls the conversation from B by
 * itself (packages/outbox/src/device-sync.ts → transport's `/baran/history-sync/1.0.0` → B's outbox `answerSync`,
 * sent bodies opened by B's identity and sealed again to C by C's).
 * - fill: from the first `outbox.send` issued (A and B) to B reporting each of its own messages delivered and
 *   holding all N (its conversation summary counts N and no longer moves);
 * - backfill: from the successful return of C's link command (C is a device of the account) to the first poll
 *   (every POLL_MS, bench process) at which C's `outbox.historySummary` of the conversation equals B's (count and
 *   digest): messages/s. The same polls read C's outbox health (`details.historySync`): `toFirstPage` is when it first
 *   shows merged messages from B (discovery, dial, handshake, compare and the first page), `transfer` from then to
 *   the end (the pure transfer rate, one page's resolution: ≤ 200 messages are not in it);
 * - cpuMsPerMessage: CPU time (user + system, /proc) every process of B and C spent during the backfill, per message
 *   (B also pulls from C when their connection opens: that is part of it);
 * - secondSync: C syncs from B again with nothing new, started by its periodic sync (C runs with `syncEveryMs`
 *   SECOND_EVERY_MS; jittered ±20 %): `lastMs` of its next ROUNDS runs as C's outbox reports them (lookup reused,
 *   compare of summaries, then the account state: contacts, blocks, declines);
 * - B is cold by default: its outbox is restarted (kill -9) after the fill, so that it no longer holds the bodies it
 *   sealed in the last 10 minutes and opens each sent body through identity, as for a history kept a while; `--warm`
 *   leaves it as it is;
 * - raw baseline, same run: the bench process puts N values of VALUE_BYTES into a KV bucket of its own nats-server
 *   (file storage, like the nodes'), then reads them back in order, pages of 200 (`KvBucket.range`: one ordered
 *   consumer per page, as the history's ranged reads); the clock runs from the first read to the last value.
 *   `rawOverBackfill` compares the two.
 *
 * `backfill.bench.ts [--messages N] [--warm] [--logs DIR]` (DIR keeps the three nodes' actor logs).
 */
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Bus, healthContractOf, identityStatus, outboxDelivery, outboxHistorySummary, outboxSend } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { cli, killActor, startNode, type TestNode } from '../test/helpers.ts'
import { cpuPer, cpuSnapshot, rolesOf } from './cpu.ts'
import { warnings } from './warnings.ts'

const { values } = parseArgs({ options: { messages: { type: 'string' }, logs: { type: 'string' }, warm: { type: 'boolean' } } })
const N = Math.max(2, Math.round(Number(values.messages ?? 2000) / 2) * 2)
const VALUE_BYTES = 600
const RAW_PAGE = 200
const IN_FLIGHT = 20
const POLL_MS = 50
const SECOND_EVERY_MS = 5000
const ROUNDS = 3
const FILL_TIMEOUT_MS = 240_000
const BACKFILL_TIMEOUT_MS = 240_000
const cleanup = new Cleanup()
const r1 = (x: number) => Math.round(x * 10) / 10
const seconds = (ms: number) => Math.round(ms) / 1000

interface SyncStatus {
  devices: Array<{ deviceId: string; runs: number; failures: number; fetched: number; lastAt?: number; lastMs?: number; lastError?: string; syncing?: { fetched: number } }>
}
async function syncStatus(n: TestNode): Promise<SyncStatus> {
  const h = await n.bus.request(healthContractOf('outbox'), {}, { timeoutMs: 5000 })
  return (h.details?.historySync as SyncStatus | undefined) ?? { devices: [] }
}

try {
  // ---- raw JetStream baseline: N values of the same size, read back in order ----
  const dir = await tempDir(cleanup, 'baran-bench-backfill-raw-')
  const server = await startNatsServer({ workDir: dir, jetstream: true })
  cleanup.add('nats', () => server.stop())
  const raw = await Bus.connect({ servers: server.url, node: 'raw' })
  cleanup.add('raw bus', () => raw.close())
  const kv = await raw.kv('bench_backfill_raw')
  const value = new TextEncoder().encode(JSON.stringify({ body: 'x'.repeat(VALUE_BYTES - 12) }))
  for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) => kv.put(`k${i + k}`, value)))
  const { firstRevision, lastRevision } = await kv.state()
  let t = performance.now()
  let read = 0
  for (let from = firstRevision; from <= lastRevision; ) {
    const page = await kv.range(from, RAW_PAGE, lastRevision)
    if (page.length === 0) break
    read += page.length
    from = (page.at(-1)?.revision ?? lastRevision) + 1
  }
  const rawSeconds = (performance.now() - t) / 1000
  if (read !== N) throw new Error(`raw: read ${read} of ${N}`)
  const rawPerSec = N / rawSeconds

  // ---- A and B exchange N messages ----
  const home = await tempDir(cleanup, 'baran-bench-backfill-')
  const config = (syncEveryMs?: number) => ({
    actors: {
      identity: '@baran/identity',
      naming: '@baran/naming',
      discovery: '@baran/discovery',
      transport: '@baran/transport',
      outbox: { module: '@baran/outbox', config: { history: syncEveryMs ? { syncEveryMs } : {} } },
    },
  })
  const a = await startNode(cleanup, config(), { name: 'a', home, args: ['--create-account'] })
  const b = await startNode(cleanup, config(), { name: 'b', home, args: ['--create-account'] })
  const c = await startNode(cleanup, config(SECOND_EVERY_MS), { name: 'c', home })
  cleanup.add('stop nodes', async () => {
    for (const n of [c, b, a]) await n.proc.stop('SIGTERM', 20_000)
  })
  const account = (n: TestNode) => waitUntil(async () => (await n.bus.request(identityStatus, {})).account?.accountId, { timeoutMs: 30_000, what: `account of ${n.node}` })
  const alice = await account(a)
  const bob = await account(b)

  const delivered = new Set<string>()
  const sub = await b.bus.subscribe(outboxDelivery, (e) => {
    if (e.state === 'delivered') delivered.add(e.id)
  })
  cleanup.add('subscription', () => sub.unsubscribe())
  const summary = (n: TestNode) => n.bus.request(outboxHistorySummary, { peer: alice }, { timeoutMs: 10_000 })
  const fromB: string[] = []
  t = performance.now()
  for (let i = 0; i < N / 2; i += IN_FLIGHT) {
    const k = Math.min(IN_FLIGHT, N / 2 - i)
    const sent = await Promise.all(
      Array.from({ length: k }, (_, j) => [
        a.bus.request(outboxSend, { to: bob, body: `a→b ${i + j} ${'x'.repeat(100)}` }, { timeoutMs: 30_000 }),
        b.bus.request(outboxSend, { to: alice, body: `b→a ${i + j} ${'x'.repeat(100)}` }, { timeoutMs: 30_000 }),
      ]).flat(),
    )
    for (const [j, r] of sent.entries()) if (j % 2 === 1) fromB.push(r.id)
  }
  let last = ''
  const onB = await waitUntil(
    async () => {
      const s = await summary(b)
      const key = `${s.count}/${s.digest}`
      const stable = key === last
      last = key
      return s.count === N && fromB.every((id) => delivered.has(id)) && stable ? s : undefined
    },
    { timeoutMs: FILL_TIMEOUT_MS, intervalMs: 500, what: `all ${N} messages on B, its own delivered` },
  )
  const fillSeconds = (performance.now() - t) / 1000

  // A history kept for a while: B's outbox no longer holds the bodies it sealed recently (RecentBodies, 10 min), each
  // sent body is opened by its identity. A restart of B's outbox (kill -9, the supervisor runs it again) makes it so.
  if (!values.warm) {
    await killActor(b, 'outbox')
    await waitUntil(async () => (await summary(b)).digest === onB.digest, { timeoutMs: 30_000, what: "B's restarted outbox serving its history" })
  }

  // ---- link C to Bob's account; C backfills from B by itself ----
  const bDevice = (await b.bus.request(identityStatus, {})).account?.deviceId ?? ''
  const offer = await cli(cleanup, ['devices', 'link', '--data-dir', b.dataDir, '--json'])
  if (offer.code !== 0) throw new Error(`link offer: ${offer.out}`)
  const linked = await cli(cleanup, ['devices', 'link', '--pin', (JSON.parse(offer.out) as { pin: string }).pin, '--data-dir', c.dataDir, '--json'])
  const t0 = performance.now()
  const mono0 = process.hrtime.bigint()
  if (linked.code !== 0) throw new Error(`link: ${linked.out}`)
  const roles = { b: await rolesOf(b), c: await rolesOf(c) }
  // For a profile's window (--cpu-prof): process pids and the monotonic clock, the one V8 profiles count in.
  process.stderr.write(`pids ${JSON.stringify(Object.fromEntries(Object.entries(roles).map(([n, r]) => [n, Object.fromEntries(r)])))}\n`)
  const cpuBefore = await cpuSnapshot(roles)
  let firstPageAt: number | undefined
  let syncingSeen = false
  await waitUntil(
    async () => {
      const d = (await syncStatus(c)).devices.find((x) => x.deviceId === bDevice)
      if (firstPageAt === undefined && ((d?.syncing?.fetched ?? 0) > 0 || (d?.fetched ?? 0) > 0)) firstPageAt = performance.now()
      if (d?.syncing) syncingSeen = true
      const s = await summary(c)
      return s.count === onB.count && s.digest === onB.digest
    },
    { timeoutMs: BACKFILL_TIMEOUT_MS, intervalMs: POLL_MS, what: "C's summary of the conversation equal to B's" },
  )
  const t1 = performance.now()
  process.stderr.write(`backfill window, monotonic µs: ${mono0 / 1000n} ${process.hrtime.bigint() / 1000n}\n`)
  const cpuAfter = await cpuSnapshot(roles)
  const rolesAfter = { b: await rolesOf(b), c: await rolesOf(c) }
  const restarted = Object.entries(roles).flatMap(([node, r]) => [...r].filter(([role, pid]) => rolesAfter[node as 'b' | 'c'].get(role) !== pid).map(([role]) => `${node}.${role}`))
  const backfillSeconds = (t1 - t0) / 1000
  const backfillPerSec = N / backfillSeconds
  const first = firstPageAt ?? t1
  const transferSeconds = (t1 - first) / 1000

  // ---- a second sync with nothing new: C's next periodic runs ----
  // the backfill's run ends with the account state (contacts, blocks, declines) after the messages
  const base = await waitUntil(
    async () => {
      const x = (await syncStatus(c)).devices.find((y) => y.deviceId === bDevice)
      return x && !x.syncing ? x : undefined
    },
    { timeoutMs: 60_000, intervalMs: POLL_MS, what: "the end of C's backfill run" },
  )
  const second: number[] = []
  let seen = base.runs
  const secondStart = Date.now()
  for (let i = 0; i < ROUNDS; i++) {
    const d = await waitUntil(
      async () => {
        const x = (await syncStatus(c)).devices.find((y) => y.deviceId === bDevice)
        return x && x.runs > seen && !x.syncing && (x.lastAt ?? 0) > secondStart ? x : undefined
      },
      { timeoutMs: 4 * SECOND_EVERY_MS, intervalMs: 100, what: `C's sync run ${i + 2} with B` },
    )
    if (d.fetched !== base.fetched) throw new Error(`a sync after the backfill fetched ${d.fetched - base.fetched} messages`)
    seen = d.runs
    second.push(d.lastMs ?? Number.NaN)
  }
  second.sort((x, y) => x - y)

  if (values.logs) for (const n of [a, b, c]) await cp(join(n.dataDir, 'logs'), join(values.logs, n.node), { recursive: true })
  const result = {
    messages: N,
    sourceOfB: values.warm ? 'warm (its outbox holds the bodies it sealed)' : "cold (B's outbox restarted after the fill: sent bodies opened by identity)",
    fill: { seconds: r1(fillSeconds), msgsPerSec: r1(N / fillSeconds) },
    backfill: {
      seconds: seconds(t1 - t0),
      msgsPerSec: r1(backfillPerSec),
      toFirstPageSeconds: seconds(first - t0),
      transfer: { seconds: seconds(t1 - first), msgsPerSec: r1(transferSeconds > 0 ? N / transferSeconds : Number.NaN) },
      runs: base.runs,
      failures: base.failures,
      fetched: base.fetched,
      lastMs: base.lastMs,
      sawSyncing: syncingSeen,
      ...(restarted.length ? { restarted } : {}),
    },
    cpuMsPerMessage: cpuPer(cpuBefore, cpuAfter, N),
    secondSync: { rounds: second.length, p50Ms: second[Math.floor(second.length / 2)], maxMs: second.at(-1), trigger: `C's periodic sync (syncEveryMs ${SECOND_EVERY_MS}, ±20 %)` },
    raw: { valueBytes: value.length, pageSize: RAW_PAGE, seconds: Math.round(rawSeconds * 1e4) / 1e4, readsPerSec: r1(rawPerSec) },
    rawOverBackfill: r1(rawPerSec / backfillPerSec),
    rawOverTransfer: r1(rawPerSec / (N / transferSeconds)),
    warnings: { b: await warnings(b), c: await warnings(c) },
    clocks:
      "fill: first send to B holding all N with its own delivered; backfill: C's link command returned to C's summary equal to B's (polled every 50 ms), transfer from C's health first showing merged messages; raw: first KV range read to the last value, own nats-server; all in the bench process",
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await cleanup.run()
}
