/**
 * Chaos on two real nodes of one local network (issue 14, "Must show"): messages both ways while a random
 * process of either node (any actor, or its nats-server) is killed with SIGKILL every few seconds. Shared by
 * the chaos test (short) and `apps/node/bench/chaos.bench.ts` (long): the caller sets the bounds.
 *
 * What is checked:
 * - exactly once: every message whose send was confirmed (an id came back) is in the receiver's inbox once;
 *   a send whose fate is unknown to the caller (it timed out: it may have been persisted) is there at most once;
 * - nothing stuck: once the chaos stops, everything arrives within a bounded time;
 * - honest status: at each quiet check (chaos paused) and at the end, as soon as both nodes' status says every
 *   actor is ready, a probe message each way is delivered within a bounded time.
 */
import { type NodeStatus, outboxInbox, outboxSend, outboxStatus } from '@baran/bus'
import { type Cleanup, waitUntil } from '@baran/testkit'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type NodePair, startTwoNodes, type TestNode } from './helpers.ts'

export interface ChaosOptions {
  /** Messages sent during the chaos, alternately A→B and B→A. */
  messages: number
  /** How long the chaos lasts (ms); messages are spread over it. */
  durationMs: number
  /** Mean wait between two kills (ms); each wait is 0.5–1.5× this. */
  killEveryMs: number
  /** Pause the chaos after this many kills for a quiet check (0: only at the end). */
  quietCheckEvery: number
  /** Bound on a probe's delivery once both nodes say ready (ms). */
  probeDeadlineMs: number
  /** Bound on the final drain once the chaos stopped (ms). */
  drainDeadlineMs: number
  /** Seed of the victim choice and waits (same seed, same sequence of choices). */
  seed: number
  log?: (line: string) => void
}

export interface ChaosReport {
  sent: number
  /** Confirmed sends (an id came back). */
  confirmed: number
  /** Sends whose fate the caller does not know (timed out); each may arrive at most once. */
  ambiguous: number
  /** Sends refused before they were persisted (nobody served, or outbox unavailable), sent again. */
  refusedThenResent: number
  delivered: number
  lost: number
  duplicated: number
  kills: Array<{ node: string; victim: string; at: number; recoveredMs: number | null }>
  /** Quiet checks: time until both nodes said all ready, then probe delivery times. */
  quietChecks: Array<{ readyAfterMs: number; probeMs: number[]; ok: boolean }>
  /** Probes not delivered in time although both nodes said all ready: status lied. */
  statusLies: number
  drainMs: number
}

const ACTORS = ['identity', 'naming', 'discovery', 'transport', 'outbox'] as const

/** A small seeded PRNG (mulberry32): a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The node's nats-server: the supervisor's child process named nats-server (node.json may name an old one). */
export async function natsPidOf(n: TestNode): Promise<number | undefined> {
  const sup = (JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { pid: number }).pid
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    // pid (comm) state ppid …
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat)
    if (m && m[1] === 'nats-server' && Number(m[2]) === sup) return Number(entry)
  }
  return undefined
}

/** Every actor ready, as `baran status` sees it (undefined when the supervisor does not answer). */
async function allReady(n: TestNode): Promise<boolean> {
  const s: NodeStatus | undefined = await n.status().catch(() => undefined)
  return s !== undefined && Object.values(s.actors).every((a) => a.state === 'ready')
}

/** What keeps a node from all ready, for a failure message: each actor not ready, its state and reason. */
async function notReady(n: TestNode): Promise<string> {
  const s: NodeStatus | undefined = await n.status().catch(() => undefined)
  if (s === undefined) return `${n.node}: no status`
  const waiting = Object.entries(s.actors).filter(([, a]) => a.state !== 'ready')
  return `${n.node}: ${waiting.map(([name, a]) => `${name} ${a.state}${a.reason ? ` (${a.reason})` : ''}, ${a.restarts} restarts`).join('; ') || 'all ready'}`
}

async function inboxBodies(n: TestNode): Promise<string[]> {
  const bodies: string[] = []
  let after: string | undefined
  for (let page = 0; page < 100; page++) {
    const r = await n.bus.request(outboxInbox, { limit: 10_000, ...(after ? { after } : {}) }, { timeoutMs: 10_000 })
    bodies.push(...r.messages.map((m) => m.body))
    if (!r.next) break
    after = r.next
  }
  return bodies
}

/** Starts the two nodes (A owns the local network, B joins it) with accounts; a restart policy that lets chaos run. */
export function startPair(cleanup: Cleanup): Promise<NodePair> {
  // Kills are not a crash loop of the code: let the supervisor restart each actor as often as the chaos needs.
  const config = { supervisor: { restart: { initialMs: 250, maxMs: 2000, crashLoopCount: 100, crashLoopWindowMs: 60_000 } } }
  return startTwoNodes(cleanup, { config })
}

export async function runChaos(pair: NodePair, opts: ChaosOptions): Promise<ChaosReport> {
  const { a, b, alice, bob } = pair
  const log = opts.log ?? (() => {})
  const rand = prng(opts.seed)
  const report: ChaosReport = {
    sent: 0,
    confirmed: 0,
    ambiguous: 0,
    refusedThenResent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    kills: [],
    quietChecks: [],
    statusLies: 0,
    drainMs: 0,
  }
  const expected = { toA: new Map<string, 'sure' | 'maybe'>(), toB: new Map<string, 'sure' | 'maybe'>() }
  /** Each confirmed message's id on its sender, to say where a lost one stands. */
  const sentAs = new Map<string, { id: string; from: TestNode }>()
  let paused = false
  const started = Date.now()

  /** One message, sent again while the caller knows it was not persisted (nobody served it, or outbox refused). */
  const sendOne = async (i: number) => {
    const [from, to, map] = i % 2 === 0 ? [a, bob, expected.toB] : [b, alice, expected.toA]
    const body = `chaos ${opts.seed} #${i} ${from.node}>`
    report.sent++
    for (let attempt = 0; attempt < 60; attempt++) {
      // A client (the CLI, the UI) cannot send while its node's bus is down: wait for it, bounded.
      for (let w = 0; w < 300 && !from.bus.connected; w++) await sleep(100)
      try {
        const { id } = await from.bus.request(outboxSend, { to, body }, { timeoutMs: 10_000 })
        map.set(body, 'sure')
        sentAs.set(body, { id, from })
        report.confirmed++
        return
      } catch (e) {
        const code = (e as { code?: string }).code
        if (code === 'no_responder' || code === 'unavailable' || code === 'disconnected') {
          if (attempt === 0) report.refusedThenResent++
          await sleep(500)
          continue
        }
        // Timed out (or anything else): it may have been persisted. Not sent again (no idempotency key yet).
        map.set(body, 'maybe')
        report.ambiguous++
        log(`send #${i} fate unknown: ${code ?? (e as Error).message}`)
        return
      }
    }
    map.set(body, 'maybe')
    report.ambiguous++
  }

  const sender = (async () => {
    const gap = opts.durationMs / opts.messages
    const pending: Promise<void>[] = []
    for (let i = 0; i < opts.messages; i++) {
      while (paused) await sleep(100)
      pending.push(sendOne(i))
      await sleep(gap)
    }
    await Promise.all(pending)
  })()

  /** Waits until both nodes say all ready, then a probe each way must arrive within the deadline. */
  const quietCheck = async (label: string) => {
    const t0 = Date.now()
    // Let the supervisors notice the last kill first (an exit is seen within a few ms; a state event soon after).
    await sleep(1000)
    await waitUntil(async () => (await allReady(a)) && (await allReady(b)), { timeoutMs: 90_000, intervalMs: 200, what: `${label}: both nodes ready` }).catch(
      async (err: Error) => {
        throw new Error(`${err.message}: ${await notReady(a)}; ${await notReady(b)}`, { cause: err })
      },
    )
    const readyAfterMs = Date.now() - t0
    const probeMs: number[] = []
    let ok = true
    for (const [from, to, toNode] of [
      [a, bob, b],
      [b, alice, a],
    ] as const) {
      const body = `probe ${label} ${from.node}>${Date.now()}`
      const p0 = Date.now()
      try {
        await from.bus.request(outboxSend, { to, body }, { timeoutMs: 10_000 })
        await waitUntil(async () => (await inboxBodies(toNode)).includes(body), { timeoutMs: opts.probeDeadlineMs, intervalMs: 200, what: `${label}: probe ${from.node}→${toNode.node}` })
        probeMs.push(Date.now() - p0)
      } catch (e) {
        ok = false
        report.statusLies++
        log(`${label}: both nodes said ready but ${(e as Error).message}`)
      }
    }
    report.quietChecks.push({ readyAfterMs, probeMs, ok })
    log(`${label}: ready after ${readyAfterMs} ms, probes ${probeMs.join('/')} ms${ok ? '' : ' (FAILED)'}`)
  }

  // Chaos time: wall time minus the quiet checks (the chaos is paused during them).
  let pausedMs = 0
  const chaosTime = () => Date.now() - started - pausedMs
  const killer = (async () => {
    while (chaosTime() < opts.durationMs) {
      await sleep(opts.killEveryMs * (0.5 + rand()))
      if (chaosTime() >= opts.durationMs) break
      const n = rand() < 0.5 ? a : b
      const victim = [...ACTORS, 'nats'][Math.floor(rand() * (ACTORS.length + 1))] ?? 'nats'
      const pid = victim === 'nats' ? await natsPidOf(n) : await n.status().then((s) => s.actors[victim]?.pid ?? undefined, () => undefined)
      if (!pid) {
        log(`kill: ${victim} of ${n.node} has no process now (restarting): skipped`)
        continue
      }
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        continue
      }
      const kill = { node: n.node, victim, at: chaosTime(), recoveredMs: null as number | null }
      report.kills.push(kill)
      log(`kill -9 ${victim} of ${n.node} (pid ${pid}) at ${kill.at} ms`)
      const at = Date.now()
      // Recovered: a new process runs in the victim's place and the node says every actor is ready again.
      const current = () => (victim === 'nats' ? natsPidOf(n) : n.status().then((s) => s.actors[victim]?.pid ?? undefined))
      void waitUntil(async () => {
        const now = await current()
        return now !== undefined && now !== pid && (await allReady(n))
      }, { timeoutMs: 60_000, intervalMs: 200 }).then(
        () => {
          kill.recoveredMs = Date.now() - at
        },
        () => undefined,
      )
      if (opts.quietCheckEvery > 0 && report.kills.length % opts.quietCheckEvery === 0) {
        paused = true
        const p0 = Date.now()
        await quietCheck(`after kill ${report.kills.length}`)
        pausedMs += Date.now() - p0
        paused = false
      }
    }
  })()

  await killer
  await sender
  // The end: no more kills. Both nodes must come back, and everything must arrive.
  await quietCheck('end')
  const d0 = Date.now()
  const count = (bodies: string[]) => {
    const c = new Map<string, number>()
    for (const x of bodies) c.set(x, (c.get(x) ?? 0) + 1)
    return c
  }
  /** Where each lost message stands on its sender: a failure should say why, not only that. */
  const explainLost = async (missing: string[]) => {
    for (const body of missing) {
      const sent = sentAs.get(body)
      if (!sent) continue
      const status = await sent.from.bus.request(outboxStatus, { id: sent.id }, { timeoutMs: 10_000 }).catch((e: Error) => e.message)
      log(`lost: "${body}" (${sent.id}) on ${sent.from.node}: ${JSON.stringify(status)}`)
    }
  }
  const settle = async () => {
    const got = { toA: count(await inboxBodies(a)), toB: count(await inboxBodies(b)) }
    const missing: string[] = []
    let duplicated = 0
    let delivered = 0
    for (const k of ['toA', 'toB'] as const) {
      for (const [body, kind] of expected[k]) {
        const n = got[k].get(body) ?? 0
        if (n > 1) duplicated += n - 1
        if (n >= 1) delivered++
        if (n === 0 && kind === 'sure') missing.push(body)
      }
    }
    return { lost: missing.length, missing, duplicated, delivered }
  }
  let last = await settle()
  try {
    last = await waitUntil(
      async () => {
        const s = await settle()
        last = s
        return s.lost === 0 ? s : undefined
      },
      { timeoutMs: opts.drainDeadlineMs, intervalMs: 500, what: 'every confirmed message delivered' },
    )
  } catch (e) {
    log((e as Error).message)
  }
  // Duplicates may show up late: look once more after a short while.
  await sleep(1000)
  last = await settle()
  if (last.lost > 0) await explainLost(last.missing)
  report.drainMs = Date.now() - d0
  report.lost = last.lost
  report.duplicated = last.duplicated
  report.delivered = last.delivered
  return report
}
