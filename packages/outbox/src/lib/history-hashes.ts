import { decodeEntry, type HistoryEntry } from './history-entry.ts'
import { encodeSnapshot, readSnapshot, SNAPSHOT_FIRST_KEY, SNAPSHOT_PREFIX } from './history-hash-snapshot.ts'
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
  /** Resolves when the writes in flight now have ended (so memory holds what the bucket holds up to now). */
  settled(): Promise<void>
}

/** Entries per ranged read of the first load. */
const RANGE_READ = 1000
/** Hashes changed since the snapshot before a new one is written: at least this many, and a tenth of all. */
const SNAPSHOT_AFTER = 1000

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
  /** Every conversation is in memory (a full pass ended): a conversation not there yet begins with its first write. */
  #complete = false
  /** Hashes changed since the snapshot in the bucket was taken (or since the load, with none). */
  #changed = 0
  /** Messages whose hashes are in memory. */
  #messages = 0
  /** Chunks of the snapshot last read or written (the ones past a shorter new one are deleted). */
  #chunksStored = 0
  #snapshotting: Promise<void> | undefined
  /** Moves when the snapshot is dropped: a write that began before then must not leave one behind. */
  #generation = 0
  /** Deletions under way (`holdSnapshots`). */
  #holds = 0

  constructor(init: SyncHashesInit) {
    this.#init = init
  }

  /** A message was written (`e`) or removed (undefined). */
  set(peer: string, id: string, e: HistoryEntry | undefined): void {
    this.#dirty?.add(`${peer}.${id}`)
    let h = this.#byPeer.get(peer)
    if (!h && this.#complete && e && !this.#begunDuringLoad.has(peer)) {
      h = { byId: new Map() }
      this.#byPeer.set(peer, h)
    }
    if (!h) return
    this.#changed++
    if (e) {
      if (!h.byId.has(id)) this.#messages++
      h.byId.set(id, entryHash(e))
    } else if (h.byId.delete(id)) this.#messages--
    delete h.items
    delete h.summary
  }

  clear(): void {
    this.#byPeer.clear()
    this.#begunDuringLoad.clear()
    this.#complete = false
    this.#messages = 0
    this.#generation++
  }

  /**
   * Writes a new snapshot in the background when enough changed since the last one (called when a sync asks for
   * the summaries: a device that syncs keeps its restart cheap). A write that fails is tried again next time.
   */
  maybeSnapshot(): void {
    const kv = this.#init.kv
    if (!isOrdered(kv) || !this.#complete || this.#snapshotting || this.#holds > 0 || this.#messages === 0) return
    if (this.#changed < Math.max(SNAPSHOT_AFTER, this.#messages / 10)) return
    this.#snapshotting = this.#writeSnapshot(kv)
      .catch(() => undefined)
      .finally(() => {
        this.#snapshotting = undefined
      })
  }

  /**
   * While messages are being deleted (a deletion does not show in a ranged read): no snapshot is written, one being
   * written is dropped when it ends, and `dropSnapshot` removes the one in the bucket. Returns the release.
   */
  holdSnapshots(): () => void {
    this.#holds++
    this.#generation++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#holds--
    }
  }

  /** Before the first message is deleted (inside `holdSnapshots`): no snapshot may claim it after a restart. */
  async dropSnapshot(): Promise<void> {
    this.#generation++
    // Nothing to read back after a restart until the next one is written.
    this.#changed = Number.MAX_SAFE_INTEGER
    await this.#init.kv.delete(SNAPSHOT_FIRST_KEY)
  }

  /** Resolves when a snapshot being written has been (tests, a clean stop). */
  async snapshotWritten(): Promise<void> {
    await this.#snapshotting
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
      this.#messages += h.byId.size
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
      const { chunks, snapshot } = await readSnapshot(kv)
      if (chunks > 0) this.#chunksStored = chunks
      const usable = snapshot && snapshot.seq <= st.lastRevision ? snapshot : undefined
      for (const [peer, byId] of usable?.byPeer ?? []) all.set(peer, { byId })
      let replayed = 0
      const read = (from: number) => {
        const p = from <= st.lastRevision ? kv.range(from, RANGE_READ, st.lastRevision) : Promise.resolve([])
        // Awaited in the next round; if hashing this one throws first, its failure must not go unhandled.
        p.catch(() => undefined)
        return p
      }
      let next = read(Math.max(1, st.firstRevision, usable ? usable.seq + 1 : 1))
      for (let round = 0; round < 10_000_000; round++) {
        const chunk = await next
        if (chunk.length === 0) break
        // The next part is on its way while this one is hashed.
        next = read(chunk.at(-1)!.revision + 1)
        for (const e of chunk) {
          if (!e.key.startsWith('m.')) continue
          replayed++
          const entry = decodeEntry(e.value)
          if (!entry) {
            // Rewritten since the snapshot into something unreadable: its old hash no longer holds.
            const [, peer, id] = e.key.split('.')
            if (peer && id) all.get(peer)?.byId.delete(id)
            continue
          }
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
      this.#complete = true
      this.#messages = [...this.#byPeer.values()].reduce((n, h) => n + h.byId.size, 0)
      // Without a snapshot, or after a long replay, write one now (in the background: the sync goes on).
      this.#changed = usable ? replayed : Number.MAX_SAFE_INTEGER
      this.maybeSnapshot()
    } finally {
      this.#dirty = undefined
    }
  }

  /**
   * A snapshot of memory, covering the bucket up to the revision read first: every write that got a revision at or
   * below it had been sent before that answer came, so it has ended (and is in memory) once `settled` resolves.
   */
  async #writeSnapshot(kv: OrderedKvStore): Promise<void> {
    const { lastRevision } = await kv.state()
    await this.#init.settled()
    // A conversation that began during the load and was not read since is not in memory: no snapshot without it.
    if (!this.#complete || this.#loadingAll || this.#holds > 0 || [...this.#begunDuringLoad].some((p) => !this.#byPeer.has(p))) return
    const generation = this.#generation
    const changed = this.#changed
    const byPeer = new Map([...this.#byPeer].map(([peer, h]) => [peer, h.byId]))
    const chunks = encodeSnapshot(byPeer, lastRevision)
    // The first chunk last: a reader that finds it finds the others of the same snapshot (or rejects the mix).
    for (let n = chunks.length - 1; n >= 0; n--) await kv.put(`${SNAPSHOT_PREFIX}${n}`, chunks[n]!)
    if (generation !== this.#generation) {
      await kv.delete(SNAPSHOT_FIRST_KEY)
      return
    }
    for (let n = chunks.length; n < this.#chunksStored; n++) await kv.delete(`${SNAPSHOT_PREFIX}${n}`).catch(() => undefined)
    this.#chunksStored = chunks.length
    this.#changed = Math.max(0, this.#changed - changed)
  }
}

function isOrdered(kv: KvStore | OrderedKvStore): kv is OrderedKvStore {
  return typeof (kv as Partial<OrderedKvStore>).range === 'function' && typeof (kv as Partial<OrderedKvStore>).state === 'function'
}
