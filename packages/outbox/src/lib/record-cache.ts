/**
 * The last version of each outbox record this process wrote, with its KV revision: an update can then be sent
 * straight away with that revision (one JetStream round trip instead of a read and a write), and a delivery
 * attempt needs no read to get the body. The revision check still guards every write: if anyone else wrote the
 * record in between, the update fails with a conflict and the store reads the record again.
 *
 * Bounded by bytes (bodies are up to 64 KiB): past the budget the oldest entries are dropped, which only costs
 * those records a read again.
 */
export interface CachedRecord<T> {
  record: T
  revision: number
  bytes: number
}

/** Bytes of records kept by default: a burst of ~16k small messages, or 256 of the largest. */
export const RECORD_CACHE_BYTES = 16 * 1024 * 1024

export class RecordCache<T> {
  #entries = new Map<string, CachedRecord<T>>()
  #bytes = 0
  #max: number

  constructor(maxBytes = RECORD_CACHE_BYTES) {
    this.#max = maxBytes
  }

  get size(): number {
    return this.#entries.size
  }

  get bytes(): number {
    return this.#bytes
  }

  get(id: string): CachedRecord<T> | undefined {
    return this.#entries.get(id)
  }

  set(id: string, record: T, revision: number, bytes: number): void {
    this.delete(id)
    if (bytes > this.#max) return
    this.#entries.set(id, { record, revision, bytes })
    this.#bytes += bytes
    for (const [oldest, e] of this.#entries) {
      if (this.#bytes <= this.#max) break
      this.#entries.delete(oldest)
      this.#bytes -= e.bytes
    }
  }

  delete(id: string): void {
    const e = this.#entries.get(id)
    if (!e) return
    this.#entries.delete(id)
    this.#bytes -= e.bytes
  }
}
