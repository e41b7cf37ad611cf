import { HISTORY_INDEX_MAX_IDS, MAX_REPLY_BYTES, UPDATE_RETRIES } from './constants.ts'
import { UpdateConflictError } from './errors.ts'
import {
  decodeEntry,
  type HistoryDevice,
  type HistoryEntry,
  HistoryEntrySchema,
  type HistoryInput,
  mergeEntries,
  newEntry,
  safeJson,
  sameEntry,
  toMessage,
} from './history-entry.ts'
import { ConversationIndex, type HistoryPage, type HistoryPageOptions, lowerBound, pageEdges, pageWindow } from './history-index.ts'
import { SyncHashes } from './history-hashes.ts'
import { type ConversationSummary, type SyncItem, summarizeConversation } from './history-sync.ts'
import { isMessageId, messageIdTime } from './ids.ts'
import { RecordCache } from './record-cache.ts'
import { createMany, encodeJsonValue, getMany, isConflict, type KvStore, type OrderedKvStore } from './kv.ts'

export type { HistoryInput, HistoryMessage } from './history-entry.ts'
export type { HistoryPage, HistoryPageOptions } from './history-index.ts'

/**
 * The account's message history on this device: every message it sent or received, both directions, one
 * JetStream KV entry per message, keyed `m.<peer>.<message id>` (peer = the other account), so a conversation
 * is one subject filter and message IDs (time-sortable) order it. Delivery states and read markers are merged
 * in place. Nothing here is removed because it was delivered: only `prune(retentionMs)`, when the node's
 * configuration asks for it, removes messages older than that.
 *
 * Beside the messages: `h.<peer>.<device>` = the last message ID this device sent in the conversation (the next
 * message's `prev`), and `g.<peer>.<id>` = a message that a stored `prev` names but that is not here (a gap).
 * Writes to one conversation run one at a time in this process (a page of them together), so gap bookkeeping
 * never races with itself; the conversation's IDs and gaps are then known in memory.
 */
export interface HistoryInit {
  /** With `range` and `state` (an ordered bucket), the first sync reads every message once in stream order. */
  kv: KvStore | OrderedKvStore
  now?: () => number
  /** Message IDs of conversations kept in memory for paging. @default HISTORY_INDEX_MAX_IDS */
  maxIndexedIds?: number
}

const GAPS_SHOWN = 100
/** Reads or writes sent at once for a batch of messages. */
const BATCH = 512
/** Entries a page reads at a time before it checks its size cut. */
const PAGE_READ = 100
/** Bytes of recently written entries kept with their revision (bodies make the size): a few thousand small ones. */
const WRITTEN_CACHE_BYTES = 4 * 1024 * 1024
/** What an entry's ids, devices and times take besides its body, roughly. */
const WRITTEN_ENTRY_OVERHEAD = 512

export class HistoryStore {
  #kv: KvStore
  #now: () => number
  #index: ConversationIndex
  #chains = new Map<string, Promise<unknown>>()
  /** Last sent ID per `<peer>.<device>` (loaded from `h.` keys once). */
  #heads = new Map<string, string | undefined>()
  /** Gap IDs per conversation (loaded from `g.` keys once per conversation written to). */
  #gaps = new Map<string, Set<string>>()
  /** Sync hashes of conversations read for sync, kept up to date by every write. */
  #hashes: SyncHashes
  #peers: Set<string> | undefined
  /**
   * The last version of each entry this process wrote, with its revision: a delivery or read patch that follows
   * a send then needs no read (the revision check still guards the write; a conflict reads the entry again).
   */
  #written = new RecordCache<HistoryEntry>(WRITTEN_CACHE_BYTES)

  constructor(init: HistoryInit) {
    this.#kv = init.kv
    this.#now = init.now ?? Date.now
    this.#index = new ConversationIndex(init.maxIndexedIds ?? HISTORY_INDEX_MAX_IDS)
    this.#hashes = new SyncHashes({
      kv: init.kv,
      conversation: async (peer) => this.entries(peer, await this.ids(peer)),
      serial: (peer, fn) => this.#serial(peer, fn),
      entry: (peer, id) => this.entry(peer, id),
      settled: async () => {
        await Promise.allSettled([...this.#chains.values()])
      },
    })
  }

  /**
   * The `prev` of a message this device is about to send to `peer`: the last one it sent there, which `id`
   * then replaces (in memory; `recordSent` makes it durable). An ID not above the last one (an idempotent
   * retry) gets no link and moves nothing.
   */
  claimPrev(peer: string, device: string, id: string): Promise<string | undefined> {
    return this.#serial(`h.${peer}.${device}`, async () => {
      const head = await this.#head(peer, device)
      if (head !== undefined && id <= head) return undefined
      this.#heads.set(`${peer}.${device}`, id)
      return head
    })
  }

  /** Undoes a claim whose message was not stored after all (so the next message does not point at it). */
  releasePrev(peer: string, device: string, id: string, prev: string | undefined): void {
    const key = `${peer}.${device}`
    if (this.#heads.get(key) === id) this.#heads.set(key, prev)
  }

  /** A message this device sent (its record is persisted). Idempotent. */
  async recordSent(m: HistoryInput, recipientDevices: string[] = []): Promise<void> {
    const entry: HistoryEntry = {
      ...newEntry(m, m.to, 'out', this.#now()),
      ...(recipientDevices.length ? { devices: recipientDevices.map((deviceId) => ({ deviceId, state: 'queued' as const })) } : {}),
    }
    await this.#serial(m.to, () => this.#upsertMany(m.to, [entry]))
    await this.#serial(`h.${m.to}.${m.fromDevice}`, async () => {
      const head = await this.#head(m.to, m.fromDevice)
      // The claim moved the head to this ID; a message sent by an earlier version (no claim) moves it here.
      if (head === undefined || m.id >= head) {
        await this.#kv.put(`h.${m.to}.${m.fromDevice}`, encodeJsonValue({ id: m.id }))
        this.#heads.set(`${m.to}.${m.fromDevice}`, m.id)
      }
    })
  }

  /**
   * A message the inbox stored: from another account (`in`), or a copy of what this account sent from another
   * of its devices (`out`, to its recipient). Idempotent.
   */
  async recordReceived(m: HistoryInput & { receivedAt: number }, self: string): Promise<void> {
    const peer = m.from === self ? m.to : m.from
    await this.#serial(peer, () => this.#upsertMany(peer, [newEntry(m, peer, m.from === self ? 'out' : 'in', m.receivedAt)]))
  }

  /** A recipient device's delivery reached a final state. */
  delivery(peer: string, id: string, deviceId: string, state: HistoryDevice['state'], at: number): Promise<void> {
    return this.#patch(peer, id, { devices: [{ deviceId, state, at }] })
  }

  /** A recipient device's user read a message this account sent. */
  readBy(peer: string, id: string, deviceId: string, at: number): Promise<void> {
    return this.#patch(peer, id, { devices: [{ deviceId, state: 'delivered', at, readAt: at }] })
  }

  /** This account read a received message. */
  markRead(peer: string, id: string, at: number): Promise<void> {
    return this.#patch(peer, id, { readAt: at })
  }

  /** Merges other devices' copies of messages (device sync). Idempotent; returns how many changed something here. */
  async mergeCopies(entries: readonly HistoryEntry[]): Promise<number> {
    const byPeer = new Map<string, HistoryEntry[]>()
    for (const e of entries) {
      const parsed = HistoryEntrySchema.parse(e)
      const list = byPeer.get(parsed.peer)
      if (list) list.push(parsed)
      else byPeer.set(parsed.peer, [parsed])
    }
    let changed = 0
    for (const [peer, list] of byPeer) changed += await this.#serial(peer, () => this.#upsertMany(peer, list))
    return changed
  }

  /** One stored message, as kept (undefined when absent). */
  async entry(peer: string, id: string): Promise<HistoryEntry | undefined> {
    const e = await this.#kv.get(`m.${peer}.${id}`)
    return e ? decodeEntry(e.value) : undefined
  }

  /** The stored copies of some messages of a conversation (absent ones left out), BATCH reads at a time. */
  async entries(peer: string, ids: readonly string[]): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = []
    for (let i = 0; i < ids.length; i += BATCH) {
      for (const e of await getMany(
        this.#kv,
        ids.slice(i, i + BATCH).map((id) => `m.${peer}.${id}`),
      )) {
        const entry = e ? decodeEntry(e.value) : undefined
        if (entry) out.push(entry)
      }
    }
    return out
  }

  /** The sorted message IDs of a conversation (listed once, then kept in memory). */
  ids(peer: string): Promise<readonly string[]> {
    return this.#index.get(peer, async () => (await this.#kv.keys(`m.${peer}.*`)).map((k) => k.slice(k.lastIndexOf('.') + 1)))
  }

  /** The conversations this device holds (listed once, then kept in memory). */
  async peers(): Promise<string[]> {
    if (!this.#peers) {
      const keys = await this.#kv.keys('m.*.*')
      this.#peers = new Set([...(this.#peers ?? []), ...keys.map((k) => k.split('.')[1]!)])
    }
    return [...this.#peers].sort()
  }

  /**
   * The `{ id, hash }` of every message of a conversation, in ID order (what device sync compares). The first call
   * per conversation reads its messages; later ones cost nothing (every write keeps them up to date).
   */
  async syncItems(peer: string): Promise<SyncItem[]> {
    const h = await this.#hashes.load(peer)
    h.items ??= [...h.byId.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, hash]) => ({ id, hash }))
    return h.items
  }

  /** Whether this device holds a message of the conversation (the sync hashes in memory: no sort, no read). */
  async holding(peer: string): Promise<(id: string) => boolean> {
    const h = await this.#hashes.load(peer)
    return (id) => h.byId.has(id)
  }

  /** Every conversation's count, high-water mark and digest (what a device announces to its own other devices). */
  async summaries(): Promise<ConversationSummary[]> {
    const out: ConversationSummary[] = []
    // Unlisted yet: the first load of every conversation's hashes lists them too.
    if (!this.#peers) {
      const seen = await this.#hashes.loadAll()
      if (seen && !this.#peers) this.#peers = new Set(seen)
    }
    for (const peer of await this.peers()) {
      const h = await this.#hashes.load(peer)
      h.summary ??= summarizeConversation(peer, await this.syncItems(peer))
      out.push(h.summary)
    }
    this.#hashes.maybeSnapshot()
    return out
  }

  /**
   * A page of a conversation in ID order: the first `limit` messages (or the ones after `after`), or with
   * `before` the `limit` just before it. Costs the page (one read per message) once the conversation's IDs are
   * in memory; cut short by size like the inbox's pages.
   */
  async page(peer: string, opts: HistoryPageOptions = {}): Promise<HistoryPage> {
    const ids = await this.ids(peer)
    const w = pageWindow(ids, opts)
    // Read in parts and stop at the size cut: a page of large (sealed) messages costs what it shows, not `limit`.
    const shown: HistoryEntry[] = []
    let bytes = 0
    cut: for (let i = 0; i < w.order.length; i += PAGE_READ) {
      for (const e of await this.entries(peer, w.order.slice(i, i + PAGE_READ))) {
        const size = (e.body ?? e.sealed ?? '').length * 3 + 400
        if (shown.length > 0 && bytes + size > MAX_REPLY_BYTES) break cut
        bytes += size
        shown.push(e)
      }
    }
    if (w.backward) shown.reverse()
    const messages = shown.map(toMessage)
    const gaps = [...(await this.#gapSet(peer))].sort()
    return { messages, total: ids.length, gaps: gaps.slice(0, GAPS_SHOWN), ...pageEdges(ids, w, messages[0]?.id, messages.at(-1)?.id) }
  }

  /** Removes messages older than `retentionMs` (by the time in their ID). Only runs when a retention is configured. */
  async prune(retentionMs: number): Promise<number> {
    const cutoff = this.#now() - retentionMs
    let removed = 0
    // The hashes' snapshot would not see these deletions after a restart: none is written meanwhile, the last dropped.
    const release = this.#hashes.holdSnapshots()
    try {
      for (const key of await this.#kv.keys('m.*.*')) {
        const [, peer, id] = key.split('.')
        if (!peer || !id || !isMessageId(id) || messageIdTime(id) >= cutoff) continue
        if (removed === 0) await this.#hashes.dropSnapshot()
        await this.#serial(peer, async () => {
          await this.#kv.delete(key)
          this.#written.delete(key)
          this.#index.remove(peer, id)
          this.#hashes.set(peer, id, undefined)
        })
        removed++
      }
    } finally {
      release()
    }
    return removed
  }

  /** Resolves when a snapshot of the sync hashes being written has been (tests, benchmarks). */
  hashesSaved(): Promise<void> {
    return this.#hashes.snapshotWritten()
  }

  /** JetStream came back after an outage: read again what memory holds of it. */
  reset(): void {
    this.#index.clear()
    this.#heads.clear()
    this.#gaps.clear()
    this.#hashes.clear()
    this.#peers = undefined
  }

  // ---- writes (each inside its conversation's chain) ----

  /** Creates or merges entries of one conversation, then keeps its gaps right; returns how many changed. */
  async #upsertMany(peer: string, entries: HistoryEntry[]): Promise<number> {
    const [ids, gaps] = await Promise.all([this.ids(peer), this.#gapSet(peer)])
    let changed = 0
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH)
      // Most are new here (a backfill): create them all at once; merge the ones that exist one by one.
      const created = await createMany(
        this.#kv,
        batch.map((e) => ({ key: `m.${e.peer}.${e.id}`, value: encodeJsonValue(e) })),
      )
      const merged = await Promise.all(
        batch.map((e, j) => {
          const r = created[j]
          if (typeof r === 'number') {
            this.#hashes.set(e.peer, e.id, e)
            this.#wrote(e, r)
            return true
          }
          if (!isConflict(r)) throw r
          return this.#upsert(e)
        }),
      )
      changed += merged.filter(Boolean).length
    }
    this.#peers?.add(peer)
    const writes: Array<Promise<unknown>> = []
    for (const e of entries) {
      this.#index.add(peer, e.id)
      // This message may be one a later message named as missing.
      if (gaps.delete(e.id)) writes.push(this.#kv.delete(`g.${peer}.${e.id}`))
    }
    const batch = new Set(entries.map((e) => e.id))
    for (const e of entries) {
      if (!e.prev || gaps.has(e.prev) || batch.has(e.prev) || ids[lowerBound(ids, e.prev)] === e.prev) continue
      gaps.add(e.prev)
      writes.push(this.#kv.put(`g.${peer}.${e.prev}`, encodeJsonValue({ by: e.id })))
    }
    await Promise.all(writes)
    return changed
  }

  /** Creates one entry (one write when it is new), or merges it into the stored one. */
  async #upsert(entry: HistoryEntry): Promise<boolean> {
    const key = `m.${entry.peer}.${entry.id}`
    for (let i = 0; i <= UPDATE_RETRIES; i++) {
      try {
        this.#wrote(entry, await this.#kv.create(key, encodeJsonValue(entry)))
        this.#hashes.set(entry.peer, entry.id, entry)
        return true
      } catch (e) {
        if (!isConflict(e)) throw e
      }
      const current = await this.#kv.get(key)
      if (!current) continue // deleted in between: create again
      const known = decodeEntry(current.value)
      const merged = known ? mergeEntries(known, entry) : entry
      if (known && sameEntry(known, merged)) {
        // Nothing new; the hash in memory may be behind the bucket (a create that timed out after it was stored).
        this.#hashes.set(entry.peer, entry.id, known)
        return false
      }
      try {
        const stored = { ...merged, updatedAt: this.#now() }
        this.#wrote(stored, await this.#kv.update(key, encodeJsonValue(stored), current.revision))
        this.#hashes.set(entry.peer, entry.id, merged)
        return true
      } catch (e) {
        if (!isConflict(e)) throw e
      }
    }
    throw new UpdateConflictError(`history entry ${key} kept changing`)
  }

  /** Merges a partial update into an existing entry (nothing when the message is not in the history). */
  #patch(peer: string, id: string, patch: Partial<Pick<HistoryEntry, 'devices' | 'readAt'>>): Promise<void> {
    const key = `m.${peer}.${id}`
    return this.#serial(peer, async () => {
      // the version this process wrote last, if it has it; a write in between makes the update conflict and the loop read
      let cached = this.#written.get(key)
      for (let reads = 0; reads <= UPDATE_RETRIES; ) {
        let known: HistoryEntry | undefined
        let revision: number
        if (cached) {
          known = cached.record
          revision = cached.revision
          cached = undefined
        } else {
          reads++
          const current = await this.#kv.get(key)
          known = current && decodeEntry(current.value)
          if (!current || !known) return
          revision = current.revision
        }
        const merged = mergeEntries(known, { ...known, devices: patch.devices ?? [], ...(patch.readAt === undefined ? {} : { readAt: patch.readAt }) })
        if (sameEntry(known, merged)) return
        try {
          const stored = { ...merged, updatedAt: this.#now() }
          this.#wrote(stored, await this.#kv.update(key, encodeJsonValue(stored), revision))
          this.#hashes.set(peer, id, merged)
          return
        } catch (e) {
          this.#written.delete(key)
          if (!isConflict(e)) throw e
        }
      }
      throw new UpdateConflictError(`history entry ${peer}/${id} kept changing`)
    })
  }

  /** Remembers the version of an entry this process just wrote (its size counted as its body and a little more). */
  #wrote(entry: HistoryEntry, revision: number): void {
    this.#written.set(`m.${entry.peer}.${entry.id}`, entry, revision, WRITTEN_ENTRY_OVERHEAD + (entry.body?.length ?? 0) * 2)
  }

  // ---- what memory keeps of the bucket ----

  async #gapSet(peer: string): Promise<Set<string>> {
    let gaps = this.#gaps.get(peer)
    if (!gaps) {
      gaps = new Set((await this.#kv.keys(`g.${peer}.*`)).map((k) => k.slice(k.lastIndexOf('.') + 1)))
      this.#gaps.set(peer, this.#gaps.get(peer) ?? gaps)
    }
    return this.#gaps.get(peer)!
  }

  async #head(peer: string, device: string): Promise<string | undefined> {
    const key = `${peer}.${device}`
    if (!this.#heads.has(key)) {
      const e = await this.#kv.get(`h.${peer}.${device}`)
      const v = e ? (safeJson(e.value) as { id?: unknown } | undefined) : undefined
      if (!this.#heads.has(key)) this.#heads.set(key, isMessageId(v?.id) ? v.id : undefined)
    }
    return this.#heads.get(key)
  }

  /** Runs `fn` after every earlier call with the same key (one conversation's writes, one batch at a time). */
  #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#chains.get(key) ?? Promise.resolve()
    const run = prev.catch(() => undefined).then(fn)
    this.#chains.set(key, run)
    const done = () => {
      if (this.#chains.get(key) === run) this.#chains.delete(key)
    }
    run.then(done, done)
    return run
  }
}
