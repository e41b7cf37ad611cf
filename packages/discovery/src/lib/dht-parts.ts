import type { KadInternals } from './kad-internals.ts'
import type { DiscoveryLibp2p } from './libp2p-stack.ts'
import type { RecordPolicy } from './policy.ts'
import type { Routing } from './routing.ts'
import type { Rpc } from './rpc.ts'
import type { Logger, VerifiedRecordStore } from './store.ts'

/**
 * What the parts of a discovery node (routing, get, put, serving, watch) share: its host, rules,
 * store and links. `rpc` and `lifecycle` are read at each use: a restart makes new ones.
 */
export interface DhtParts {
  readonly libp2p: DiscoveryLibp2p
  readonly policy: RecordPolicy
  readonly store: VerifiedRecordStore
  readonly kad: KadInternals
  readonly routing: Routing
  /** Closest peers a put stores on and a watch subscribes to. */
  readonly replication: number
  readonly log?: Logger
  /** kad-dht messages this node sent (its requests, and each peer its queries asked). */
  readonly kadMessages: { count: number }
  /** Rpc requests this node sent, by method, since it was made (every Rpc it runs counts here). */
  readonly rpcSent: Map<number, number>
  rpc(): Rpc
  /** Aborted by stop(): ends background work (late PUTs, lookups). */
  lifecycle(): AbortSignal
  /** The node's query timeout unless the caller gave one (ms). */
  queryTimeoutMs(timeoutMs?: number): number
}
