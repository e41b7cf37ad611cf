/** Messages between the scenario (main thread) and its shard workers. */
import type { SimNode } from './node.ts'
import type { ShaperStats } from './shaper.ts'

/** `sim`: SIM_BACKOFF (short, fits a bounded run); `production`: the outbox actor's own defaults. */
export type BackoffChoice = 'sim' | 'production'

/** Known libp2p errors thrown from its own microtasks, not from any call of ours (counted, not fatal in a sim). */
export const SURVIVABLE_ERRORS = new Set(['StreamStateError'])

/** workerData of a shard. */
export interface ShardInit {
  natsUrl: string
  root: string
  latencyMs: number
  lossRate: number
  seed: number
  /** The outbox's back-off: the sim's short one (default) or production's own defaults. */
  backoff?: BackoffChoice
}

export type ShardRequest =
  | { id: number; op: 'start'; name: string; bootstrap: string[] }
  | { id: number; op: 'stop'; name: string }
  | { id: number; op: 'dhtAddrs'; name: string }
  | { id: number; op: 'stats' }

/** What the main thread mirrors of a node living in a shard. */
export interface NodeState {
  accountId: string
  online: boolean
  startMs: number[]
  stopMs: number[]
  actorStartMs: Record<string, number[]>
}

export type ShardReply =
  | { id: number; ok: true; value: unknown; node?: NodeState }
  | { id: number; ok: false; error: { name: string; message: string }; node?: NodeState }

export interface ShardStats {
  heapUsed: number
  shaper: ShaperStats
  survived: Record<string, number>
  eventLoopDelayMs: { p50: number; p99: number; max: number }
  /** DHT rpc requests the shard's nodes sent so far, by method, and discovery healths that could not be read. */
  rpcSent: Record<string, number>
  rpcUnread: number
}

export function stateOf(node: SimNode): NodeState {
  return { accountId: node.accountId, online: node.online, startMs: node.startMs, stopMs: node.stopMs, actorStartMs: node.actorStartMs }
}
