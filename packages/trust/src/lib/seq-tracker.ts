import { SEQ_TRACKER_MAX_KEYS } from './constants.ts'
import { MalformedRecordError, ReplayedRecordError } from './errors.ts'

/** Options of SeqTracker. */
export interface SeqTrackerInit {
  /** Keys remembered before the least recently used is forgotten. @default 100_000 */
  maxKeys?: number
}

/**
 * Last accepted seq per key (the caller picks the key, e.g. `${type}:${signer}`), in memory,
 * bounded: a Map kept in use order is the LRU. Call check() before acting on a record and
 * accept() once it has been verified and used.
 */
export class SeqTracker {
  readonly #maxKeys: number
  readonly #last = new Map<string, number>()

  constructor(init: SeqTrackerInit = {}) {
    this.#maxKeys = init.maxKeys ?? SEQ_TRACKER_MAX_KEYS
    if (!Number.isSafeInteger(this.#maxKeys) || this.#maxKeys < 1) throw new MalformedRecordError('maxKeys must be a positive integer')
  }

  /** Throws ReplayedRecordError if seq is not greater than the last accepted seq for key. */
  check(key: string, seq: number): void {
    const last = this.#last.get(key)
    if (last !== undefined && !(seq > last)) throw new ReplayedRecordError(`seq ${seq} <= last seen ${last} for ${key}`)
  }

  /** Remember seq for key (never moves backwards) and mark key as recently used. */
  accept(key: string, seq: number): void {
    if (!Number.isSafeInteger(seq)) throw new MalformedRecordError('seq must be a safe integer')
    const last = this.#last.get(key)
    this.#last.delete(key)
    this.#last.set(key, last !== undefined && last > seq ? last : seq)
    if (this.#last.size > this.#maxKeys) {
      // Map iterates in insertion order: the first key is the least recently accepted.
      const oldest = this.#last.keys().next().value
      if (oldest !== undefined) this.#last.delete(oldest)
    }
  }

  /** Last accepted seq for key, if it is still remembered. */
  last(key: string): number | undefined {
    return this.#last.get(key)
  }

  /** Number of keys remembered. */
  get size(): number {
    return this.#last.size
  }
}
