import { fromBase64Url, toBase64Url } from '@baran/trust'
import type { Stream } from '@libp2p/interface'
import { bytesEqual, sha256 } from './bytes.ts'
import {
  DEFAULT_REPLICATION,
  DEFAULT_SUBSCRIPTION_TTL_MS,
  FRAME_TIMEOUT_MS,
  MAX_SUBSCRIPTION_TTL_MS,
  MAX_SUBSCRIPTIONS,
  MAX_SUBSCRIPTIONS_PER_PEER,
  MIN_SUBSCRIPTION_TTL_MS,
  PUSH_CONCURRENCY,
  PUSH_QUEUE_MAX,
  RENEW_FRACTION,
  REQUERY_MAX_MS,
  REQUERY_MIN_MS,
} from './constants.ts'
import { MalformedFrameError, RpcFailedError, SubscriptionRefusedError } from './errors.ts'
import { type Frame, frameStream } from './frames.ts'
import { deviceListKey, parseKey, presenceKey, targetKey, type WatchTarget } from './keys.ts'
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
async function request(c: ListenComponents, peer: string, frame: Frame): Promise<Frame> {
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

function jittered(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2)
}

function timer(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms)
  t.unref()
  return t
}

/** Storing side: who subscribed to what, and pushing new records to them. */
class Subscriptions {
  readonly #c: ListenComponents
  readonly #byKey = new Map<string, Map<string, number>>() // key → peer → expiresAt
  readonly #perPeer = new Map<string, number>()
  #total = 0
  readonly #limits: Required<ListenLimits>
  readonly #queue: Array<() => Promise<void>> = []
  #running = 0
  #stopped = false
  readonly #unlisten: () => void
  pushesSent = 0
  pushesFailed = 0

  constructor(c: ListenComponents, limits: ListenLimits) {
    this.#c = c
    this.#limits = {
      maxSubscriptions: limits.maxSubscriptions ?? MAX_SUBSCRIPTIONS,
      maxSubscriptionsPerPeer: limits.maxSubscriptionsPerPeer ?? MAX_SUBSCRIPTIONS_PER_PEER,
      maxTtlMs: limits.maxTtlMs ?? MAX_SUBSCRIPTION_TTL_MS,
    }
    // Immediate: the pushes leave as the record is stored, before the PUT is answered.
    this.#unlisten = c.store.onRecord((r) => this.#onStored(r), { immediate: true })
  }

  get count(): number {
    this.#prune()
    return this.#total
  }

  /** Add or renew; returns the granted life and whether it is new. Throws SubscriptionRefusedError at the limits. */
  subscribe(peer: string, key: string, ttlMs: number): { ttl: number; isNew: boolean } {
    this.#prune()
    const ttl = Math.min(Math.max(ttlMs, MIN_SUBSCRIPTION_TTL_MS), this.#limits.maxTtlMs)
    const peers = this.#byKey.get(key) ?? new Map<string, number>()
    const isNew = !peers.has(peer)
    if (isNew) {
      if (this.#total >= this.#limits.maxSubscriptions) throw new SubscriptionRefusedError('node subscription limit reached')
      if ((this.#perPeer.get(peer) ?? 0) >= this.#limits.maxSubscriptionsPerPeer) {
        throw new SubscriptionRefusedError('per-peer subscription limit reached')
      }
      this.#byKey.set(key, peers)
      this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1)
      this.#total++
    }
    peers.set(peer, this.#c.now() + ttl)
    return { ttl, isNew }
  }

  unsubscribe(peer: string, key: string): void {
    const peers = this.#byKey.get(key)
    if (peers?.delete(peer) === true) this.#forget(peer, key, peers)
  }

  #forget(peer: string, key: string, peers: Map<string, number>): void {
    this.#total--
    const n = (this.#perPeer.get(peer) ?? 1) - 1
    if (n <= 0) this.#perPeer.delete(peer)
    else this.#perPeer.set(peer, n)
    if (peers.size === 0) this.#byKey.delete(key)
  }

  #prune(): void {
    const now = this.#c.now()
    for (const [key, peers] of this.#byKey) {
      for (const [peer, expiresAt] of peers) {
        if (expiresAt <= now) {
          peers.delete(peer)
          this.#forget(peer, key, peers)
        }
      }
    }
  }

  #onStored(r: StoredRecord): void {
    const peers = this.#byKey.get(r.key)
    if (peers === undefined || this.#stopped) return
    const now = this.#c.now()
    let frame: Frame | undefined
    const asFrame = (): Frame => {
      frame ??= { t: 'push', key: r.key, value: toBase64Url(r.value) }
      return frame
    }
    const push = async (peer: string): Promise<void> => {
      if (this.#c.push !== undefined) {
        try {
          return await this.#c.push(peer, r.key, r.value)
        } catch (err) {
          // The watcher answered (with an error): a second try on a stream would not help.
          if (!(err instanceof RpcFailedError) || err.remoteCode !== undefined) throw err
        }
      }
      await request(this.#c, peer, asFrame())
    }
    for (const [peer, expiresAt] of peers) {
      if (expiresAt <= now || peer === this.#c.selfId) continue
      if (this.#queue.length >= PUSH_QUEUE_MAX) {
        this.#c.log?.warn({ key: r.key }, 'push queue full: dropping a push')
        this.pushesFailed++
        continue
      }
      this.#queue.push(() => push(peer))
    }
    this.#drain()
  }

  #drain(): void {
    while (this.#running < PUSH_CONCURRENCY && this.#queue.length > 0 && !this.#stopped) {
      const job = this.#queue.shift() as () => Promise<void>
      this.#running++
      job()
        .then(() => {
          this.pushesSent++
        })
        .catch((err) => {
          this.pushesFailed++
          this.#c.log?.debug({ err }, 'push failed')
        })
        .finally(() => {
          this.#running--
          this.#drain()
        })
    }
  }

  stop(): void {
    this.#stopped = true
    this.#queue.length = 0
    this.#unlisten()
    this.#byKey.clear()
    this.#perPeer.clear()
    this.#total = 0
  }
}

/** Everything a watcher tracks for one key, shared by every watch that names it. */
interface KeyWatch {
  key: string
  kind: VerifiedEntry['kind']
  listeners: Set<(e: WatchEvent) => void>
  lastSeq: number
  lastHash?: string
  /** The record last handed to the listeners. */
  lastBytes?: Uint8Array
  lastEvent?: WatchEvent
  subscribed: Map<string, number> // peer → expiresAt
  opts: Required<WatchOptions>
  requeryDelay: number
  /** Delay before the next lookup of the closest peers (grows up to the renewal time). */
  lookupDelay: number
  renewTimer?: NodeJS.Timeout
  requeryTimer?: NodeJS.Timeout
  abort: AbortController
}

/** Watching side: subscriptions to the closest peers, renewal, re-query, de-duplication. */
class Watches {
  readonly #c: ListenComponents
  readonly #keys = new Map<string, KeyWatch>()
  readonly #unlisten: () => void
  readonly #defaultFanout: number
  pushesReceived = 0

  constructor(c: ListenComponents, defaultFanout: number) {
    this.#c = c
    this.#defaultFanout = defaultFanout
    // This node may itself be one of the closest peers: its own store tells it first.
    this.#unlisten = c.store.onRecord((r) => {
      if (this.#keys.has(r.key)) this.#incoming(r.key, r.value, 'local')
    })
  }

  get count(): number {
    return this.#keys.size
  }

  /** Watch one key; returns a function that stops this watch. */
  watchKey(key: string, listener: (e: WatchEvent) => void, opts: WatchOptions = {}): () => void {
    let kw = this.#keys.get(key)
    if (kw === undefined) {
      const options: Required<WatchOptions> = {
        ttlMs: opts.ttlMs ?? DEFAULT_SUBSCRIPTION_TTL_MS,
        requeryMinMs: opts.requeryMinMs ?? REQUERY_MIN_MS,
        requeryMaxMs: opts.requeryMaxMs ?? REQUERY_MAX_MS,
        fanout: opts.fanout ?? this.#defaultFanout,
      }
      kw = {
        key,
        kind: parseKey(key).kind,
        listeners: new Set([listener]),
        lastSeq: -1,
        subscribed: new Map(),
        opts: options,
        requeryDelay: options.requeryMinMs,
        lookupDelay: options.requeryMinMs,
        abort: new AbortController(),
      }
      this.#keys.set(key, kw)
      this.#start(kw)
    } else {
      kw.listeners.add(listener)
      // A late watcher still learns the current record.
      const last = kw.lastEvent
      if (last !== undefined) queueMicrotask(() => listener(last))
    }
    const watched = kw
    return () => {
      watched.listeners.delete(listener)
      if (watched.listeners.size === 0) this.#stopKey(watched)
    }
  }

  #start(kw: KeyWatch): void {
    const local = this.#c.store.getRecord(kw.key)
    if (local !== undefined) this.#incoming(kw.key, local, 'local')
    void this.#subscribe(kw)
    this.#scheduleRequery(kw)
  }

  /**
   * Subscribe to the closest peers of the key. Known peers are renewed directly first (no lookup,
   * so a renewal lands in milliseconds); then a lookup follows churn and adds new closest peers.
   */
  async #subscribe(kw: KeyWatch): Promise<void> {
    if (kw.abort.signal.aborted) return
    let granted = Number.POSITIVE_INFINITY
    let wanted = 1
    const subscribeTo = async (peers: string[]): Promise<void> => {
      const results = await Promise.allSettled(
        peers.map(async (peer) => {
          const reply = await request(this.#c, peer, { t: 'sub', key: kw.key, ttlMs: kw.opts.ttlMs })
          if (reply.t !== 'ok') throw new SubscriptionRefusedError(reply.t === 'err' ? reply.message : 'unexpected reply')
          if (kw.abort.signal.aborted) {
            // unwatched while this subscription was on its way: take it back
            request(this.#c, peer, { t: 'unsub', key: kw.key }).catch(() => {})
            return
          }
          const ttl = reply.ttlMs ?? 0
          kw.subscribed.set(peer, this.#c.now() + ttl)
          granted = Math.min(granted, ttl)
          if (reply.value !== undefined) this.#incoming(kw.key, fromBase64Url(reply.value), 'subscribe')
        }),
      )
      results.forEach((r, i) => {
        if (r.status === 'rejected') {
          kw.subscribed.delete(peers[i] as string)
          this.#c.log?.debug({ err: r.reason, key: kw.key, peer: peers[i] }, 'subscription failed')
        }
      })
    }
    try {
      await subscribeTo([...kw.subscribed.keys()])
      const signal = AbortSignal.any([kw.abort.signal, AbortSignal.timeout(FRAME_TIMEOUT_MS * 2)])
      const closest = (await this.#c.closestPeers(kw.key, signal)).filter((p) => p !== this.#c.selfId).slice(0, kw.opts.fanout)
      wanted = closest.length
      await subscribeTo(closest.filter((p) => !kw.subscribed.has(p)))
      // Peers that are no longer among the closest (churn) stop being renewed.
      if (closest.length >= kw.opts.fanout) {
        for (const peer of [...kw.subscribed.keys()]) {
          if (closest.includes(peer)) continue
          kw.subscribed.delete(peer)
          request(this.#c, peer, { t: 'unsub', key: kw.key }).catch(() => {})
        }
      }
    } catch (err) {
      this.#c.log?.debug({ err, key: kw.key }, 'subscribe lookup failed')
    }
    if (kw.abort.signal.aborted) return
    // Renew before the shortest grant runs out. Look the closest peers up again sooner at first
    // (a node that just joined sees few peers), backing off up to the renewal time; and soon
    // again while some closest peer refused or failed.
    const renewAt = Number.isFinite(granted) ? granted * RENEW_FRACTION : kw.opts.requeryMinMs
    let next = Math.min(renewAt, jittered(kw.lookupDelay))
    kw.lookupDelay = Math.min(kw.lookupDelay * 2, Math.max(renewAt, kw.opts.requeryMinMs))
    if (kw.subscribed.size < wanted) next = Math.min(next, jittered(kw.opts.requeryMinMs))
    clearTimeout(kw.renewTimer)
    kw.renewTimer = timer(() => void this.#subscribe(kw), Math.max(next, 100))
  }

  #scheduleRequery(kw: KeyWatch): void {
    clearTimeout(kw.requeryTimer)
    kw.requeryTimer = timer(() => void this.#requery(kw), jittered(kw.requeryDelay))
  }

  async #requery(kw: KeyWatch): Promise<void> {
    if (kw.abort.signal.aborted) return
    try {
      const signal = AbortSignal.any([kw.abort.signal, AbortSignal.timeout(FRAME_TIMEOUT_MS * 2)])
      for (const value of await this.#c.queryValues(kw.key, signal)) this.#incoming(kw.key, value, 'query')
    } catch (err) {
      this.#c.log?.debug({ err, key: kw.key }, 're-query failed')
    }
    if (kw.abort.signal.aborted) return
    kw.requeryDelay = Math.min(kw.requeryDelay * 2, kw.opts.requeryMaxMs)
    this.#scheduleRequery(kw)
  }

  /** A push arrived from `from`: only for keys this node watches. */
  onPush(from: string, key: string, value: Uint8Array): void {
    if (!this.#keys.has(key)) {
      this.#c.log?.debug({ from, key }, 'push for a key not watched')
      return
    }
    this.pushesReceived++
    this.#incoming(key, value, 'push')
  }

  /** Verify, de-duplicate and hand a record to the key's listeners. */
  #incoming(key: string, value: Uint8Array, via: Via): void {
    const kw = this.#keys.get(key)
    if (kw === undefined) return
    // Every storing node pushes the same record: the same bytes again need no second check.
    if (kw.lastBytes !== undefined && bytesEqual(kw.lastBytes, value)) return
    let entry: VerifiedEntry
    try {
      entry = this.#c.policy.verify(key, value)
    } catch (err) {
      this.#c.log?.debug({ err, key, via }, 'dropped an invalid record')
      return
    }
    let event: WatchEvent
    if (entry.kind === 'value') {
      const hash = toBase64Url(sha256(value))
      if (hash === kw.lastHash) return
      kw.lastHash = hash
      const v = entry.value
      event = { kind: 'value', key, via, value: v.kind === 'data' ? v.data : undefined, expiresAt: v.expiresAt }
    } else {
      if (entry.seq <= kw.lastSeq) return
      kw.lastSeq = entry.seq
      event =
        entry.kind === 'presence'
          ? { kind: 'presence', key, via, presence: entry.presence }
          : { kind: 'device-list', key, via, deviceList: entry.deviceList }
    }
    kw.lastEvent = event
    kw.lastBytes = value
    for (const listener of kw.listeners) {
      try {
        listener(event)
      } catch (err) {
        this.#c.log?.warn({ err, key }, 'watch listener threw')
      }
    }
  }

  #stopKey(kw: KeyWatch): void {
    kw.abort.abort()
    clearTimeout(kw.renewTimer)
    clearTimeout(kw.requeryTimer)
    this.#keys.delete(kw.key)
    // Tell the storing peers, best effort: their grants expire anyway.
    for (const peer of kw.subscribed.keys()) {
      request(this.#c, peer, { t: 'unsub', key: kw.key }).catch(() => {})
    }
    kw.subscribed.clear()
  }

  stop(): void {
    this.#unlisten()
    for (const kw of [...this.#keys.values()]) {
      kw.abort.abort()
      clearTimeout(kw.renewTimer)
      clearTimeout(kw.requeryTimer)
    }
    this.#keys.clear()
  }
}

/** The listen protocol of one node: storing side, watching side and the stream handler. */
export class ListenService {
  readonly #c: ListenComponents
  readonly subscriptions: Subscriptions
  readonly watches: Watches

  constructor(c: ListenComponents, init: { limits?: ListenLimits; fanout?: number } = {}) {
    this.#c = c
    this.subscriptions = new Subscriptions(c, init.limits ?? {})
    this.watches = new Watches(c, init.fanout ?? DEFAULT_REPLICATION)
  }

  /** A record a storing peer pushed to this node (over the node's fast path). */
  onPush(from: string, key: string, value: Uint8Array): void {
    this.watches.onPush(from, parseKey(key).key, value)
  }

  /**
   * Watch a key, a device's presence or an account. An account watch follows its device list
   * and the presence of every device on it (revoked devices excluded), adjusting as it changes.
   */
  watch(target: WatchTarget, onEvent: (e: WatchEvent) => void, opts: WatchOptions = {}): () => void {
    if (typeof target === 'object' && target !== null && 'accountId' in target) return this.#watchAccount(target.accountId, onEvent, opts)
    return this.watches.watchKey(targetKey(target), onEvent, opts)
  }

  #watchAccount(accountId: string, onEvent: (e: WatchEvent) => void, opts: WatchOptions): () => void {
    const devices = new Map<string, () => void>()
    let stopped = false
    const stopList = this.watches.watchKey(
      deviceListKey(accountId),
      (e) => {
        onEvent(e)
        if (e.kind !== 'device-list' || stopped) return
        const revoked = new Set(e.deviceList.revocations?.devices ?? [])
        const wanted = new Set(e.deviceList.devices.map((d) => d.deviceId).filter((d) => !revoked.has(d)))
        for (const [deviceId, stop] of devices) {
          if (!wanted.has(deviceId)) {
            stop()
            devices.delete(deviceId)
          }
        }
        for (const deviceId of wanted) {
          if (!devices.has(deviceId)) devices.set(deviceId, this.watches.watchKey(presenceKey(deviceId), onEvent, opts))
        }
      },
      opts,
    )
    return () => {
      stopped = true
      stopList()
      for (const stop of devices.values()) stop()
      devices.clear()
    }
  }

  /** Stream handler for `/baran/listen/1.0.0`: one request frame, one reply, close. */
  async handle(stream: Stream, remotePeer: string): Promise<void> {
    const fs = frameStream(stream)
    try {
      const frame = await fs.read()
      await fs.write(this.answer(remotePeer, frame))
      await stream.close({ signal: AbortSignal.timeout(FRAME_TIMEOUT_MS) })
    } catch (err) {
      // Malformed frames, timeouts and resets end this stream only.
      this.#c.log?.debug({ err, peer: remotePeer }, 'listen stream failed')
      stream.abort(err instanceof Error ? err : new MalformedFrameError())
    }
  }

  /** The reply to one request frame from `peer`; a refusal is an `err` frame. */
  answer(peer: string, frame: Frame): Frame {
    try {
      return this.#answer(peer, frame)
    } catch (err) {
      const e = err as Error & { code?: unknown }
      return { t: 'err', code: typeof e.code === 'string' ? e.code.slice(0, 64) : 'error', message: e.message.slice(0, 512) }
    }
  }

  #answer(peer: string, frame: Frame): Frame {
    switch (frame.t) {
      case 'sub': {
        const key = parseKey(frame.key).key
        const { ttl, isNew } = this.subscriptions.subscribe(peer, key, frame.ttlMs)
        // A new subscriber learns what is stored now; a renewal does not (pushes cover changes).
        const value = isNew ? this.#c.store.getRecord(key) : undefined
        return value === undefined ? { t: 'ok', ttlMs: ttl } : { t: 'ok', ttlMs: ttl, value: toBase64Url(value) }
      }
      case 'unsub':
        this.subscriptions.unsubscribe(peer, parseKey(frame.key).key)
        return { t: 'ok' }
      case 'push':
        this.watches.onPush(peer, parseKey(frame.key).key, fromBase64Url(frame.value))
        return { t: 'ok' }
      default:
        throw new MalformedFrameError(`unexpected ${frame.t} frame`)
    }
  }

  stop(): void {
    this.watches.stop()
    this.subscriptions.stop()
  }
}
