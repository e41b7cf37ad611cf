import { InvalidMessageIdError } from './errors.ts'
import type { HistoryMessage } from './history-entry.ts'
import { isMessageId } from './ids.ts'

/**
 * The message IDs of recently used conversations, sorted, in memory. JetStream has no ordered key index, so the
 * first read of a conversation lists its keys once (its IDs only, no bodies: the server filters on the
 * conversation's subject), and every later page is a binary search plus one read per message of the page. Writes
 * keep a loaded conversation's list up to date. Bounded: past `maxIds` IDs in all, the least recently used
 * conversations are dropped (they are listed again when next read).
 */
export class ConversationIndex {
  #lists = new Map<string, string[]>()
  #loading = new Map<string, Promise<string[]>>()
  /** IDs written while their conversation was being listed (the listing may have missed them). */
  #during = new Map<string, Set<string>>()
  #maxIds: number
  #ids = 0

  constructor(maxIds: number) {
    this.#maxIds = maxIds
  }

  /** The sorted IDs of a conversation, listed with `list` the first time. */
  async get(peer: string, list: () => Promise<string[]>): Promise<string[]> {
    const known = this.#lists.get(peer)
    if (known) {
      // Most recently used last.
      this.#lists.delete(peer)
      this.#lists.set(peer, known)
      return known
    }
    let loading = this.#loading.get(peer)
    if (!loading) {
      this.#during.set(peer, new Set())
      loading = list().then((ids) => [...new Set([...ids, ...(this.#during.get(peer) ?? [])])].sort())
      this.#loading.set(peer, loading)
    }
    try {
      const ids = await loading
      if (!this.#lists.has(peer)) {
        for (const id of this.#during.get(peer) ?? []) if (ids[lowerBound(ids, id)] !== id) ids.splice(lowerBound(ids, id), 0, id)
        this.#lists.set(peer, ids)
        this.#ids += ids.length
        this.#evict(peer)
      }
      return this.#lists.get(peer)!
    } finally {
      this.#loading.delete(peer)
      this.#during.delete(peer)
    }
  }

  /** Adds an ID to a loaded conversation (no-op when not loaded: its next listing sees it). */
  add(peer: string, id: string): void {
    const ids = this.#lists.get(peer)
    if (!ids) {
      this.#during.get(peer)?.add(id)
      return
    }
    const at = lowerBound(ids, id)
    if (ids[at] === id) return
    ids.splice(at, 0, id)
    this.#ids++
    this.#evict(peer)
  }

  remove(peer: string, id: string): void {
    const ids = this.#lists.get(peer)
    if (!ids) return
    const at = lowerBound(ids, id)
    if (ids[at] !== id) return
    ids.splice(at, 1)
    this.#ids--
  }

  /** Forgets everything (JetStream came back after an outage: what it holds may differ). */
  clear(): void {
    this.#lists.clear()
    this.#ids = 0
  }

  #evict(keep: string): void {
    for (const [peer, ids] of this.#lists) {
      if (this.#ids <= this.#maxIds) break
      if (peer === keep) continue
      this.#lists.delete(peer)
      this.#ids -= ids.length
    }
  }
}

/** The first index whose ID is ≥ `id`. */
export function lowerBound(ids: readonly string[], id: string): number {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid]! < id) lo = mid + 1
    else hi = mid
  }
  return lo
}

export interface HistoryPageOptions {
  /** Only messages with IDs below this one (the page just before it). */
  before?: string
  /** Only messages with IDs above this one. */
  after?: string
  /** @default 100 */
  limit?: number
}

export interface HistoryPage {
  messages: HistoryMessage[]
  /** Messages in the conversation. */
  total: number
  /** IDs a stored message names as its sender's previous one but that this device does not hold. */
  gaps: string[]
  /** Whether older / newer messages exist beyond this page (page on with `before: messages[0].id` / `after: messages.at(-1).id`). */
  hasBefore: boolean
  hasAfter: boolean
}

/** Which of a conversation's sorted IDs a page may show: `ids[lo, hi)`, in the order to read them. */
export interface PageWindow {
  lo: number
  hi: number
  /** A page before an ID (and not after one) reads back from it, so a size cut keeps the messages nearest to it. */
  backward: boolean
  order: readonly string[]
}

/** The window of a page (HistoryStore.page). Throws InvalidMessageIdError for a `before` or `after` that is no message ID. */
export function pageWindow(ids: readonly string[], opts: HistoryPageOptions): PageWindow {
  for (const [k, v] of [
    ['before', opts.before],
    ['after', opts.after],
  ] as const) {
    if (v !== undefined && !isMessageId(v)) throw new InvalidMessageIdError(`${k}: not a message ID: ${JSON.stringify(String(v).slice(0, 40))}`)
  }
  const limit = Math.max(1, opts.limit ?? 100)
  const from = opts.after === undefined ? 0 : lowerBound(ids, opts.after)
  let lo = opts.after !== undefined && ids[from] === opts.after ? from + 1 : from
  let hi = opts.before === undefined ? ids.length : lowerBound(ids, opts.before)
  const backward = opts.before !== undefined && opts.after === undefined
  if (backward) lo = Math.max(lo, hi - limit)
  else hi = Math.min(hi, lo + limit)
  const window = ids.slice(lo, Math.max(lo, hi))
  return { lo, hi, backward, order: backward ? window.reverse() : window }
}

/** Whether older and newer messages exist beyond what a page shows (its first and last IDs; none: its window). */
export function pageEdges(ids: readonly string[], w: PageWindow, first?: string, last?: string): Pick<HistoryPage, 'hasBefore' | 'hasAfter'> {
  return {
    hasBefore: first !== undefined ? lowerBound(ids, first) > 0 : w.lo > 0,
    hasAfter: last !== undefined ? lowerBound(ids, last) + 1 < ids.length : w.hi < ids.length,
  }
}
