/**
 * Device-to-device history sync, the pure part: what two devices of one account compare and how they find what one
 * lacks, without any I/O. A message is summed up by `entryHash` (its header and every synced state: delivery per
 * device, read markers); a set of messages by its count and the XOR of their hashes (`digestOf`), which does not
 * depend on order and can be kept up to date one message at a time.
 *
 * Reconciling one conversation: compare the whole conversation's digest; where it differs, compare ranges of
 * message IDs (IDs start with their time, so an ID prefix is a time range and both sides cut the same ranges
 * without agreeing on anything) at coarse, then finer, prefixes; where a range differs and is small, or one side has
 * nothing there, list its `{ id, hash }` items and take the IDs whose hash is missing or different. Those are then
 * fetched in pages. Merging a fetched copy is a join (see `mergeEntries`), so pulling both ways converges.
 */
import { hash } from 'node:crypto'
import { syncedText } from './entry-text.ts'
import type { HistoryEntry } from './history-entry.ts'

/** One message as sync compares it. */
export interface SyncItem {
  id: string
  /** `entryHash` of the message: 32 hex characters. */
  hash: string
}

/** A range of one conversation: the IDs starting with `prefix`. */
export interface RangeSummary {
  prefix: string
  count: number
  digest: string
}

/** One conversation as a device announces it. */
export interface ConversationSummary {
  peer: string
  count: number
  /** The highest message ID held (the high-water mark). */
  high?: string
  digest: string
}

/**
 * ID prefix lengths compared, coarse to fine: 4 characters is a time range of 32^6 ms (~12 days), 6 is ~17 min,
 * 8 is ~1 s. A message ID's first 10 characters are its time.
 */
export const SYNC_PREFIXES = [4, 6, 8] as const
/** A differing range with at most this many items (on the larger side) is listed instead of refined. */
export const LIST_BELOW = 64
/** The digest of nothing. */
export const EMPTY_DIGEST = '0'.repeat(32)

/**
 * The hash of a message as it syncs: everything but when this device stored or last changed it, and how it keeps the
 * body. A body is kept sealed to the device that holds it (a message sent from there, or synced to it) or in the
 * clear (received): the same message is held differently on each device, while its ID names one content (its
 * sender's), so the representation is left out and two devices that hold the same messages in the same states
 * have the same digest.
 */
export function entryHash(e: HistoryEntry): string {
  return hash('sha256', syncedText(e), 'hex').slice(0, 32)
}

/** XOR of 128-bit hashes: the same whatever the order; one message in or out is one XOR. */
export function digestOf(hashes: Iterable<string>): string {
  const acc = new Uint32Array(4)
  for (const h of hashes) xorInto(acc, h)
  return toHex(acc)
}

/** A digest with one hash added (or removed: XOR is its own inverse). */
export function xorDigest(digest: string, hash: string): string {
  const acc = fromHex(digest)
  xorInto(acc, hash)
  return toHex(acc)
}

/** A conversation's summary from its items. */
export function summarizeConversation(peer: string, items: readonly SyncItem[]): ConversationSummary {
  let high: string | undefined
  for (const i of items) if (high === undefined || i.id > high) high = i.id
  return { peer, count: items.length, ...(high ? { high } : {}), digest: digestOf(items.map((i) => i.hash)) }
}

/** The ranges of `prefixLen` characters among the items, only inside the given ranges (all without `within`). */
export function summarizeRanges(items: readonly SyncItem[], prefixLen: number, within?: readonly string[]): RangeSummary[] {
  const inside = within ? (id: string) => within.some((p) => id.startsWith(p)) : () => true
  const ranges = new Map<string, { count: number; acc: Uint32Array }>()
  for (const i of items) {
    if (!inside(i.id)) continue
    const prefix = i.id.slice(0, prefixLen)
    let r = ranges.get(prefix)
    if (!r) {
      r = { count: 0, acc: new Uint32Array(4) }
      ranges.set(prefix, r)
    }
    r.count++
    xorInto(r.acc, i.hash)
  }
  return [...ranges.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([prefix, r]) => ({ prefix, count: r.count, digest: toHex(r.acc) }))
}

/**
 * Compares two sides' ranges: `refine` the ranges that differ and are large on both sides, `list` the ones that
 * differ and are small or held by one side only. Ranges only this side holds are the other side's to pull: not listed.
 */
export function compareRanges(mine: readonly RangeSummary[], theirs: readonly RangeSummary[], listBelow = LIST_BELOW): { refine: string[]; list: string[] } {
  const own = new Map(mine.map((r) => [r.prefix, r]))
  const refine: string[] = []
  const list: string[] = []
  for (const t of theirs) {
    const m = own.get(t.prefix)
    if (m && m.count === t.count && m.digest === t.digest) continue
    if (m && Math.max(m.count, t.count) > listBelow) refine.push(t.prefix)
    else list.push(t.prefix)
  }
  return { refine, list }
}

/** The IDs the other side holds that this side lacks or holds in another state: what to fetch. */
export function wanted(mine: readonly SyncItem[], theirs: readonly SyncItem[]): string[] {
  const own = new Map(mine.map((i) => [i.id, i.hash]))
  return theirs
    .filter((t) => own.get(t.id) !== t.hash)
    .map((t) => t.id)
    .sort()
}

/** Splits a list into pages of at most `size`. */
export function pagesOf<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < list.length; i += Math.max(1, size)) out.push(list.slice(i, i + Math.max(1, size)))
  return out
}

function xorInto(acc: Uint32Array, hex: string): void {
  for (let w = 0; w < 4; w++) acc[w] = (acc[w] ?? 0) ^ (Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16) >>> 0)
}

function toHex(acc: Uint32Array): string {
  let s = ''
  for (const w of acc) s += w.toString(16).padStart(8, '0')
  return s
}

function fromHex(hex: string): Uint32Array {
  const acc = new Uint32Array(4)
  xorInto(acc, hex)
  return acc
}
