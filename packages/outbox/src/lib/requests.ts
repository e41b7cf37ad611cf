/**
 * Contact requests (issue 17 item 4), read from the history: a conversation is a request while its peer is not a
 * contact, not blocked, and started it (its first message came in), with incoming messages newer than a decline.
 * Accepting is adding the contact (identity); declining hides what came so far (a later message asks again);
 * blocking is identity's block list. Declines are kept in the history bucket (`d.<peer>`), so they persist, and
 * follow the account to its other devices with the history sync (the higher `upTo` wins).
 */
import { type HistoryEntry, safeJson } from './history-entry.ts'
import { isMessageId } from './ids.ts'
import { encodeJsonValue, type KvStore } from './kv.ts'

/** What a request shows: who, how many messages came, and the newest one (its text cut to a preview). */
export interface ContactRequest {
  accountId: string
  /** Incoming messages since the last decline. */
  messages: number
  newest: { id: string; preview: string; sentAt: number }
}

export interface RequestsInit {
  /** The history's reads (HistoryStore). */
  history: {
    peers(): Promise<string[]>
    ids(peer: string): Promise<readonly string[]>
    entries(peer: string, ids: readonly string[]): Promise<HistoryEntry[]>
  }
  /** The history bucket, where declines are kept. */
  kv: KvStore
}

/** Who this account knows: contacts and blocked accounts (from identity), and itself. */
export interface KnownAccounts {
  self: string
  contacts: ReadonlySet<string>
  blocked: ReadonlySet<string>
}

const PREVIEW_CHARS = 200
/** Messages read from a conversation's end to count what came since a decline (a request shows "N+" past it). */
const MAX_SCANNED = 200
const PEER = /^[0-9a-f]{40}$/

export class ContactRequests {
  #init: RequestsInit
  #declined: Map<string, string> | undefined

  constructor(init: RequestsInit) {
    this.#init = init
  }

  /** The pending requests, newest first, at most `limit`. */
  async list(known: KnownAccounts, limit = 100): Promise<ContactRequest[]> {
    const declined = await this.#declines()
    const out: ContactRequest[] = []
    for (const peer of await this.#init.history.peers()) {
      if (peer === known.self || known.contacts.has(peer) || known.blocked.has(peer)) continue
      const request = await this.#requestOf(peer, declined.get(peer))
      if (request) out.push(request)
    }
    out.sort((a, b) => (a.newest.id < b.newest.id ? 1 : -1))
    return out.slice(0, limit)
  }

  /** Hides `peer`'s request up to its newest message now; false when there was nothing to decline. */
  async decline(peer: string): Promise<boolean> {
    const ids = await this.#init.history.ids(peer)
    const upTo = ids.at(-1)
    if (upTo === undefined) return false
    const declined = await this.#declines()
    if (declined.get(peer) === upTo) return false
    await this.#init.kv.put(`d.${peer}`, encodeJsonValue({ upTo }))
    declined.set(peer, upTo)
    return true
  }

  /** The declines, by peer, after `after` (the history sync's `declines` part). */
  async declinesAfter(after: string | undefined, max: number): Promise<{ declines: Array<{ peer: string; upTo: string }>; more: boolean }> {
    const all = [...(await this.#declines()).entries()]
      .filter(([peer]) => after === undefined || peer > after)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([peer, upTo]) => ({ peer, upTo }))
    return { declines: all.slice(0, max), more: all.length > max }
  }

  /**
   * Declines from another device of the account: a decline hides a peer's messages up to a message ID and is never
   * undone (only passed by newer messages), so merging keeps the higher `upTo` (a join: order-free, idempotent).
   * Returns how many changed something here; malformed ones are skipped.
   */
  async mergeDeclines(declines: ReadonlyArray<{ peer: string; upTo: string }>): Promise<number> {
    const declined = await this.#declines()
    let changed = 0
    for (const { peer, upTo } of declines) {
      if (!PEER.test(peer) || !isMessageId(upTo)) continue
      const mine = declined.get(peer)
      if (mine !== undefined && mine >= upTo) continue
      await this.#init.kv.put(`d.${peer}`, encodeJsonValue({ upTo }))
      declined.set(peer, upTo)
      changed++
    }
    return changed
  }

  async #requestOf(peer: string, declinedUpTo: string | undefined): Promise<ContactRequest | undefined> {
    const ids = await this.#init.history.ids(peer)
    const first = ids[0]
    if (first === undefined) return undefined
    const [opening] = await this.#init.history.entries(peer, [first])
    // A conversation this account started is not a request.
    if (opening?.direction !== 'in') return undefined
    const since = declinedUpTo === undefined ? ids : ids.filter((id) => id > declinedUpTo)
    if (since.length === 0) return undefined
    const recent = await this.#init.history.entries(peer, since.slice(-MAX_SCANNED))
    const incoming = recent.filter((e) => e.direction === 'in')
    const newest = incoming.at(-1)
    if (!newest) return undefined
    return {
      accountId: peer,
      messages: incoming.length,
      newest: { id: newest.id, preview: (newest.body ?? '').slice(0, PREVIEW_CHARS), sentAt: newest.sentAt },
    }
  }

  async #declines(): Promise<Map<string, string>> {
    if (this.#declined) return this.#declined
    const declined = new Map<string, string>()
    for (const key of await this.#init.kv.keys('d.*')) {
      const peer = key.slice(2)
      const entry = await this.#init.kv.get(key)
      const upTo = entry ? (safeJson(entry.value) as { upTo?: unknown } | undefined)?.upTo : undefined
      // A damaged entry is ignored (the request shows again), never fatal.
      if (PEER.test(peer) && typeof upTo === 'string' && isMessageId(upTo)) declined.set(peer, upTo)
    }
    this.#declined = declined
    return declined
  }
}
