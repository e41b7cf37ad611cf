/**
 * Inbox reads against a large history, one JSON object on stdout: 100,000 stored messages (real nats-server, file
 * storage), then the time of one page (limit 50) at the start, in the middle ("since" a stored ID) and at the
 * end, a count, and an unread page with a third of the history read, each through the library (`Inbox.list`) and
 * through the outbox actor over the bus (`outbox.inbox`).
 * The clock starts just before the call (`inbox.list(...)`, or `bus.request(outboxInbox, ...)`) and stops when
 * its promise resolves with the decoded page; the fill and the cursor choice are outside it. Each figure is the
 * p50/p95/max of `ROUNDS` calls, one at a time.
 * The fill goes through the real write path, `Inbox.receive` (payload decode and checks, then the log's `create`),
 * 512 at a time; the read markers through `Inbox.markRead`, 1000 IDs per call.
 * Run: npx node --conditions=@baran/source packages/outbox/bench/inbox.bench.ts [scale]  (scale 1 = 100,000)
 */

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ActorRuntime, silentLogger } from '@baran/actor'
import { Bus, outboxInbox } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { actor } from '../src/actor.ts'
import { INBOX_LOG_SUFFIX, INBOX_READ_SUFFIX } from '../src/lib/constants.ts'
import { newMessageId } from '../src/lib/ids.ts'
import { Inbox } from '../src/lib/inbox.ts'
import { encodePayload } from '../src/lib/payload.ts'
import { OutboxRecordBucket } from '../src/lib/records.ts'

const scale = Math.max(0.01, Math.min(10, Number(process.argv[2] ?? 1) || 1))
const N = Math.round(100_000 * scale)
const PAGE = 50
const ROUNDS = 30
const FILL_BATCH = 512
const GOAL_MS = 20

const ALICE = 'a1'.repeat(20)
const ALICE_PHONE = 'a2'.repeat(20)
const BOB = 'b1'.repeat(20)
const BOB_PHONE = 'b2'.repeat(20)
const round2 = (x: number) => Math.round(x * 100) / 100
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN

async function timed(fn: () => Promise<unknown>): Promise<{ p50: number; p95: number; max: number }> {
  const ms: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now()
    await fn()
    ms.push(performance.now() - t)
  }
  return { p50: round2(pct(ms, 0.5)), p95: round2(pct(ms, 0.95)), max: round2(Math.max(...ms)) }
}

const dir = await mkdtemp(join(tmpdir(), 'baran-bench-inbox-'))
const server = await startNatsServer({ workDir: dir, jetstream: true })
const result: Record<string, unknown> = { cpus: cpus().length, scale, messages: N, pageLimit: PAGE, goalMsPerPage: GOAL_MS }
try {
  const bus = await Bus.connect({ servers: server.url, node: 'n1' })
  const open = async () =>
    new Inbox({
      log: await bus.kv(`bench_inbox${INBOX_LOG_SUFFIX}`),
      read: await bus.kv(`bench_inbox${INBOX_READ_SUFFIX}`),
      outgoing: new OutboxRecordBucket(await bus.kv('bench_outbox')),
      self: () => ({ accountId: BOB, deviceId: BOB_PHONE }),
    })
  // ---- fill: N messages through Inbox.receive, FILL_BATCH in flight ----
  const filler = await open()
  const ids: string[] = []
  const body = 'x'.repeat(200)
  const t0 = performance.now()
  for (let i = 0; i < N; i += FILL_BATCH) {
    const now = Date.now()
    const batch = Array.from({ length: Math.min(FILL_BATCH, N - i) }, () => {
      const id = newMessageId()
      const payload = encodePayload({ v: 1, kind: 'message', id, from: ALICE, fromDevice: ALICE_PHONE, to: BOB, body, sentAt: now, expiresAt: now + 86_400_000, sync: false })
      return { id, payload, from: { accountId: ALICE, deviceId: ALICE_PHONE, peerId: 'p' } }
    })
    const res = await Promise.all(batch.map((r) => filler.receive(r)))
    if (res.some((r) => r.status !== 'stored')) throw new Error('fill: a message was not stored')
    ids.push(...batch.map((r) => r.id))
  }
  const fillSec = (performance.now() - t0) / 1000
  result.fill = { path: 'Inbox.receive (same write path as the actor)', inFlight: FILL_BATCH, seconds: round2(fillSec), msgsPerSec: Math.round(N / fillSec) }
  // The cursors, in the listing's (arrival) order: the whole inbox walked as `baran inbox` does, 1000 per page.
  const t3 = performance.now()
  const listed = await walk(filler)
  result.walkAllPages1000 = { ms: Math.round(performance.now() - t3), pages: Math.ceil(N / 1000) }
  if (listed.length !== N || new Set(listed).size !== N) throw new Error(`walk listed ${listed.length} (${new Set(listed).size} distinct), expected ${N}`)
  const middle = listed[Math.floor(N / 2)]!
  const beforeLast = listed[N - PAGE - 1]!

  // ---- library: a fresh Inbox (as after a restart of the actor) ----
  const inbox = await open()
  await inbox.load()
  const lib: Record<string, unknown> = {}
  lib.firstPageMs = await timed(() => inbox.list({ limit: PAGE }))
  lib.middleSincePageMs = await timed(() => inbox.list({ limit: PAGE, after: middle }))
  lib.lastPageMs = await timed(() => inbox.list({ limit: PAGE, after: beforeLast }))
  lib.countMs = await timed(() => inbox.list({ limit: 1 }))
  const check = await inbox.list({ limit: PAGE, after: beforeLast })
  if (check.messages.length !== PAGE || check.next !== undefined) throw new Error(`last page: ${check.messages.length} messages, next ${check.next}`)
  if ((await inbox.list({ limit: 1 })).total !== N) throw new Error('count is wrong')

  // a third of the history read (the oldest), so an unread page skips nothing at its start but counts exactly
  const readN = Math.floor(N / 3)
  const t1 = performance.now()
  for (let i = 0; i < readN; i += 1000) await inbox.markRead(ids.slice(i, Math.min(readN, i + 1000)))
  result.markRead = { messages: readN, seconds: round2((performance.now() - t1) / 1000) }
  lib.unreadCountMs = await timed(() => inbox.list({ limit: 1, unreadOnly: true }))
  lib.unreadSincePageMs = await timed(() => inbox.list({ limit: PAGE, unreadOnly: true, after: middle }))
  const unread = await inbox.list({ limit: 1, unreadOnly: true })
  if (unread.total !== N - readN) throw new Error(`unread count ${unread.total}, expected ${N - readN}`)
  result.library = lib

  // ---- the actor over the bus: request → zod → Inbox.list → reply ----
  await mkdir(join(dir, 'node'), { recursive: true })
  const outbox = new ActorRuntime(actor, {
    node: 'n1',
    bus: { connect: { servers: server.url } },
    dataDir: join(dir, 'node'),
    log: silentLogger(),
    config: { buckets: { outbox: 'bench_outbox', inbox: 'bench_inbox' } },
  })
  const t2 = performance.now()
  await outbox.start()
  const viaBus: Record<string, unknown> = { actorStartMs: Math.round(performance.now() - t2) }
  viaBus.firstPageMs = await timed(() => bus.request(outboxInbox, { limit: PAGE }))
  viaBus.middleSincePageMs = await timed(() => bus.request(outboxInbox, { limit: PAGE, after: middle }))
  viaBus.lastPageMs = await timed(() => bus.request(outboxInbox, { limit: PAGE, after: beforeLast }))
  viaBus.countMs = await timed(() => bus.request(outboxInbox, { limit: 1 }))
  viaBus.page1000Ms = await timed(() => bus.request(outboxInbox, { limit: 1000, after: middle }))
  result.actorOverBus = viaBus
  await outbox.stop()
  await outbox.close()
  await bus.close()
} finally {
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)

/** Every ID in listing order, following `next` 1000 at a time. */
async function walk(inbox: Inbox): Promise<string[]> {
  const out: string[] = []
  let after: string | undefined
  for (let page = 0; page < 10_000; page++) {
    const r = await inbox.list({ limit: 1000, ...(after ? { after } : {}) })
    for (const m of r.messages) out.push(m.id)
    if (!r.next) break
    after = r.next
  }
  return out
}
