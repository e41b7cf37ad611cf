import { isConflict, type KvStore } from './kv.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Idempotency keys of sends, kept in their own bucket (with the server's TTL, e.g. 24 h) so that a retry is
 * recognised across crashes and restarts. A key maps to the message ID it was first given; the key is written
 * BEFORE the message, so a crash in between leaves a key whose message the retry then creates with that ID.
 */
export class IdempotencyKeys {
  #kv: KvStore

  constructor(kv: KvStore) {
    this.#kv = kv
  }

  /**
   * The message ID for `key`: `proposed` if this is the key's first use, else the ID its first use claimed
   * (a concurrent retry that lost the race gets the winner's).
   */
  async claim(key: string, proposed: string): Promise<{ id: string; first: boolean }> {
    const known = await this.#kv.get(key)
    if (known) return { id: decoder.decode(known.value), first: false }
    try {
      await this.#kv.create(key, encoder.encode(proposed))
      return { id: proposed, first: true }
    } catch (e) {
      if (!isConflict(e)) throw e
      const winner = await this.#kv.get(key)
      if (!winner) throw e
      return { id: decoder.decode(winner.value), first: false }
    }
  }
}
