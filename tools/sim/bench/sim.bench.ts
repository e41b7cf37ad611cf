/**
 * The simulator's benchmark, printed as one JSON object (`npm run bench sim`):
 *  1. 100 nodes, 20% churn, 500 messages over 60 s (+ up to 120 s drain): does it complete, delivery ratio,
 *     latency, lookup latency, memory per simulated node, where the time went. If it does not complete, smaller
 *     N are tried (50, 25) so the report names the largest N that did.
 *     If 100 completes within 5 minutes, larger N (150, 200) are tried while they do (within a time budget).
 *  2. The multi-process delivery benchmark's scenario (apps/node/bench/delivery.bench.ts), inline: two nodes, a
 *     pipeline of 400 messages (16 at once) from A to B, then B restarted 5 times with a message queued for it
 *     while offline: B's presence publish → A's `delivered`. Same numbers, one process instead of ten.
 *  3. delivery.bench.ts itself (real node processes) in the same run, and the inline/multi-process ratios.
 *  4. A hostile run (`hostile`): churned nodes each in a process of their own, ended by SIGKILL and restarted;
 *     10 % of the nodes killed for good (offline past the run); 20 ms latency and 2 % loss on envelopes and acks;
 *     the outbox's production back-off. Bounded like the others (`--hostile-nodes`, default 30).
 * Every run's conditions are stated in its `conditions` line; the JSON starts with a `headline` that names them.
 *
 *   npx node --expose-gc --conditions=@baran/source tools/sim/bench/sim.bench.ts [--nodes 100] [--hostile-nodes 30] [--quick]
 *     [--parts scale,hostile,delivery]
 */
import { Bus, discoveryPublished, outboxDelivery, outboxReceived, outboxSend } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runBenchScript } from '../../bench/run-script.ts'
import { createRng, descriptorsFor, filesFor, formatReport, LinkShaper, percentiles, raiseFileLimit, runScenario, type ScenarioReport, SimNode } from '../src/index.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    'hostile-nodes': { type: 'string', default: '30' },
    parts: { type: 'string', default: 'scale,hostile,delivery' },
    quick: { type: 'boolean' },
  },
})
const quick = values.quick === true
const parts = new Set((values.parts ?? '').split(','))
const MESSAGES = quick ? 100 : 400
const CONCURRENCY = 16
const RESTARTS = quick ? 2 : 5
const BOUND_MS = 5 * 60_000
const log = (line: string) => process.stderr.write(`[sim bench] ${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const by = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > by) return false
    await sleep(10)
  }
  return true
}

/** Part 2: delivery.bench.ts's two-node scenario with inline nodes. */
async function twoNodes(): Promise<Record<string, unknown>> {
  const root = await mkdtemp(join(tmpdir(), 'baran-sim-bench-'))
  const server = await startNatsServer({ workDir: join(root, 'nats'), jetstream: true })
  const shaper = new LinkShaper({ latencyMs: 0, lossRate: 0 }, createRng(1))
  const a = new SimNode({ name: 'alice', natsUrl: server.url, root, shaper })
  const b = new SimNode({ name: 'bob', natsUrl: server.url, root, shaper })
  const watch = await Bus.connect({ servers: server.url, node: 'sim' })
  try {
    await a.start([])
    await b.start(await a.dhtAddrs())
    const bootstrap = await a.dhtAddrs()
    await watch.request(outboxSend, { to: b.accountId, body: 'warm-up' }, { node: 'alice' })
    await sleep(1000)
    let received = 0
    const sub = await watch.subscribe(outboxReceived, () => void received++, { node: 'bob' })
    const t = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < MESSAGES) await watch.request(outboxSend, { to: b.accountId, body: `m${next++} ${'x'.repeat(100)}` }, { node: 'alice' })
      }),
    )
    // The warm-up message was stored before this subscription: count only the pipeline.
    const done = await until(() => received >= MESSAGES, 120_000)
    const pipelinePerSec = done ? MESSAGES / ((performance.now() - t) / 1000) : Number.NaN
    sub.unsubscribe()

    const delays: number[] = []
    const fromStart: number[] = []
    for (let r = 0; r < RESTARTS; r++) {
      await b.stop()
      const sent = await watch.request(outboxSend, { to: b.accountId, body: `offline ${r}` }, { node: 'alice' })
      let deliveredAt = 0
      let publishAt = 0
      const s1 = await watch.subscribe(
        outboxDelivery,
        (e) => {
          if (e.id === sent.id && e.state === 'delivered') deliveredAt = e.at
        },
        { node: 'alice' },
      )
      const s2 = await watch.subscribe(
        discoveryPublished,
        (e) => {
          if (!publishAt) publishAt = e.at
        },
        { node: 'bob' },
      )
      await sleep(1500)
      const startAt = Date.now()
      await b.start(bootstrap)
      await until(() => deliveredAt > 0, 60_000)
      s1.unsubscribe()
      s2.unsubscribe()
      if (deliveredAt && publishAt) delays.push(deliveredAt - publishAt)
      if (deliveredAt) fromStart.push(deliveredAt - startAt)
    }
    return {
      messages: MESSAGES,
      pipelineMsgsPerSec: Math.round(pipelinePerSec),
      offlineToOnline: { fromPresencePublishMs: percentiles(delays), fromStartMs: percentiles(fromStart) },
    }
  } finally {
    await b.stop().catch(() => undefined)
    await a.stop().catch(() => undefined)
    await watch.close().catch(() => undefined)
    await server.stop().catch(() => undefined)
    await rm(root, { recursive: true, force: true }).catch(() => undefined)
  }
}

function summary(r: ScenarioReport) {
  return {
    conditions: r.conditions,
    nodes: r.scenario.nodes,
    completed: r.completed,
    withinBound: r.timingsMs.total <= BOUND_MS,
    deliveryRatio: r.delivery.ratio,
    accepted: r.delivery.accepted,
    toOffline: r.delivery.toOffline,
    undelivered: r.delivery.undelivered,
    toOrFromStayedOffline: r.delivery.toOrFromStayedOffline,
    churn: r.churn,
    network: r.network,
    latencyMs: r.latencyMs,
    lookupMs: r.lookups.latencyMs,
    // What the run cost the DHT: rpc requests by method during run and drain, and per message
    dhtRpcs: r.dhtRpcs,
    rssPerNodeMiB: Math.round((r.memory.rssPerNodeBytes / 1048576) * 10) / 10,
    heapPerNodeMiB: Math.round((r.memory.heapPerNodeBytes / 1048576) * 10) / 10,
    natsServerRssMiB: r.memory.natsServerRssBytes === null ? null : Math.round((r.memory.natsServerRssBytes / 1048576) * 10) / 10,
    eventLoopDelayMs: r.eventLoopDelayMs,
    threads: r.threads,
    timingsMs: r.timingsMs,
  }
}

/** Part 3: apps/node/bench/delivery.bench.ts itself (real node processes), in this run, for the side-by-side ratios. */
async function multiProcess(): Promise<Record<string, unknown>> {
  const r = await runBenchScript(fileURLToPath(new URL('../../../apps/node/bench/delivery.bench.ts', import.meta.url)), { limitMs: 10 * 60_000 })
  return r.ok ? (r.result as Record<string, unknown>) : { error: `delivery.bench.ts exited with ${r.code} without a JSON result` }
}

// Part 1: the 100-node scenario, then larger N while each completes within the bound (smaller N if 100 does not).
const runs: Array<ReturnType<typeof summary> | { nodes: number; error: string } | { nodes: number; notStarted: string }> = []
let largest: number | null = null
const ok = (r: ScenarioReport) => r.completed && r.timingsMs.total <= BOUND_MS
const first = Number(values.nodes)
const up = quick ? [] : [Math.round(first * 1.5), first * 2]
/** No larger N is started after this much of the bench has passed (each can take its 5 minutes and more). */
const SEARCH_BUDGET_MS = 12 * 60_000
const benchStart = performance.now()
async function scenario(nodes: number): Promise<ScenarioReport | undefined> {
  log(`scenario: ${nodes} nodes, 20% churn`)
  try {
    const r = await runScenario(
      { nodes, churn: 0.2, messages: quick ? nodes * 2 : nodes * 5, durationMs: quick ? 20_000 : 60_000, drainMs: 120_000, seed: 1, threads: availableParallelism() },
      { onProgress: log },
    )
    process.stderr.write(formatReport(r))
    runs.push(summary(r))
    return r
  } catch (e) {
    log(`${nodes} nodes failed: ${(e as Error).message}`)
    runs.push({ nodes, error: (e as Error).message })
    return undefined
  }
}
if (parts.has('scale')) {
  const r100 = await scenario(first)
  if (r100 && ok(r100)) {
    largest = first
    for (const nodes of up) {
      if (performance.now() - benchStart > SEARCH_BUDGET_MS) break
      // Every node's sockets are in this process: without the descriptors it would only fail part-way (EMFILE).
      const files = raiseFileLimit(filesFor(nodes))
      if (files.after < descriptorsFor(nodes)) {
        const why = `needs about ${descriptorsFor(nodes)} open files, this process may have ${files.after} (raising the hard limit takes CAP_SYS_RESOURCE)`
        log(`${nodes} nodes not started: ${why}`)
        runs.push({ nodes, notStarted: why })
        break
      }
      const r = await scenario(nodes)
      if (!r || !ok(r)) break
      largest = nodes
    }
  } else {
    for (const nodes of [Math.round(first / 2), Math.round(first / 4)]) {
      const r = await scenario(nodes)
      if (r && ok(r)) {
        largest = nodes
        break
      }
    }
  }
}
const perNode = runs.flatMap((r) => ('rssPerNodeMiB' in r ? [r.rssPerNodeMiB] : []))
const rssPerNodeMiB = perNode.length > 0 ? Math.max(...perNode) : null

// Part 4: the hostile run.
let hostile: ReturnType<typeof summary> | { nodes: number; error: string } | null = null
if (parts.has('hostile')) {
  const nodes = Number(values['hostile-nodes'])
  log(`hostile scenario: ${nodes} nodes, 20% churn by SIGKILL, 10% offline for good, 20 ms latency, 2% loss, production back-off`)
  try {
    const r = await runScenario(
      {
        nodes,
        churn: 0.2,
        kill: 'sigkill',
        stayOffline: 0.1,
        latencyMs: 20,
        lossRate: 0.02,
        backoff: 'production',
        messages: nodes * (quick ? 2 : 5),
        durationMs: quick ? 20_000 : 60_000,
        drainMs: 120_000,
        seed: 1,
        threads: availableParallelism(),
      },
      { onProgress: log },
    )
    process.stderr.write(formatReport(r))
    hostile = summary(r)
  } catch (e) {
    log(`hostile run failed: ${(e as Error).message}`)
    hostile = { nodes, error: (e as Error).message }
  }
}
const skipped = { skipped: 'not in --parts' }
if (parts.has('delivery')) log('two-node scenario of delivery.bench.ts, inline')
const inline = parts.has('delivery') ? await twoNodes().catch((e: unknown) => ({ error: (e as Error).message })) : skipped
if (parts.has('delivery')) log('the same scenario with real node processes (apps/node/bench/delivery.bench.ts)')
const multi = parts.has('delivery') ? await multiProcess() : skipped
const num = (v: unknown, ...path: string[]): number | undefined => {
  let x: unknown = v
  for (const k of path) x = (x as Record<string, unknown> | undefined)?.[k]
  return typeof x === 'number' ? x : undefined
}
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? Math.round((a / b) * 100) / 100 : null)
process.stdout.write(
  `${JSON.stringify({
    // What each figure was measured under, first: a reader of the table sees the conditions before the numbers.
    headline: [
      ...runs.map((r) =>
        'notStarted' in r
          ? `scale run of ${r.nodes} nodes not started: ${r.notStarted}`
          : 'error' in r
            ? `scale run of ${r.nodes} nodes failed: ${r.error}`
            : `scale: ${r.completed ? 'complete' : 'INCOMPLETE'}, ${r.deliveryRatio * 100} % delivered, ${r.timingsMs.total} ms, ${r.dhtRpcs.perMessage} DHT rpcs per message — ${r.conditions}`,
      ),
      ...(hostile === null
        ? []
        : ['error' in hostile
            ? `hostile run of ${hostile.nodes} nodes failed: ${hostile.error}`
            : `hostile: ${hostile.completed ? 'complete' : 'INCOMPLETE'}, ${hostile.deliveryRatio * 100} % delivered (${hostile.toOrFromStayedOffline.delivered}/${hostile.toOrFromStayedOffline.accepted} to/from nodes gone for good), ${hostile.timingsMs.total} ms — ${hostile.conditions}`]),
    ].join(' | '),
    largestCompletedNodes: largest,
    boundMs: BOUND_MS,
    // Memory is not what bounds N here (CPU is): what 24 GiB would hold at the measured RSS per node.
    memoryBoundNodesIn24GiB: rssPerNodeMiB ? Math.floor((24 * 1024) / rssPerNodeMiB) : null,
    runs,
    hostile,
    delivery: {
      inline,
      multiProcess: multi,
      inlineOverMultiProcess: {
        offlineToOnlineP50: ratio(num(inline, 'offlineToOnline', 'fromPresencePublishMs', 'p50'), num(multi, 'offlineToOnline', 'fromPublishedLogMs', 'p50')),
        pipelineMsgsPerSec: ratio(num(inline, 'pipelineMsgsPerSec'), num(multi, 'pipelineMsgsPerSec')),
      },
    },
  })}\n`,
)
