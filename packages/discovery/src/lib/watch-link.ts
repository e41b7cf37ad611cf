import { FRAME_TIMEOUT_MS } from './constants.ts'
import type { Frame } from './frames.ts'
import type { VerifiedEntry } from './policy.ts'
import type { VerifiedDeviceList, VerifiedPresence } from './records.ts'
import type { Logger, StoredRecord } from './store.ts'

/**
 * OpenDHT-style listen, over the node's rpc links (watch frames, and pushes as bytes). A
 * watcher asks the closest peers to a key to SUBSCRIBE it for a while; each of them pushes
 * every newer valid record it stores under that key back to the watcher. Watchers renew before expiry and also
 * re-query the key with back-off, so a lost push only delays an update.
 */

/** How a watcher learnt of a record. */
export type Via = 'push' | 'subscribe' | 'query' | 'local'

/** What a watch callback receives: each verified record once (per seq; per content for values). */
export type WatchEvent =
  | { kind: 'presence'; key: string; via: Via; presence: VerifiedPresence }
  | { kind: 'device-list'; key: string; via: Via; deviceList: VerifiedDeviceList }
  /** value is undefined when the writer deleted it (a tombstone). */
  | { kind: 'value'; key: string; via: Via; value: Uint8Array | undefined; expiresAt: number }

/** Options of one watch. */
export interface WatchOptions {
  /** Subscription life to ask for. @default 600_000 */
  ttlMs?: number
  /** Re-query back-off bounds. @default 1000 / 60_000 */
  requeryMinMs?: number
  requeryMaxMs?: number
  /** How many of the closest peers to subscribe to. @default the node's replication (8) */
  fanout?: number
}

/** Storing-side limits. */
export interface WatchLimits {
  /** @default 10_000 */
  maxSubscriptions?: number
  /** @default 256 */
  maxSubscriptionsPerPeer?: number
  /** @default 1_800_000 */
  maxTtlMs?: number
}

/** What the watch service needs from its node (peer IDs as strings). */
export interface WatchComponents {
  selfId: string
  store: {
    getRecord(key: string): Uint8Array | undefined
    onRecord(listener: (r: StoredRecord) => void, opts?: { immediate?: boolean }): () => void
  }
  policy: { verify(key: string, value: Uint8Array): VerifiedEntry }
  /** Send one frame over the node's rpc link to a peer and get the reply. */
  call(peer: string, frame: Frame, signal: AbortSignal): Promise<Frame>
  /** Push a stored record to a watcher over the node's rpc link, as bytes (no JSON, no base64). */
  push(peer: string, key: string, value: Uint8Array): Promise<void>
  /** Closest peers to a key (network lookup), nearest first. */
  closestPeers(key: string, signal: AbortSignal): Promise<string[]>
  /** Values found for a key on the network (each verified by the DHT). */
  queryValues(key: string, signal: AbortSignal): Promise<Uint8Array[]>
  /** Calls `listener` when a peer enters the routing table; returns an unsubscribe. (Without it, no watch backs off as alone.) */
  onPeerAdded?(listener: () => void): () => void
  /** The routing table is empty. Without it, a lookup that found nobody counts as alone. */
  alone?(): boolean
  now: () => number
  log?: Logger
}

/** Send one request frame and read the reply, over the node's rpc link. */
export function request(c: WatchComponents, peer: string, frame: Frame): Promise<Frame> {
  return c.call(peer, frame, AbortSignal.timeout(FRAME_TIMEOUT_MS))
}

export function jittered(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2)
}

export function timer(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms)
  t.unref()
  return t
}

