import { Bus, discoveryLookup, discoveryPublish, discoveryPublished, outboxReceived, outboxSend } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  BACK_BY_FRACTION,
  filesFor,
  LOAD_FRACTION,
  LOOKUP_BUDGET_MS,
  RESTART_ATTEMPTS,
  SEND_CONCURRENCY,
  START_CONCURRENCY,
  STOP_CONCURRENCY,
} from './constants.ts'
import { raiseFileLimit } from './limits.ts'
import { parseScenario, type ScenarioHooks, type ScenarioInit, type ScenarioReport } from './scenario-schema.ts'
import { SimNode } from './node.ts'
import { conditionsOf, planOffline } from './offline-plan.ts'
import { ProcessSimNode } from './process-node.ts'
import { RemoteSimNode, Shard, type SimNodeHandle } from './shard.ts'
import { SURVIVABLE_ERRORS, type ShardStats } from './shard-protocol.ts'
import { createRng } from './rng.ts'
import { LinkShaper } from './shaper.ts'
import { addCounts, percentiles } from './stats.ts'
import { DeliveryTrail } from './trail.ts'

interface Sent {
  id: string
  from: string
  to: string
  toAccount: string
  sentAt: number
  toOffline: boolean
}


const gc = (globalThis as { gc?: () => void }).gc

/** RSS reads /proc: out of descriptors (a very large simulation) it throws, and a sample is skipped. */
function rssNow(fallback: number): number {
  try {
    return process.memoryUsage.rss()
  } catch {
    return fallback
  }
}

async function rssOf(pid: number | undefined): Promise<number | null> {
  if (!pid) return null
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1]
  return kb ? Number(kb) * 1024 : null
}

/** Runs `job` on every item, at most `n` at once; after a failure no new job starts, and the running ones finish before it rethrows. */
async function pool<T>(items: readonly T[], n: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length && !failure) {
        try {
          await job(items[next++] as T)
        } catch (error) {
          failure ??= { error }
        }
      }
    }),
  )
  if (failure) throw failure.error
}

/**
 * Runs N nodes' real actors in this process against one nats-server: setup (anchors first, the rest bootstrap
 * from them), timed DHT lookups, then the run (messages from random online senders to random recipients while a
 * `churn` fraction of nodes goes offline and comes back), then a bounded drain, then teardown. Always stops by
 * itself: it returns a report even when some messages were not delivered by the drain deadline.
 */
export async function runScenario(init: ScenarioInit, hooks: ScenarioHooks = {}): Promise<ScenarioReport> {
  const sc = parseScenario(init)
  const progress = hooks.onProgress ?? (() => undefined)
  const rng = createRng(sc.seed)
  const shaper = new LinkShaper({ latencyMs: sc.latencyMs, lossRate: sc.lossRate }, createRng(sc.seed ^ 0x5eed))
  const tStart = performance.now()
  const loopDelay = monitorEventLoopDelay({ resolution: 20 })
  loopDelay.enable()
  // libp2p (yamux) can throw from a microtask when a stream closes under load (StreamStateError): in a real node
  // that ends one actor process and the supervisor restarts it; here it would end every node at once. Count it.
  const survived: Record<string, number> = {}
  const onUncaught = (e: unknown) => {
    const name = (e as { name?: string } | undefined)?.name ?? 'unknown'
    if (!SURVIVABLE_ERRORS.has(name)) throw e
    survived[name] = (survived[name] ?? 0) + 1
  }
  process.on('uncaughtException', onUncaught)
  const filesNeeded = filesFor(sc.nodes)
  const files = raiseFileLimit(filesNeeded)
  if (files.after !== files.before) progress(`open-file limit raised from ${files.before} to ${files.after}`)
  else if (files.after < filesNeeded) progress(`open-file limit ${files.after} (could not raise it): ${sc.nodes} nodes may need about ${filesNeeded} descriptors`)
  const root = await mkdtemp(join(tmpdir(), 'baran-sim-'))
  const server = startNatsServer({ workDir: join(root, 'nats'), jetstream: true })
  let monitor: Bus | undefined
  const nodes: SimNodeHandle[] = []
  const shards: Shard[] = []
  const pending = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>) => {
    const q = p.catch(() => undefined).finally(() => pending.delete(q))
    pending.add(q)
  }
  let memTimer: NodeJS.Timeout | undefined
  try {
    const nats = await server
    monitor = await Bus.connect({ servers: nats.url, node: 'sim', name: 'sim-monitor' })

    // What every node publishes and receives, seen from outside (one wildcard subscription each).
    const received = new Map<string, number>()
    const published = new Map<string, number[]>()
    await monitor.subscribe(outboxReceived, (m) => void (received.has(m.id) || received.set(m.id, Date.now())), { node: '*' })
    const trail = new DeliveryTrail()
    await monitor.subscribe(
      discoveryPublished,
      (e, meta) => {
        const list = published.get(meta.node) ?? []
        list.push(e.at)
        published.set(meta.node, list)
        trail.note(meta.node, `published its presence (seq ${e.seq}, ${e.addrs.length} addrs)`)
      },
      { node: '*' },
    )
    // A message's way, for the report of one that never arrives.
    await trail.follow(monitor)

    // Nodes (and the shards they live in, when threads > 0); the first stats answer means a shard is loaded.
    const width = String(sc.nodes - 1).length
    // Who goes offline for good, and (with sigkill) who churns, is drawn up front from a separate generator: such
    // nodes must be made as processes of their own, and the default scenario's draws stay as they were.
    const plan = planOffline(sc)
    const shardInit = { natsUrl: nats.url, root, latencyMs: sc.latencyMs, lossRate: sc.lossRate, backoff: sc.backoff }
    for (let t = 0; t < sc.threads; t++) shards.push(new Shard(t, { ...shardInit, seed: (sc.seed ^ 0x5eed) + t + 1 }))
    for (let i = 0; i < sc.nodes; i++) {
      const name = `s${String(i).padStart(width, '0')}`
      const shard = shards[i % Math.max(1, shards.length)]
      if (plan.processNodes.has(i)) nodes.push(new ProcessSimNode(name, sc.threads + i, { ...shardInit, seed: (sc.seed ^ 0x5eed) + 1000 * (i + 1) }))
      else nodes.push(shard ? new RemoteSimNode(name, shard) : new SimNode({ name, natsUrl: nats.url, root, shaper, backoff: sc.backoff, ...(hooks.log ? { log: hooks.log } : {}) }))
    }
    const stayers = new Set([...plan.stay].map((i) => nodes[i] as SimNodeHandle))
    const shardStats = () => Promise.all(shards.map((sh) => sh.stats()))
    const heapOf = (stats: ShardStats[]) => getHeapStatistics().used_heap_size + stats.reduce((a, st) => a + st.heapUsed, 0)
    // DHT rpc requests sent, by method: the shards' nodes and this thread's (a node in a process of its own is not
    // counted: a kill takes its counts with it).
    const rpcOf = (stats: ShardStats[]) => {
      const sum: Record<string, number> = {}
      for (const st of stats) addCounts(sum, st.rpcSent)
      for (const n of nodes) if (n instanceof SimNode) addCounts(sum, n.rpcSent())
      return sum
    }
    const rpcUnreadOf = (stats: ShardStats[]) =>
      stats.reduce((a, st) => a + st.rpcUnread, 0) + nodes.reduce((a, n) => a + (n instanceof SimNode ? n.rpcUnread : 0), 0)
    await shardStats()

    gc?.()
    const rssBefore = rssNow(0)
    const heapBefore = heapOf(await shardStats())
    let rssPeak = rssBefore
    memTimer = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssNow(0))
    }, 1000)
    memTimer.unref()

    // ---- setup: anchors one by one (each bootstraps from the ones before), then everyone from the anchors ----
    const anchors = nodes.slice(0, plan.anchors)
    const bootstrap: string[] = []
    for (const a of anchors) {
      await a.start([...bootstrap])
      bootstrap.push(...(await a.dhtAddrs()))
    }
    let started = anchors.length
    await pool(nodes.slice(anchors.length), START_CONCURRENCY * Math.max(1, sc.threads), async (n) => {
      await n.start(bootstrap)
      if (++started % 10 === 0) progress(`started ${started}/${sc.nodes} nodes (event-loop delay max ${Math.round(loopDelay.max / 1e6)} ms)`)
    })
    // Ready when every node's presence is on the DHT (bounded: the run then starts anyway).
    const readyBy = Date.now() + 30_000 + sc.nodes * 200
    while (nodes.some((n) => !published.has(n.name)) && Date.now() < readyBy) await sleep(100)
    const unpublished = nodes.filter((n) => !published.has(n.name)).length
    // Nodes that started early published into a network of a few nodes. Discovery republishes by itself once its
    // routing table has doubled (debounced, at most every 10 s); one round once everyone is up makes the run start
    // from that settled state at once instead of seconds into it.
    await pool(nodes, START_CONCURRENCY, async (n) => {
      await monitor?.request(discoveryPublish, {}, { node: n.name, timeoutMs: 30_000 }).catch(() => undefined)
    })
    const setupMs = performance.now() - tStart
    progress(`setup done in ${Math.round(setupMs)} ms (${unpublished} nodes without presence yet)`)

    // ---- DHT lookups: random asker, random other account ----
    const tLookups = performance.now()
    const lookupMs: number[] = []
    let lookupFailed = 0
    // Bounded: under load a lookup can take seconds, and this phase must not eat the run's time.
    for (let i = 0; i < sc.lookups && performance.now() - tLookups < LOOKUP_BUDGET_MS; i++) {
      const [asker, target] = rng.sample(nodes, 2) as [SimNodeHandle, SimNodeHandle]
      const t = performance.now()
      try {
        await monitor.request(discoveryLookup, { accountId: target.accountId }, { node: asker.name, timeoutMs: 10_000 })
        lookupMs.push(performance.now() - t)
      } catch {
        lookupFailed++
      }
    }
    const lookupsMs = performance.now() - tLookups
    progress(`${lookupMs.length} lookups (${lookupFailed} failed) in ${Math.round(lookupsMs)} ms`)

    gc?.()
    const rssAfter = rssNow(rssPeak)
    const heapAfter = heapOf(await shardStats())
    const natsRss = await rssOf(nats.pid)

    // ---- the run: churn and load on one timeline ----
    const churned = plan.churn
      ? [...plan.churn].map((i) => nodes[i] as SimNodeHandle)
      : rng.sample(
          nodes.slice(anchors.length).filter((n) => !stayers.has(n)),
          Math.round(sc.churn * sc.nodes),
        )
    type Event = { at: number; kind: 'off'; node: SimNodeHandle } | { at: number; kind: 'on'; node: SimNodeHandle } | { at: number; kind: 'msg'; n: number }
    const events: Event[] = []
    for (const node of churned) {
      const off = rng.between(0.1, 0.35) * sc.durationMs
      const on = Math.min(off + rng.between(0.2, 0.35) * sc.durationMs, BACK_BY_FRACTION * sc.durationMs)
      events.push({ at: off, kind: 'off', node }, { at: on, kind: 'on', node })
    }
    for (const [j, node] of [...stayers].entries()) events.push({ at: (plan.stayOffAt[j] as number) * sc.durationMs, kind: 'off', node })
    for (let n = 0; n < sc.messages; n++) events.push({ at: rng.next() * LOAD_FRACTION * sc.durationMs, kind: 'msg', n })
    events.sort((a, b) => a.at - b.at)

    const sent: Sent[] = []
    let sendFailed = 0
    let inFlight = 0
    let offline = 0
    let restarts = 0
    const rpcAtRun = rpcOf(await shardStats())
    const tRun = performance.now()
    trail.note('sim', 'the run begins')
    for (const ev of events) {
      const wait = ev.at - (performance.now() - tRun)
      if (wait > 0) await sleep(wait)
      if (ev.kind === 'off') {
        offline++
        trail.note(ev.node.name, 'goes offline')
        track(ev.node.stop())
      } else if (ev.kind === 'on') {
        // As a supervisor would: a restart that fails (a deadline missed on a loaded machine) is tried again.
        const restart = async () => {
          for (let attempt = 1; ; attempt++) {
            try {
              await ev.node.start(bootstrap)
              restarts++
              trail.note(ev.node.name, 'back online')
              return
            } catch (e) {
              progress(`restart ${attempt} of ${ev.node.name} failed: ${(e as Error).message}`)
              if (attempt >= RESTART_ATTEMPTS) return
            }
          }
        }
        track(restart())
      } else {
        const online = nodes.filter((n) => n.online)
        if (online.length === 0) {
          sendFailed++
          continue
        }
        const from = rng.pick(online)
        let to = rng.pick(nodes)
        while (to === from) to = rng.pick(nodes)
        while (inFlight >= SEND_CONCURRENCY) await sleep(5)
        inFlight++
        const sentAt = Date.now()
        const toOffline = !to.online
        track(
          monitor
            .request(outboxSend, { to: to.accountId, body: `sim ${ev.n} ${from.name}->${to.name}` }, { node: from.name, timeoutMs: 10_000 })
            .then(
              (r) => void sent.push({ id: r.id, from: from.name, to: to.name, toAccount: to.accountId, sentAt, toOffline }),
              () => void sendFailed++,
            )
            .finally(() => inFlight--),
        )
      }
    }
    while (pending.size > 0) await Promise.all([...pending])
    const runMs = performance.now() - tRun
    progress(`run done in ${Math.round(runMs)} ms: ${sent.length} accepted, ${received.size} delivered so far`)

    // ---- drain: until everything accepted is delivered, or the deadline ----
    const tDrain = performance.now()
    trail.note('sim', 'the drain begins')
    const drainBy = Date.now() + sc.drainMs
    // A message to or from a node that never comes back is not expected to arrive (it waits in an outbox).
    const stayerNames = new Set([...stayers].map((n) => n.name))
    const expected = (s: Sent) => !stayerNames.has(s.to) && !stayerNames.has(s.from)
    const undelivered = () => sent.filter((s) => expected(s) && !received.has(s.id))
    while (undelivered().length > 0 && Date.now() < drainBy) await sleep(100)
    const drainMs = performance.now() - tDrain
    const missing = undelivered()
    clearInterval(memTimer)
    loopDelay.disable()
    // Shards count their own lost envelopes, survived errors and event-loop delay: add them to this thread's.
    const finalShards = await shardStats()
    const network = { ...shaper.stats }
    for (const st of finalShards) {
      network.sends += st.shaper.sends
      network.lostEnvelopes += st.shaper.lostEnvelopes
      network.lostAcks += st.shaper.lostAcks
      for (const [k, v] of Object.entries(st.survived)) survived[k] = (survived[k] ?? 0) + v
    }
    const nsToMs = (ns: number) => Math.round(ns / 1e5) / 10
    const rpcSent = rpcOf(finalShards)
    for (const [k, v] of Object.entries(rpcAtRun)) rpcSent[k] = (rpcSent[k] ?? 0) - v
    const rpcTotal = Object.values(rpcSent).reduce((a, b) => a + b, 0)

    // ---- report ----
    const lat = (pred: (s: Sent) => boolean) =>
      percentiles(sent.filter((s) => pred(s) && received.has(s.id)).map((s) => (received.get(s.id) as number) - s.sentAt))
    const fromPresence: number[] = []
    for (const s of sent) {
      const at = received.get(s.id)
      if (!s.toOffline || at === undefined) continue
      const pub = (published.get(s.to) ?? []).find((p) => p > s.sentAt)
      if (pub !== undefined && pub <= at) fromPresence.push(at - pub)
    }
    const firstStarts = nodes.map((n) => n.startMs[0]).filter((x): x is number => x !== undefined)
    const restartMs = nodes.flatMap((n) => n.startMs.slice(1))

    const tTeardown = performance.now()
    await teardown(nodes, shards, monitor, nats, root)
    monitor = undefined
    const teardownMs = performance.now() - tTeardown
    return {
      scenario: sc,
      completed: missing.length === 0,
      timingsMs: {
        setup: Math.round(setupMs),
        lookups: Math.round(lookupsMs),
        run: Math.round(runMs),
        drain: Math.round(drainMs),
        teardown: Math.round(teardownMs),
        total: Math.round(performance.now() - tStart),
        nodeStart: percentiles(firstStarts),
        nodeRestart: percentiles(restartMs),
        nodeStop: percentiles(nodes.flatMap((n) => n.stopMs)),
        actorStart: Object.fromEntries(['identity', 'transport', 'discovery', 'outbox'].map((a) => [a, percentiles(nodes.flatMap((n) => n.actorStartMs[a] ?? []))])),
      },
      delivery: {
        accepted: sent.filter(expected).length,
        sendFailed,
        delivered: sent.filter(expected).length - missing.length,
        ratio: sent.filter(expected).length === 0 ? 1 : (sent.filter(expected).length - missing.length) / sent.filter(expected).length,
        toOffline: sent.filter((s) => expected(s) && s.toOffline).length,
        undelivered: missing.slice(0, 20).map((s) => `${s.id} ${s.from}->${s.to}`),
        trails: Object.fromEntries(missing.slice(0, 5).map((s) => [`${s.id} ${s.from}->${s.to}`, trail.of(s)])),
        toOrFromStayedOffline: { accepted: sent.filter((s) => !expected(s)).length, delivered: sent.filter((s) => !expected(s) && received.has(s.id)).length },
      },
      latencyMs: {
        all: lat(() => true),
        toOnline: lat((s) => !s.toOffline),
        toOffline: lat((s) => s.toOffline),
        fromPresence: percentiles(fromPresence),
      },
      lookups: {
        count: lookupMs.length,
        failed: lookupFailed,
        latencyMs: percentiles(lookupMs),
        hops: null,
        note: 'the discovery library does not expose hop counts: this is discovery.lookup latency over the bus (device list + presence of each device)',
      },
      dhtRpcs: {
        sent: rpcSent,
        perMessage: sent.length === 0 ? null : Math.round((rpcTotal / sent.length) * 10) / 10,
        uncountedNodes: plan.processNodes.size,
        unreadHealths: rpcUnreadOf(finalShards),
      },
      churn: { nodes: churned.length, offline, restarts, kill: sc.kill, stayedOffline: stayers.size },
      conditions: conditionsOf(sc, plan),
      network: { latencyMs: sc.latencyMs, lossRate: sc.lossRate, ...network },
      memory: {
        rssBeforeBytes: rssBefore,
        rssAfterSetupBytes: rssAfter,
        rssPeakBytes: rssPeak,
        rssPerNodeBytes: Math.round((rssAfter - rssBefore) / sc.nodes),
        heapPerNodeBytes: Math.round((heapAfter - heapBefore) / sc.nodes),
        natsServerRssBytes: natsRss,
        gcExposed: gc !== undefined,
      },
      survivedErrors: survived,
      // With shards, the busiest event loop: the one that bounds how fast its nodes answer.
      eventLoopDelayMs: finalShards.reduce(
        (worst, st) => ({ p50: Math.max(worst.p50, st.eventLoopDelayMs.p50), p99: Math.max(worst.p99, st.eventLoopDelayMs.p99), max: Math.max(worst.max, st.eventLoopDelayMs.max) }),
        { p50: nsToMs(loopDelay.percentile(50)), p99: nsToMs(loopDelay.percentile(99)), max: nsToMs(loopDelay.max) },
      ),
      threads: sc.threads,
    }
  } finally {
    clearInterval(memTimer)
    loopDelay.disable()
    process.off('uncaughtException', onUncaught)
    // Whatever failed above: stop every node, the monitor, the server, and remove the temp dir.
    await Promise.allSettled([...pending])
    await teardown(nodes, shards, monitor, await server.catch(() => undefined), root)
  }
}

async function teardown(nodes: SimNodeHandle[], shards: Shard[], monitor: Bus | undefined, nats: { stop(): Promise<void> } | undefined, root: string): Promise<void> {
  // Stops need no throttling (and each can wait out actor deadlines): many at once keeps teardown short.
  await pool(nodes, STOP_CONCURRENCY, (n) => n.stop().catch(() => undefined))
  await Promise.all(shards.splice(0).map((sh) => sh.terminate().catch(() => undefined)))
  await monitor?.close().catch(() => undefined)
  await nats?.stop().catch(() => undefined)
  await rm(root, { recursive: true, force: true }).catch(() => undefined)
}
