/**
 * The history sync over a channel of bounded messages (`SyncRequest` → `SyncAnswer`, @baran/bus): the answering
 * side (`answerSync`, over a device's history) and the asking side (`remoteOver`, a `SyncRemote` for `pullHistory`
 * that follows the parts: lists of at most SYNC_MAX_LIST, fetches of at most SYNC_MAX_IDS that stop early past
 * SYNC_MAX_ANSWER_BYTES). Every loop makes progress or fails, so a misbehaving other side cannot keep it going.
 */
import { SYNC_MAX_ANSWER_BYTES, SYNC_MAX_IDS, SYNC_MAX_LIST, type SyncAnswer, type SyncEntry, type SyncRequest } from '@baran/bus'
import type { HistoryEntry } from './history-entry.ts'
import { UnexpectedSyncEntryError, type SyncRemote } from './history-pull.ts'
import { type ConversationSummary, pagesOf, type SyncItem, summarizeRanges } from './history-sync.ts'

export interface SyncStore {
  summaries(): Promise<ConversationSummary[]>
  syncItems(peer: string): Promise<SyncItem[]>
  entries(peer: string, ids: readonly string[]): Promise<HistoryEntry[]>
}

export interface AnswerOptions {
  /** The entry as it goes to the other device (its body opened). */
  open(e: HistoryEntry): Promise<HistoryEntry>
  /** One part of the account's contact or block registers (identity's). */
  accountState?(req: Extract<SyncRequest, { op: 'account-state' }>): Promise<Extract<SyncAnswer, { op: 'account-state' }>>
  /** One part of the declined contact requests (requests.ts). */
  declines?(after: string | undefined, max: number): Promise<{ declines: Array<{ peer: string; upTo: string }>; more: boolean }>
  maxList?: number
  maxBytes?: number
}

/** How many entries are opened at once (each may be an identity.open). */
const OPEN_CONCURRENCY = 8

/** One answer from this device's history. */
export async function answerSync(store: SyncStore, req: SyncRequest, opts: AnswerOptions): Promise<SyncAnswer> {
  const max = opts.maxList ?? SYNC_MAX_LIST
  const part = <T>(all: T[]) => ({ list: all.slice(0, max), more: all.length > max })
  switch (req.op) {
    case 'conversations': {
      const all = (await store.summaries()).filter((c) => req.after === undefined || c.peer > req.after).sort((a, b) => (a.peer < b.peer ? -1 : 1))
      const { list, more } = part(all)
      return { op: 'conversations', conversations: list.map((c) => ({ peer: c.peer, count: c.count, ...(c.high ? { high: c.high } : {}), digest: c.digest })), more }
    }
    case 'ranges': {
      const all = summarizeRanges(await store.syncItems(req.peer), req.prefixLen, req.within).filter((r) => req.after === undefined || r.prefix > req.after)
      const { list, more } = part(all)
      return { op: 'ranges', ranges: list, more }
    }
    case 'items': {
      const all = (await store.syncItems(req.peer)).filter((i) => (req.after === undefined || i.id > req.after) && req.prefixes.some((p) => i.id.startsWith(p)))
      const { list, more } = part(all)
      return { op: 'items', items: list, more }
    }
    case 'fetch': {
      const held = new Map((await store.entries(req.peer, req.ids)).map((e) => [e.id, e]))
      const opened = await mapLimit(
        req.ids.map((id) => held.get(id)),
        OPEN_CONCURRENCY,
        (e) => (e ? opts.open(e) : Promise.resolve(undefined)),
      )
      const entries: SyncEntry[] = []
      let bytes = 0
      for (const [i, e] of opened.entries()) {
        if (!e) continue
        const size = JSON.stringify(e).length
        if (entries.length > 0 && bytes + size > (opts.maxBytes ?? SYNC_MAX_ANSWER_BYTES)) return { op: 'fetch', entries, next: i }
        bytes += size
        entries.push(e)
      }
      return { op: 'fetch', entries }
    }
    case 'account-state':
      if (!opts.accountState) throw new SyncProtocolError('account state is not served here')
      return opts.accountState(req)
    case 'declines':
      if (!opts.declines) throw new SyncProtocolError('declines are not served here')
      return { op: 'declines', ...(await opts.declines(req.after, max)) }
  }
}

/** Thrown when the other device's answers do not make progress or answer another question. */
export class SyncProtocolError extends Error {
  override name = 'SyncProtocolError'
  readonly code = 'sync_protocol'
}

/** A `SyncRemote` over one request function (the transport channel), following every part. */
export function remoteOver(ask: (req: SyncRequest) => Promise<SyncAnswer>): SyncRemote {
  const expect = async <O extends SyncAnswer['op']>(req: SyncRequest & { op: O }): Promise<Extract<SyncAnswer, { op: O }>> => {
    const a = await ask(req)
    if (a.op !== req.op) throw new SyncProtocolError(`asked ${req.op}, answered ${a.op}`)
    return a as Extract<SyncAnswer, { op: O }>
  }
  /** Follows `more` with `after` = the last key; each part must move past the previous one. */
  const follow = async <T>(next: (after: string | undefined) => Promise<{ list: T[]; more: boolean }>, key: (t: T) => string): Promise<T[]> => {
    const out: T[] = []
    let after: string | undefined
    for (;;) {
      const { list, more } = await next(after)
      out.push(...list)
      if (!more) return out
      const last = list.at(-1)
      if (last === undefined || (after !== undefined && key(last) <= after)) throw new SyncProtocolError('an answer said there is more but did not move on')
      after = key(last)
    }
  }
  return {
    conversations: () =>
      follow(
        async (after) => {
          const a = await expect({ op: 'conversations', ...(after ? { after } : {}) })
          return { list: a.conversations, more: a.more }
        },
        (c) => c.peer,
      ),
    ranges: async (peer, prefixLen, within) => {
      const out = []
      for (const chunk of within ? pagesOf(within, SYNC_MAX_LIST) : [undefined]) {
        const part = await follow(
          async (after) => {
            const a = await expect({ op: 'ranges', peer, prefixLen, ...(chunk ? { within: chunk } : {}), ...(after ? { after } : {}) })
            return { list: a.ranges, more: a.more }
          },
          (r) => r.prefix,
        )
        out.push(...part)
      }
      return out
    },
    items: async (peer, prefixes) => {
      const out = []
      for (const chunk of pagesOf(prefixes, SYNC_MAX_LIST)) {
        const part = await follow(
          async (after) => {
            const a = await expect({ op: 'items', peer, prefixes: chunk, ...(after ? { after } : {}) })
            return { list: a.items, more: a.more }
          },
          (i) => i.id,
        )
        out.push(...part)
      }
      return out
    },
    fetch: async (peer, ids) => {
      const out: HistoryEntry[] = []
      for (const page of pagesOf(ids, SYNC_MAX_IDS)) {
        let rest = page
        while (rest.length > 0) {
          const a = await expect({ op: 'fetch', peer, ids: rest })
          out.push(...a.entries)
          if (a.next === undefined) break
          if (a.next > rest.length) throw new UnexpectedSyncEntryError(`a fetch answer stopped at ${a.next} of ${rest.length}`)
          rest = rest.slice(a.next)
        }
      }
      return out
    },
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
