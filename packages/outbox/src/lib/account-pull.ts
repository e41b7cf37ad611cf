/**
 * The account-state part of a sync round (docs/history.md): the other device's contact and block registers, asked
 * in parts over the sync channel (`account-state`) and merged one part at a time by identity
 * (`identity.mergeAccountState`: last writer wins per account ID), then its declined contact requests (`declines`,
 * merged by the outbox: the higher `upTo` wins). Blocks first: they are what the transport acts on. Conversation
 * names (identity's `names` registers) come last: a device of an older version refuses that kind, and what it does
 * serve is merged by then. The first part of every list is asked at once; the merges keep that order.
 */
import type { AccountRegister, AccountStateKind, SyncAnswer, SyncRequest } from '@baran/bus'
import { SyncProtocolError } from './sync-wire.ts'

export interface AccountPull {
  /** Registers and declines fetched, and how many of them changed something here. */
  fetched: number
  changed: number
}

export interface AccountMerge {
  registers(kind: AccountStateKind, registers: AccountRegister[]): Promise<{ changed: number }>
  declines(declines: Array<{ peer: string; upTo: string }>): Promise<number>
}

const KINDS: readonly AccountStateKind[] = ['blocks', 'contacts']
/** Parts per list at most (2,000 entries each: beyond the lists' limits of 10,000). */
const MAX_PARTS = 16

export async function pullAccountState(ask: (req: SyncRequest) => Promise<SyncAnswer>, merge: AccountMerge): Promise<AccountPull> {
  const out: AccountPull = { fetched: 0, changed: 0 }
  const registerPart = (kind: AccountStateKind) => async (after: string | undefined) => {
    const a = await ask({ op: 'account-state', kind, ...(after ? { after } : {}) })
    if (a.op !== 'account-state' || a.kind !== kind) throw new SyncProtocolError(`asked account-state ${kind}, answered ${a.op}`)
    return { list: a.registers, more: a.more }
  }
  const declinePart = async (after: string | undefined) => {
    const a = await ask({ op: 'declines', ...(after ? { after } : {}) })
    if (a.op !== 'declines') throw new SyncProtocolError(`asked declines, answered ${a.op}`)
    return { list: a.declines, more: a.more }
  }
  // Every list's first part is asked at once (one round trip over the channel for all, not one each: a sync with
  // nothing new is mostly these); they are still merged in order, and a later part is asked only after its list's
  // previous one.
  const firsts = new Map([...KINDS, 'names' as const].map((kind) => [kind, quiet(registerPart(kind)(undefined))]))
  const firstDeclines = quiet(declinePart(undefined))
  const registers = (kind: AccountStateKind) =>
    parts(
      registerPart(kind),
      (r) => r.accountId,
      async (list) => {
        out.fetched += list.length
        out.changed += (await merge.registers(kind, list)).changed
      },
      firsts.get(kind),
    )
  for (const kind of KINDS) await registers(kind)
  await parts(
    declinePart,
    (d) => d.peer,
    async (list) => {
      out.fetched += list.length
      out.changed += await merge.declines(list)
    },
    firstDeclines,
  )
  await registers('names')
  return out
}

/** A promise awaited later, maybe never (an earlier list failed first): its rejection is not left unhandled. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined)
  return p
}

/**
 * Follows `more` with `after` = the last key, merging each part; every part must move on, and there are at most
 * MAX_PARTS. `first`: the first part, already asked.
 */
async function parts<T>(
  next: (after: string | undefined) => Promise<{ list: T[]; more: boolean }>,
  key: (t: T) => string,
  take: (list: T[]) => Promise<void>,
  first?: Promise<{ list: T[]; more: boolean }>,
): Promise<void> {
  let after: string | undefined
  for (let part = 0; ; part++) {
    if (part >= MAX_PARTS) throw new SyncProtocolError(`more than ${MAX_PARTS} parts`)
    const { list, more } = await (part === 0 && first ? first : next(after))
    if (list.length > 0) await take(list)
    if (!more) return
    const last = list.at(-1)
    if (last === undefined || (after !== undefined && key(last) <= after)) throw new SyncProtocolError('an answer said there is more but did not move on')
    after = key(last)
  }
}
