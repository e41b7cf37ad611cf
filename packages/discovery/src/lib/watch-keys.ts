import { withDeadline } from '@baran/actor/deadline'
import { Backoff } from '@baran/actor/recurring'
import { fromBase64Url, toBase64Url } from '@baran/trust'
import { bytesEqual, sha256 } from './bytes.ts'
import { DEFAULT_SUBSCRIPTION_TTL_MS, FRAME_TIMEOUT_MS, RENEW_FRACTION, REQUERY_MAX_MS, REQUERY_MIN_MS } from './constants.ts'
import { SubscriptionRefusedError } from './errors.ts'
import { parseKey } from './keys.ts'
import { jittered, type WatchComponents, request, timer, type Via, type WatchEvent, type WatchOptions } from './watch-link.ts'
import type { VerifiedEntry } from './policy.ts'

/** Different records with the same seq reported for one key (more is a signer misbehaving, not a race). */
const MAX_RECORDS_AT_ONE_SEQ = 4
/** Tries at telling a storing peer a watch ended (one lost leaves it pushing to us until its grant runs out). */
const UNSUB_ATTEMPTS = 3
const UNSUB_RETRY_MS = 1_000
/** From a peer joining a node that was alone to its watches' next round (a moment for the peers joining with it). */
const WAKE_DELAY_MS = 100

/** Everything a watcher tracks for one key, shared by every watch that names it. */
interface KeyWatch {
  key: string
  kind: VerifiedEntry['kind']
  listeners: Set<(e: WatchEvent) => void>
  lastSeq: number
  /**
   * Hashes of the records handed on at lastSeq. Two devices of an account may sign different lists with the same
   * seq at once; the storing nodes then hold either one. Each is reported (a bounded few), so the device that sees
   * the other's can merge them into a newer list instead of the two staying apart.
   */
  atLastSeq: Set<string>
  lastHash?: string
  /** The record last handed to the listeners. */
  lastBytes?: Uint8Array
  lastEvent?: WatchEvent
  /** Peer → when its grant is due for renewal (RENEW_FRACTION into it, counted from its arrival). */
  subscribed: Map<string, number>
  opts: Required<WatchOptions>
  /** Re-query delays: requeryMinMs doubling to requeryMaxMs, each one at random in [½, 1) of it. */
  requery: Backoff
  /** Delay before the next lookup of the closest peers (grows up to the renewal time). */
  lookupDelay: number
  /** Time from a grant to its renewal, as the last grant set it. */
  renewEvery?: number
  /** The closest peers the last lookup found. */
  lastClosest?: string[]
  /** Rounds again sooner, while some closest peer refused or failed: requeryMinMs doubling to requeryMaxMs. */
  retry: Backoff
  /** The last lookup found no peer at all (this node is alone): the next round waits for one to join. */
  alone: boolean
  renewTimer?: NodeJS.Timeout
  requeryTimer?: NodeJS.Timeout
  abort: AbortController
}

/** Watching side: subscriptions to the closest peers, renewal, re-query, de-duplication. */
export class Watches {
  readonly #c: WatchComponents
  readonly #keys = new Map<string, KeyWatch>()
  readonly #unlisten: () => void
  readonly #unpeer: () => void
  readonly #defaultFanout: number
  #stopped = false
  pushesReceived = 0

  constructor(c: WatchComponents, defaultFanout: number) {
    this.#c = c
    this.#defaultFanout = defaultFanout
    // This node may itself be one of the closest peers: its own store tells it first.
    this.#unlisten = c.store.onRecord((r) => {
      if (this.#keys.has(r.key)) this.#incoming(r.key, r.value, 'local')
    })
    this.#unpeer = c.onPeerAdded?.(() => this.#wakeAlone()) ?? (() => {})
  }

  /**
   * A peer joined: the keys whose last lookup found nobody round again now, their back-offs reset (a node alone backs
   * off up to requeryMaxMs between rounds; without this, its watches would notice the network only that late).
   */
  #wakeAlone(): void {
    for (const kw of this.#keys.values()) {
      if (!kw.alone || kw.abort.signal.aborted) continue
      kw.alone = false
      kw.lookupDelay = kw.opts.requeryMinMs
      kw.retry.reset()
      kw.requery.reset()
      clearTimeout(kw.renewTimer)
      kw.renewTimer = timer(() => void this.#subscribe(kw), WAKE_DELAY_MS)
      clearTimeout(kw.requeryTimer)
      kw.requeryTimer = timer(() => void this.#requery(kw), WAKE_DELAY_MS)
    }
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
        atLastSeq: new Set(),
        subscribed: new Map(),
        opts: options,
        requery: new Backoff({ initialMs: options.requeryMinMs, maxMs: options.requeryMaxMs, jitter: 0.5, spread: 'down' }),
        lookupDelay: options.requeryMinMs,
        retry: new Backoff({ initialMs: options.requeryMinMs, maxMs: options.requeryMaxMs, jitter: 0.5, spread: 'down' }),
        alone: false,
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
   * A round of subscriptions to the closest peers of the key. Grants due for renewal are renewed directly first (no
   * lookup, so a renewal lands in milliseconds); then a lookup follows churn and subscribes to new closest peers.
   */
  async #subscribe(kw: KeyWatch): Promise<void> {
    if (kw.abort.signal.aborted) return
    let short = kw.subscribed.size === 0
    let settled = false
    const subscribeTo = async (peers: string[]): Promise<void> => {
      const results = await Promise.allSettled(
        peers.map(async (peer) => {
          const reply = await request(this.#c, peer, { t: 'sub', key: kw.key, ttlMs: kw.opts.ttlMs })
          if (reply.t !== 'ok') throw new SubscriptionRefusedError(reply.t === 'err' ? reply.message : 'unexpected reply')
          if (kw.abort.signal.aborted) {
            // unwatched while this subscription was on its way: take it back
            this.#unsubscribe(peer, kw.key)
            return
          }
          // Timed from each grant's arrival, not from the end of the round, whose lookup may take longer than a short
          // grant leaves (all of them lapsed under load).
          kw.renewEvery = (reply.ttlMs ?? 0) * RENEW_FRACTION
          kw.subscribed.set(peer, this.#c.now() + kw.renewEvery)
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
      // Grants due within a quarter of a renewal period are renewed together (grants that came moments apart are
      // renewed in one round, not one round each); a grant just given is not asked for again.
      const horizon = this.#c.now() + (kw.renewEvery ?? 0) / 4
      await subscribeTo([...kw.subscribed].filter(([, renewAt]) => renewAt <= horizon).map(([peer]) => peer))
      const found = await withDeadline(FRAME_TIMEOUT_MS * 2, [kw.abort.signal], (signal) => this.#c.closestPeers(kw.key, signal))
      const closest = found.filter((p) => p !== this.#c.selfId).slice(0, kw.opts.fanout)
      // The same full set twice in a row: the lookup has nothing more to find until churn, so the next one waits for
      // the renewal. (Sooner lookups are for a node that just joined: its table is thin and its answers change.)
      settled = closest.length >= kw.opts.fanout && sameMembers(closest, kw.lastClosest)
      kw.lastClosest = closest
      // (Not when the table has peers that are merely unreachable for now, nor without word of peers joining: nothing
      // would wake the watch.)
      kw.alone = closest.length === 0 && kw.subscribed.size === 0 && this.#c.onPeerAdded !== undefined && (this.#c.alone?.() ?? true)
      await subscribeTo(closest.filter((p) => !kw.subscribed.has(p)))
      short = closest.some((p) => !kw.subscribed.has(p)) || kw.subscribed.size === 0
      // Peers that are no longer among the closest (churn) stop being renewed.
      if (closest.length >= kw.opts.fanout) {
        for (const peer of [...kw.subscribed.keys()]) {
          if (closest.includes(peer)) continue
          kw.subscribed.delete(peer)
          this.#unsubscribe(peer, kw.key)
        }
      }
    } catch (err) {
      short = kw.subscribed.size === 0
      kw.alone = false
      this.#c.log?.debug({ err, key: kw.key }, 'subscribe lookup failed')
    }
    if (kw.abort.signal.aborted) return
    // The next round: at the first renewal due, or the next lookup (backing off up to the renewal period), or sooner
    // again (backing off too) while some closest peer refused or failed.
    const renewEvery = Math.max(kw.renewEvery ?? 0, kw.opts.requeryMinMs)
    const now = this.#c.now()
    let next = settled ? renewEvery : jittered(kw.lookupDelay)
    // Alone, nothing to renew: the lookups back off up to requeryMaxMs (a peer joining wakes them), not every second.
    kw.lookupDelay = settled ? renewEvery : Math.min(kw.lookupDelay * 2, kw.alone ? Math.max(renewEvery, kw.opts.requeryMaxMs) : renewEvery)
    for (const renewAt of kw.subscribed.values()) next = Math.min(next, renewAt - now)
    if (short) next = Math.min(next, kw.retry.next())
    else kw.retry.reset()
    clearTimeout(kw.renewTimer)
    kw.renewTimer = timer(() => void this.#subscribe(kw), Math.max(next, 100))
  }

  #scheduleRequery(kw: KeyWatch): void {
    clearTimeout(kw.requeryTimer)
    kw.requeryTimer = timer(() => void this.#requery(kw), kw.requery.next())
  }

  async #requery(kw: KeyWatch): Promise<void> {
    if (kw.abort.signal.aborted) return
    try {
      const values = await withDeadline(FRAME_TIMEOUT_MS * 2, [kw.abort.signal], (signal) => this.#c.queryValues(kw.key, signal))
      for (const value of values) this.#incoming(kw.key, value, 'query')
    } catch (err) {
      this.#c.log?.debug({ err, key: kw.key }, 're-query failed')
    }
    if (kw.abort.signal.aborted) return
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
      if (entry.seq < kw.lastSeq) return
      const hash = toBase64Url(sha256(value))
      if (entry.seq === kw.lastSeq && (kw.atLastSeq.has(hash) || kw.atLastSeq.size >= MAX_RECORDS_AT_ONE_SEQ)) return
      if (entry.seq > kw.lastSeq) kw.atLastSeq.clear()
      kw.lastSeq = entry.seq
      kw.atLastSeq.add(hash)
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
      this.#unsubscribe(peer, kw.key)
    }
    kw.subscribed.clear()
  }

  /** Tells `peer` to drop this node's subscription to `key`, again a little later if that fails (a loaded peer). */
  #unsubscribe(peer: string, key: string, attempt = 1): void {
    // Not after a stop, nor once this node subscribed there again (a new watch of the key, the peer closest again).
    const wanted = () => !this.#stopped && this.#keys.get(key)?.subscribed.has(peer) !== true
    request(this.#c, peer, { t: 'unsub', key }).catch(() => {
      if (attempt >= UNSUB_ATTEMPTS || !wanted()) return
      timer(() => {
        if (wanted()) this.#unsubscribe(peer, key, attempt + 1)
      }, UNSUB_RETRY_MS * attempt)
    })
  }

  stop(): void {
    this.#stopped = true
    this.#unlisten()
    this.#unpeer()
    for (const kw of [...this.#keys.values()]) {
      kw.abort.abort()
      clearTimeout(kw.renewTimer)
      clearTimeout(kw.requeryTimer)
    }
    this.#keys.clear()
  }
}

/** Whether two peer lists name the same peers (in any order). */
function sameMembers(a: string[], b: string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((p) => b.includes(p))
}
