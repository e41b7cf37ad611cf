/** A simulation's contract: the scenario it runs (a zod schema: what the CLI and the bench accept) and the report it gives. */
import type { Logger } from '@baran/actor'
import { z } from 'zod'
import { DEFAULT_DRAIN_MS, DEFAULT_LOOKUPS, MAX_PROCESS_NODES } from './constants.ts'
import { InvalidScenarioError } from './errors.ts'
import type { ShaperStats } from './shaper.ts'
import type { Percentiles } from './stats.ts'

export const ScenarioSchema = z
  .object({
    /** Simulated nodes (each runs identity, transport, discovery and outbox inline). */
    nodes: z.number().int().min(2).max(2000),
    /** Fraction of nodes that go offline once during the run and come back. */
    churn: z.number().min(0).max(0.9),
    /** Messages sent, from random online senders to random recipients (online or not). */
    messages: z.number().int().min(0).max(100_000),
    /** The run (load and churn), after setup; the drain comes after it. */
    durationMs: z.number().int().min(1000).max(3_600_000),
    /** One-way latency added to every envelope and ack. @default 0 */
    latencyMs: z.number().int().min(0).max(10_000).default(0),
    /** Probability that an envelope (and, independently, its ack) is lost. @default 0 */
    lossRate: z.number().min(0).max(0.5).default(0),
    seed: z.number().int().default(1),
    /** How long to wait after the run for the last deliveries. @default 60000 */
    drainMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_DRAIN_MS),
    /** DHT lookups timed after setup. @default 30 */
    lookups: z.number().int().min(0).max(10_000).default(DEFAULT_LOOKUPS),
    /**
     * Worker threads the nodes are spread over (round robin); 0 runs every node in this thread. One event loop
     * runs out of CPU long before memory runs out: use as many as the machine has cores. @default 0
     */
    threads: z.number().int().min(0).max(64).default(0),
    /**
     * How a churned (or stay-offline) node goes offline: `graceful` stops its actors and closes its bus connection;
     * `sigkill` runs each such node in a child process of its own and ends it with SIGKILL (no shutdown code runs).
     * @default 'graceful'
     */
    kill: z.enum(['graceful', 'sigkill']).default('graceful'),
    /** Fraction of nodes that go offline during the run and stay offline past its end (never come back). @default 0 */
    stayOffline: z.number().min(0).max(0.5).default(0),
    /** The outbox's back-off: `sim` (SIM_BACKOFF, short) or `production` (the outbox actor's own defaults). @default 'sim' */
    backoff: z.enum(['sim', 'production']).default('sim'),
  })
  .strict()
  .refine((s) => s.churn + s.stayOffline <= 0.9, { path: ['stayOffline'], message: 'churn + stayOffline must be at most 0.9' })
  .refine((s) => s.kill !== 'sigkill' || Math.round((s.churn + s.stayOffline) * s.nodes) <= MAX_PROCESS_NODES, {
    path: ['kill'],
    message: `sigkill runs each churned or stay-offline node in a process of its own: at most ${MAX_PROCESS_NODES} of them`,
  })

export type ScenarioInit = z.input<typeof ScenarioSchema>
export type Scenario = z.output<typeof ScenarioSchema>

export interface ScenarioHooks {
  /** Progress lines (the CLI prints them). */
  onProgress?: (line: string) => void
  /** Actor logs (default: silent). */
  log?: Logger
}

export interface ScenarioReport {
  scenario: Scenario
  /** Every accepted message was delivered before the drain deadline. */
  completed: boolean
  timingsMs: {
    setup: number
    lookups: number
    run: number
    drain: number
    teardown: number
    total: number
    nodeStart: Percentiles
    nodeRestart: Percentiles
    nodeStop: Percentiles
    /** Where a node start goes: each actor's start (first starts and restarts). */
    actorStart: Record<string, Percentiles>
  }
  delivery: {
    /** outbox.send accepted (persisted by the sender's outbox). */
    accepted: number
    /** outbox.send refused or unanswered (the sender went offline meanwhile): not counted in the ratio. */
    sendFailed: number
    delivered: number
    /** delivered / accepted (1 when nothing was accepted). */
    ratio: number
    /** Accepted while the recipient was offline. */
    toOffline: number
    undelivered: string[]
    /** The first few undelivered messages' way as the bus showed it (delivery changes, presence heard, the recipient's churn). */
    trails: Record<string, string[]>
    /** Messages to or from a node that stayed offline past the run: not expected, not in the ratio. */
    toOrFromStayedOffline: { accepted: number; delivered: number }
  }
  latencyMs: {
    /** outbox.send → stored in the recipient's inbox, every message. */
    all: Percentiles
    /** … when the recipient was online at send time. */
    toOnline: Percentiles
    /** … when it was offline at send time (includes the time it stayed offline). */
    toOffline: Percentiles
    /** Offline recipients: from their presence publish after coming back to the message stored in their inbox. */
    fromPresence: Percentiles
  }
  lookups: {
    count: number
    failed: number
    latencyMs: Percentiles
    /** Not exposed by the discovery library: lookup latency stands in for it. */
    hops: null
    note: string
  }
  /** DHT rpc requests the nodes sent during the run and the drain, by method (discovery's stats). */
  dhtRpcs: {
    sent: Record<string, number>
    /** All of them over the messages accepted. */
    perMessage: number | null
    /** Nodes in a process of their own (kill runs): not counted. */
    uncountedNodes: number
    /** Discovery healths that could not be read (the counts fall short by what those nodes sent). */
    unreadHealths: number
  }
  churn: { nodes: number; offline: number; restarts: number; kill: 'graceful' | 'sigkill'; stayedOffline: number }
  /** The run's conditions in one line (also the table's first line). */
  conditions: string
  network: { latencyMs: number; lossRate: number } & ShaperStats
  memory: {
    rssBeforeBytes: number
    rssAfterSetupBytes: number
    rssPeakBytes: number
    /** (RSS after setup − RSS before) / nodes, this process only. */
    rssPerNodeBytes: number
    heapPerNodeBytes: number
    /** The shared nats-server (a separate process: JetStream memory buckets live there). */
    natsServerRssBytes: number | null
    gcExposed: boolean
  }
  /** Errors thrown out of libp2p internals (counted, not fatal in a sim), by name. */
  survivedErrors: Record<string, number>
  /** Event-loop delay (ms) over setup and run of the busiest thread (this one, or a shard): how saturated it was. */
  eventLoopDelayMs: { p50: number; p99: number; max: number }
  /** Worker threads the nodes ran in (0: all in this thread). */
  threads: number
}

/** A scenario from untrusted input, defaults filled in. Throws InvalidScenarioError naming the first bad field. */
export function parseScenario(init: unknown): Scenario {
  const parsed = ScenarioSchema.safeParse(init)
  if (parsed.success) return parsed.data
  const first = parsed.error.issues[0]
  throw new InvalidScenarioError(`invalid scenario: ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`)
}
