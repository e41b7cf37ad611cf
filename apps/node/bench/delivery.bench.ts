/**
 * The durable pipeline across two real nodes on loopback: messages per second from `outbox.send` on A to
 * persisted in B's inbox, against a raw JetStream (KV put) loop on the same machine in the same run; and the
 * offline → online delay: from B's presence publish (after a restart) to A's `delivered`, over several restarts.
 */
import { Bus, identityStatus, outboxDelivery, outboxReceived, outboxSend, startNatsServer } from '@baran/bus'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { actorLog, startNode, stopNode } from '../test/helpers.ts'

const MESSAGES = 400
const CONCURRENCY = 16
const RESTARTS = 5
const cleanup = new Cleanup()
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN

async function pool(n: number, concurrency: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await job(next++)
  }))
}

try {
  // Raw JetStream baseline: KV puts (what the inbox does per message) on a plain nats-server.
  const dir = await tempDir(cleanup)
  const server = await startNatsServer({ workDir: dir, jetstream: true })
  cleanup.add('nats', () => server.stop())
  const raw = await Bus.connect({ servers: server.url, node: 'raw' })
  cleanup.add('raw bus', () => raw.close())
  const kv = await raw.kv('bench_raw')
  const body = new TextEncoder().encode(JSON.stringify({ body: 'x'.repeat(100) }))
  let t = performance.now()
  await pool(MESSAGES, CONCURRENCY, (i) => kv.put(`k${i}`, body))
  const rawPerSec = MESSAGES / ((performance.now() - t) / 1000)

  const a = await startNode(cleanup, {}, { name: 'alice', args: ['--create-account'] })
  let b = await startNode(cleanup, {}, { name: 'bob', home: a.home, args: ['--create-account'] })
  cleanup.add('stop nodes', async () => {
    for (const n of [b, a]) await n.proc.stop('SIGTERM', 20_000)
  })
  for (const n of [a, b]) await waitUntil(async () => (await n.bus.request(identityStatus, {})).hasAccount, { timeoutMs: 20_000 })
  const bob = (await b.bus.request(identityStatus, {})).account?.accountId ?? ''
  await a.bus.request(outboxSend, { to: bob, body: 'warm-up' })
  await new Promise((r) => setTimeout(r, 1000))

  // Pipeline: send → persisted in Bob's inbox.
  let received = 0
  const sub = await b.bus.subscribe(outboxReceived, () => void received++)
  t = performance.now()
  await pool(MESSAGES, CONCURRENCY, (i) => a.bus.request(outboxSend, { to: bob, body: `m${i} ${'x'.repeat(100)}` }))
  await waitUntil(() => received >= MESSAGES, { timeoutMs: 120_000, intervalMs: 20 })
  const pipelinePerSec = MESSAGES / ((performance.now() - t) / 1000)
  sub.unsubscribe()

  // Offline → online.
  const delays: number[] = []
  const fromStart: number[] = []
  for (let r = 0; r < RESTARTS; r++) {
    await stopNode(b)
    const sent = await a.bus.request(outboxSend, { to: bob, body: `offline ${r}` })
    let deliveredAt = 0
    const s = await a.bus.subscribe(outboxDelivery, (e) => {
      if (e.id === sent.id && e.state === 'delivered') deliveredAt = e.at
    })
    await new Promise((res) => setTimeout(res, 1500))
    const startAt = Date.now()
    b = await startNode(cleanup, {}, { home: a.home, dataDir: b.dataDir })
    await waitUntil(() => deliveredAt > 0, { timeoutMs: 60_000 })
    s.unsubscribe()
    const publishAt = (await actorLog(b, 'discovery'))
      .filter((l) => l.msg === 'presence published')
      .map((l) => Date.parse(l.time ?? ''))
      .find((x) => x >= startAt)
    if (publishAt) delays.push(deliveredAt - publishAt)
    fromStart.push(deliveredAt - startAt)
  }
  const r1 = (x: number) => Math.round(x * 10) / 10
  process.stdout.write(
    `${JSON.stringify({
      messages: MESSAGES,
      concurrency: CONCURRENCY,
      pipelineMsgsPerSec: r1(pipelinePerSec),
      rawJetStreamKvPutsPerSec: r1(rawPerSec),
      ratioRawOverPipeline: r1(rawPerSec / pipelinePerSec),
      offlineToOnline: {
        restarts: RESTARTS,
        fromPresencePublishMs: { p50: pct(delays, 0.5), p95: pct(delays, 0.95), all: delays },
        fromNodeStartMs: { p50: pct(fromStart, 0.5), p95: pct(fromStart, 0.95) },
        goal: 'p50 <= 1000 ms after the presence publish',
      },
    })}\n`,
  )
} finally {
  await cleanup.run()
}
