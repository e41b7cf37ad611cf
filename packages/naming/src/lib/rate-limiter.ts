/**
 * Per-client token buckets: each client may spend `perMinute` requests in a burst, refilled
 * evenly over a minute. The table is bounded: the least recently seen clients are forgotten.
 */
import { RATE_LIMIT_MAX_CLIENTS } from './constants.ts'

interface Bucket {
  tokens: number
  at: number
}

export class RateLimiter {
  readonly #capacity: number
  readonly #perMs: number
  readonly #maxClients: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  constructor(init: { perMinute: number; maxClients?: number; now?: () => number }) {
    if (!(init.perMinute > 0)) throw new RangeError('perMinute must be positive')
    this.#capacity = init.perMinute
    this.#perMs = init.perMinute / 60_000
    this.#maxClients = init.maxClients ?? RATE_LIMIT_MAX_CLIENTS
    this.#now = init.now ?? Date.now
  }

  /** Takes one token for `client`; returns 0 when allowed, else the milliseconds until the next token. */
  take(client: string): number {
    const now = this.#now()
    const b = this.#buckets.get(client) ?? { tokens: this.#capacity, at: now }
    this.#buckets.delete(client) // re-inserted below: most recently seen last
    b.tokens = Math.min(this.#capacity, b.tokens + (now - b.at) * this.#perMs)
    b.at = now
    let wait = 0
    if (b.tokens >= 1) b.tokens -= 1
    else wait = Math.ceil((1 - b.tokens) / this.#perMs)
    this.#buckets.set(client, b)
    if (this.#buckets.size > this.#maxClients) {
      const oldest = this.#buckets.keys().next().value
      if (oldest !== undefined) this.#buckets.delete(oldest)
    }
    return wait
  }
}
