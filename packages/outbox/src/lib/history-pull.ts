/**
 * One side of a history sync between two devices of one account: this device PULLS what the other holds and it
 * lacks (run it on both devices, or both ways over one connection, and they converge). Pulling is its own
 * back-pressure: the next page is asked for only when a page is merged, with at most `window` pages in flight.
 * Everything written is keyed by message ID and merged as a join, so a sync cut at any point (a crash, a lost
 * connection) simply runs again: what was merged is not fetched again, nothing is stored twice.
 *
 * The channel (`SyncRemote`) is how the other device answers; authenticating it as a device of this account (and
 * refusing a revoked one) is the channel's job, not this module's.
 */
import type { HistoryEntry } from './history-entry.ts'
import {
  type ConversationSummary,
  compareRanges,
  LIST_BELOW,
  pagesOf,
  type RangeSummary,
  SYNC_PREFIXES,
  type SyncItem,
  summarizeRanges,
  wanted,
} from './history-sync.ts'

/** What the other device answers. */
export interface SyncRemote {
  conversations(): Promise<ConversationSummary[]>
  ranges(peer: string, prefixLen: number, within?: string[]): Promise<RangeSummary[]>
  /** The items in the given ranges (at most what their counts said: the caller batches by count). */
  items(peer: string, prefixes: string[]): Promise<SyncItem[]>
  fetch(peer: string, ids: string[]): Promise<HistoryEntry[]>
}

/** What this device offers the pull: its own state, and where fetched copies go. */
export interface SyncLocal {
  summaries(): Promise<ConversationSummary[]>
  syncItems(peer: string): Promise<SyncItem[]>
  /** Merges copies; returns how many changed something. */
  mergeCopies(entries: HistoryEntry[]): Promise<number>
}

export interface PullOptions {
  /** Messages per fetched page. @default 200 */
  pageSize?: number
  /** Pages in flight at once. @default 4 */
  window?: number
  /** Items listed per `items` request (ranges are batched by their counts). @default 2000 */
  itemsPerRequest?: number
  signal?: AbortSignal
  /** Called after each merged page (progress, tests that cut a sync short). */
  onPage?(p: { peer: string; merged: number }): void
}

export interface PullResult {
  /** Conversations whose digest differed. */
  conversations: number
  /** Messages fetched. */
  fetched: number
  /** Of those, the ones that changed something here. */
  changed: number
}

/** Thrown when the other device sent a message it was not asked for (another conversation or ID). */
export class UnexpectedSyncEntryError extends Error {
  override name = 'UnexpectedSyncEntryError'
  readonly code = 'unexpected_sync_entry'
  constructor(message = 'the other device sent a message that was not asked for', options?: ErrorOptions) {
    super(message, options)
  }
}

export async function pullHistory(local: SyncLocal, remote: SyncRemote, opts: PullOptions = {}): Promise<PullResult> {
  const result: PullResult = { conversations: 0, fetched: 0, changed: 0 }
  const mine = new Map((await local.summaries()).map((c) => [c.peer, c]))
  // One queue of pages over every conversation: the next conversation is compared while the last pages of the one
  // before are fetched and merged, so the window stays full from the first page to the last.
  async function* pages(): AsyncGenerator<{ peer: string; ids: string[] }> {
    for (const theirs of await remote.conversations()) {
      opts.signal?.throwIfAborted()
      const own = mine.get(theirs.peer)
      if (own && own.count === theirs.count && own.digest === theirs.digest) continue
      result.conversations++
      const ids = await missingIds(local, remote, theirs.peer, opts)
      for (const page of pagesOf(ids, opts.pageSize ?? 200)) yield { peer: theirs.peer, ids: page }
    }
  }
  await fetchPages(local, remote, pages(), opts, result)
  return result
}

/** The IDs of one conversation to fetch: refine differing ranges coarse to fine, list the small ones. */
async function missingIds(local: SyncLocal, remote: SyncRemote, peer: string, opts: PullOptions): Promise<string[]> {
  const items = await local.syncItems(peer)
  const toList: RangeSummary[] = []
  let within: string[] | undefined
  for (const [level, len] of SYNC_PREFIXES.entries()) {
    opts.signal?.throwIfAborted()
    const theirs = await remote.ranges(peer, len, within)
    const { refine, list } = compareRanges(summarizeRanges(items, len, within), theirs, level === SYNC_PREFIXES.length - 1 ? Number.POSITIVE_INFINITY : LIST_BELOW)
    const byPrefix = new Map(theirs.map((r) => [r.prefix, r]))
    for (const p of list) toList.push(byPrefix.get(p)!)
    if (refine.length === 0) break
    within = refine
  }
  const out: string[] = []
  const max = opts.itemsPerRequest ?? 2000
  for (const batch of batchByCount(toList, max)) {
    opts.signal?.throwIfAborted()
    const prefixes = batch.map((r) => r.prefix)
    const theirs = await remote.items(peer, prefixes)
    const own = items.filter((i) => prefixes.some((p) => i.id.startsWith(p)))
    out.push(...wanted(own, theirs))
  }
  return out.sort()
}

/** Fetches and merges pages, `window` at a time (a generator shared by the workers hands each page out once). */
async function fetchPages(
  local: SyncLocal,
  remote: SyncRemote,
  pages: AsyncGenerator<{ peer: string; ids: string[] }>,
  opts: PullOptions,
  result: PullResult,
): Promise<void> {
  let failed = false
  const worker = async () => {
    try {
      for (;;) {
        const next = await pages.next()
        if (next.done || failed) return
        opts.signal?.throwIfAborted()
        const { peer, ids: page } = next.value
        const asked = new Set(page)
        const entries = await remote.fetch(peer, page)
        for (const e of entries) {
          if (e.peer !== peer || !asked.has(e.id)) throw new UnexpectedSyncEntryError(`asked for ${page.length} messages of ${peer}, got ${e.peer}/${e.id}`)
        }
        opts.signal?.throwIfAborted()
        // Read after the await: `result.changed += await …` would add to the value read before it (workers overlap).
        const changed = await local.mergeCopies(entries)
        result.changed += changed
        result.fetched += entries.length
        opts.onPage?.({ peer, merged: entries.length })
      }
    } catch (e) {
      failed = true
      throw e
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, opts.window ?? 4) }, worker))
}

/** Groups ranges so that each group's total count stays within `max` (a range larger than that is a group alone). */
function batchByCount(ranges: RangeSummary[], max: number): RangeSummary[][] {
  const out: RangeSummary[][] = []
  let cur: RangeSummary[] = []
  let n = 0
  for (const r of ranges) {
    if (cur.length > 0 && n + r.count > max) {
      out.push(cur)
      cur = []
      n = 0
    }
    cur.push(r)
    n += r.count
  }
  if (cur.length > 0) out.push(cur)
  return out
}

/** The answering side over a local history (what a device serves its own other devices). */
export function historySource(store: {
  summaries(): Promise<ConversationSummary[]>
  syncItems(peer: string): Promise<SyncItem[]>
  entries(peer: string, ids: readonly string[]): Promise<HistoryEntry[]>
}): SyncRemote {
  return {
    conversations: () => store.summaries(),
    ranges: async (peer, len, within) => summarizeRanges(await store.syncItems(peer), len, within),
    items: async (peer, prefixes) => (await store.syncItems(peer)).filter((i) => prefixes.some((p) => i.id.startsWith(p))),
    fetch: (peer, ids) => store.entries(peer, ids),
  }
}
