import { MAX_SUBSCRIPTION_TTL_MS, MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTIONS_PER_PEER, MIN_SUBSCRIPTION_TTL_MS, PUSH_CONCURRENCY, PUSH_QUEUE_MAX } from './constants.ts'
import { SubscriptionRefusedError } from './errors.ts'
import type { WatchComponents, WatchLimits } from './watch-link.ts'
import type { StoredRecord } from './store.ts'

/** Storing side: who subscribed to what, and pushing new records to them. */
export class Subscriptions {
  readonly #c: WatchComponents
  readonly #byKey = new Map<string, Map<string, number>>() // key → peer → expiresAt
  readonly #perPeer = new Map<string, number>()
  #total = 0
  readonly #limits: Required<WatchLimits>
  readonly #queue: Array<() => Promise<void>> = []
  #running = 0
  #stopped = false
  readonly #unlisten: () => void
  pushesSent = 0
  pushesFailed = 0

  constructor(c: WatchComponents, limits: WatchLimits) {
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
    const push = (peer: string): Promise<void> => this.#c.push(peer, r.key, r.value)
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

