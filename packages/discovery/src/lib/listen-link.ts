import type { Stream } from '@libp2p/interface'
import { FRAME_TIMEOUT_MS } from './constants.ts'
import { RpcFailedError } from './errors.ts'
import { type Frame, frameStream } from './frames.ts'
import type { VerifiedEntry } from './policy.ts'
import type { VerifiedDeviceList, VerifiedPresence } from './records.ts'
import type { Logger, StoredRecord } from './store.ts'

/**
 * OpenDHT-style listen over `/baran/listen/1.0.0`. A watcher asks the closest peers to a key
 * to SUBSCRIBE it for a while; each of them pushes every newer valid record it stores under
 * that key back to the watcher (a new stream per push). Watchers renew before expiry and also
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
export interface ListenLimits {
  /** @default 10_000 */
  maxSubscriptions?: number
  /** @default 256 */
  maxSubscriptionsPerPeer?: number
  /** @default 1_800_000 */
  maxTtlMs?: number
}

/** What the listen service needs from its node (peer IDs as strings). */
export interface ListenComponents {
  selfId: string
  store: {
    getRecord(key: string): Uint8Array | undefined
    onRecord(listener: (r: StoredRecord) => void, opts?: { immediate?: boolean }): () => void
  }
  policy: { verify(key: string, value: Uint8Array): VerifiedEntry }
  /** Open a `/baran/listen/1.0.0` stream to a peer. */
  openStream(peer: string, signal: AbortSignal): Promise<Stream>
  /**
   * Send one frame over a long-lived link and get the reply (the fast path). When absent, or
   * when it fails without an answer from the peer, a fresh listen stream carries the frame.
   */
  call?(peer: string, frame: Frame, signal: AbortSignal): Promise<Frame>
  /**
   * Push a stored record to a watcher over a long-lived link, as bytes (the fast path: no JSON,
   * no base64). When absent, or when it fails without an answer, a `push` frame carries it.
   */
  push?(peer: string, key: string, value: Uint8Array): Promise<void>
  /** Closest peers to a key (network lookup), nearest first. */
  closestPeers(key: string, signal: AbortSignal): Promise<string[]>
  /** Values found for a key on the network (each verified by the DHT). */
  queryValues(key: string, signal: AbortSignal): Promise<Uint8Array[]>
  now: () => number
  log?: Logger
}

/** Send one request frame and read the reply: over the node's rpc link, else on a fresh stream. */
export async function request(c: ListenComponents, peer: string, frame: Frame): Promise<Frame> {
  const signal = AbortSignal.timeout(FRAME_TIMEOUT_MS)
  if (c.call !== undefined) {
    try {
      return await c.call(peer, frame, signal)
    } catch (err) {
      // The peer answered (with an error) or time ran out: a second try on a stream would not help.
      if (signal.aborted || !(err instanceof RpcFailedError) || err.remoteCode !== undefined) throw err
    }
  }
  const stream = await c.openStream(peer, signal)
  try {
    const fs = frameStream(stream)
    await fs.write(frame)
    const reply = await fs.read()
    await stream.close({ signal }).catch(() => stream.abort(new Error('close failed')))
    return reply
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export function jittered(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2)
}

export function timer(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms)
  t.unref()
  return t
}

