/**
 * Answers of a network lookup by key, shared by the callers that ask while it runs and reused for a short while once
 * found. A node's actors ask for the same account's device list several times around one message (the sending
 * outbox, then each transport at the handshake, then the receiving outbox for the sender's revocations); each ask was
 * a DHT get of its own. A miss or a failure is never kept; `forget` drops a key whose record changed here.
 */
export class RecentLookups<V> {
  readonly #reuseMs: number
  readonly #max: number
  readonly #now: () => number
  readonly #entries = new Map<string, { answer: Promise<V | undefined>; foundAt?: number }>()

  constructor(init: { reuseMs: number; max: number; now?: () => number }) {
    this.#reuseMs = init.reuseMs
    this.#max = init.max
    this.#now = init.now ?? Date.now
  }

  /** The answer for `key`: the one in flight, a found one younger than reuseMs, or `lookup()`'s. */
  get(key: string, lookup: () => Promise<V | undefined>): Promise<V | undefined> {
    const known = this.#entries.get(key)
    if (known !== undefined && (known.foundAt === undefined || this.#now() - known.foundAt < this.#reuseMs)) return known.answer
    const entry: { answer: Promise<V | undefined>; foundAt?: number } = { answer: Promise.resolve(undefined) }
    const drop = (): void => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key)
    }
    entry.answer = lookup().then(
      (v) => {
        if (v === undefined) drop()
        else entry.foundAt = this.#now()
        return v
      },
      (e: unknown) => {
        drop()
        throw e
      },
    )
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string)
    return entry.answer
  }

  forget(key: string): void {
    this.#entries.delete(key)
  }

  get size(): number {
    return this.#entries.size
  }
}
