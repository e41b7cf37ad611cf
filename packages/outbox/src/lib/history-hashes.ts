import { decodeEntry, type HistoryEntry } from './history-entry.ts'
import { type ConversationSummary, entryHash, type SyncItem } from './history-sync.ts'
import type { KvStore, OrderedKvStore } from './kv.ts'

/** Sync hashes of one conversation, with its sorted items and summary computed when first asked after a change. */
export interface Hashes {
  byId: Map<string, string>
  items?: SyncItem[]
  summary?: ConversationSummary
}

export interface SyncHashesInit {
  /** With `range` and `state` (an ordered bucket), the first load reads every message once in stream order. */
  kv: KvStore | OrderedKvStore
  /** Every message of one conversation. */
  conversation(peer: string): Promise<HistoryEntry[]>
  /** Runs `fn` in the conversation's write chain (so no write slips between reading it and caching what was read). */
  serial<T>(peer: string, fn: () => Promise<T>): Promise<T>
  entry(peer: string, id: string): Promise<HistoryEntry | undefined>
}

/** Entries per ranged read of the first load. */
const RANGE_READ = 1000

/**
 * The `entryHash` of every message of the conversations sync has looked at, in memory (~150 bytes a message), kept
 * up to date by every write (`set`), so a sync with nothing new costs no read at all.
 */
export class SyncHashes {
  #init: SyncHashesInit
  #byPeer = new Map<string, Hashes>()
  /** While every conversation is read in one pass: the messages written meanwhile (read again at its end). */
  #dirty: Set<string> | undefined
  #loadingAll: Promise<void> | undefined
  /** Conversations whose first message was written while every conversation was being loaded. */
  #begunDuringLoad = new Set<string>()

  constructor(init: SyncHashesInit) {
    this.#init = init
  }

  /** A message was written (`e`) or removed (undefined). */
  set(peer: string, id: string, e: HistoryEntry | undefined): void {
    this.#dirty?.add(`${peer}.${id}`)
    const h = this.#byPeer.get(peer)
    if (!h) return
    if (e) h.byId.set(id, entryHash(e))
    else h.byId.delete(id)
    delete h.items
    delete h.summary
  }

  clear(): void {
    this.#byPeer.clear()
    this.#begunDuringLoad.clear()
  }

  /**
   * Before anything is loaded, with a bucket read in one pass: loads every conversation and returns the ones it saw
   * (a sync wants them all; listing the keys first would read every key once more). Otherwise undefined.
   */
  async loadAll(): Promise<string[] | undefined> {
    const kv = this.#init.kv
    if (!isOrdered(kv) || this.#byPeer.size > 0) return undefined
    await this.#loadAllOnce(kv)
    return [...new Set([...this.#byPeer.keys(), ...this.#begunDuringLoad])]
  }

  /** A conversation's hashes: on the first call of all, every conversation in one pass when the bucket allows it. */
  async load(peer: string): Promise<Hashes> {
    const known = this.#byPeer.get(peer)
    if (known) return known
    const kv = this.#init.kv
    if (isOrdered(kv) && this.#byPeer.size === 0) {
      await this.#loadAllOnce(kv)
      const loaded = this.#byPeer.get(peer)
      if (loaded) return loaded
    }
    return this.#init.serial(peer, async () => {
      const entries = await this.#init.conversation(peer)
      const again = this.#byPeer.get(peer)
      if (again) return again
      const h: Hashes = { byId: new Map(entries.map((e) => [e.id, entryHash(e)])) }
      this.#byPeer.set(peer, h)
      return h
    })
  }

  #loadAllOnce(kv: OrderedKvStore): Promise<void> {
    this.#loadingAll ??= this.#loadAll(kv).finally(() => {
      this.#loadingAll = undefined
    })
    return this.#loadingAll
  }

  /** Every conversation in one pass over the stream in write order (a ranged read costs far less than a get each). */
  async #loadAll(kv: OrderedKvStore): Promise<void> {
    this.#dirty = new Set()
    try {
      const st = await kv.state()
      const all = new Map<string, Hashes>()
      const read = (from: number) => {
        const p = from <= st.lastRevision ? kv.range(from, RANGE_READ, st.lastRevision) : Promise.resolve([])
        // Awaited in the next round; if hashing this one throws first, its failure must not go unhandled.
        p.catch(() => undefined)
        return p
      }
      let next = read(Math.max(1, st.firstRevision))
      for (let round = 0; round < 10_000_000; round++) {
        const chunk = await next
        if (chunk.length === 0) break
        // The next part is on its way while this one is hashed.
        next = read(chunk.at(-1)!.revision + 1)
        for (const e of chunk) {
          const entry = e.key.startsWith('m.') ? decodeEntry(e.value) : undefined
          if (!entry) continue
          let h = all.get(entry.peer)
          if (!h) {
            h = { byId: new Map() }
            all.set(entry.peer, h)
          }
          h.byId.set(entry.id, entryHash(entry))
        }
      }
      const dirty = [...this.#dirty].map((k) => k.split('.') as [string, string])
      for (const [peer, h] of all) if (!this.#byPeer.has(peer)) this.#byPeer.set(peer, h)
      this.#dirty = undefined
      // Written while the pass ran: what it read of them may be older. Read them again. A conversation that began
      // meanwhile is loaded when it is first asked for, and counted among the ones seen.
      for (const [peer, id] of dirty) {
        if (this.#byPeer.has(peer)) this.set(peer, id, await this.#init.entry(peer, id))
        else this.#begunDuringLoad.add(peer)
      }
    } finally {
      this.#dirty = undefined
    }
  }
}

function isOrdered(kv: KvStore | OrderedKvStore): kv is OrderedKvStore {
  return typeof (kv as Partial<OrderedKvStore>).range === 'function' && typeof (kv as Partial<OrderedKvStore>).state === 'function'
}
