/**
 * A TTL cache in front of RegistryClient lookups. Names are never re-registered, so a verified
 * answer stays true; the TTL only bounds memory and staleness of "not found" answers, which are
 * kept for a shorter time. Concurrent lookups of the same key share one registry read.
 */
import { DEFAULT_CACHE_MAX, DEFAULT_CACHE_TTL_MS, DEFAULT_NEGATIVE_TTL_MS } from './constants.ts'
import { isNamingError } from './errors.ts'
import type { NameRecord } from './registry-client.ts'

/** What CachedResolver needs from a client. */
export interface Resolver {
  lookup(name: string): Promise<NameRecord>
  reverse(accountId: string): Promise<string>
}

export interface CachedResolverInit {
  /** Lifetime of a found answer. @default 60000 */
  ttlMs?: number
  /** Lifetime of a "not found" answer. @default 5000 */
  negativeTtlMs?: number
  /** Entries kept (names and account IDs together); the least recently used go first. @default 10000 */
  max?: number
  /** Clock, for tests. @default Date.now */
  now?: () => number
}

interface Entry {
  expires: number
  value?: unknown
  error?: unknown
}

export interface CacheStats {
  hits: number
  misses: number
  size: number
}

export class CachedResolver implements Resolver {
  readonly #client: Resolver
  readonly #ttl: number
  readonly #negativeTtl: number
  readonly #max: number
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #inflight = new Map<string, Promise<unknown>>()
  #hits = 0
  #misses = 0

  constructor(client: Resolver, init: CachedResolverInit = {}) {
    this.#client = client
    this.#ttl = init.ttlMs ?? DEFAULT_CACHE_TTL_MS
    this.#negativeTtl = init.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS
    this.#max = Math.max(1, init.max ?? DEFAULT_CACHE_MAX)
    this.#now = init.now ?? Date.now
  }

  lookup(name: string): Promise<NameRecord> {
    return this.#get(`n:${name}`, () => this.#client.lookup(name)) as Promise<NameRecord>
  }

  reverse(accountId: string): Promise<string> {
    const key = typeof accountId === 'string' ? accountId.toLowerCase().replace(/^0x/, '') : accountId
    return this.#get(`a:${key}`, () => this.#client.reverse(accountId)) as Promise<string>
  }

  /** Forgets one name (or every entry when called without one). */
  invalidate(name?: string): void {
    if (name === undefined) this.#entries.clear()
    else this.#entries.delete(`n:${name}`)
  }

  stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size }
  }

  async #get(key: string, load: () => Promise<unknown>): Promise<unknown> {
    const hit = this.#entries.get(key)
    if (hit && hit.expires > this.#now()) {
      this.#hits++
      // Re-insert to mark it most recently used.
      this.#entries.delete(key)
      this.#entries.set(key, hit)
      if (hit.error !== undefined) throw hit.error
      return hit.value
    }
    if (hit) this.#entries.delete(key)
    this.#misses++
    let pending = this.#inflight.get(key)
    if (!pending) {
      pending = this.#load(key, load)
      this.#inflight.set(key, pending)
    }
    return pending
  }

  async #load(key: string, load: () => Promise<unknown>): Promise<unknown> {
    try {
      const value = await load()
      this.#store(key, { expires: this.#now() + this.#ttl, value })
      return value
    } catch (error) {
      // Only "not found" is an answer; an unreachable chain or a bad input is not cached.
      if (isNamingError(error, 'not_found')) this.#store(key, { expires: this.#now() + this.#negativeTtl, error })
      throw error
    } finally {
      this.#inflight.delete(key)
    }
  }

  #store(key: string, entry: Entry): void {
    this.#entries.set(key, entry)
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
  }
}
