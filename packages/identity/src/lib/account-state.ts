/**
 * The account's contacts, blocks and conversation names as sync registers (docs/history.md, "Merge rule"): one
 * last-writer-wins register per account ID and list, `{ value | null, at, device }`, merged with `mergeLww` (later
 * `at` wins, ties to the higher device ID). A removal is kept as a tombstone (`removed` in the account), so an older
 * add synced from another device does not bring it back. Entries stored before sync have no `at`/`device`: they read
 * as written when they were added (`addedAt`/`blockedAt`) on this device. A conversation name's register is
 * `{ since: at, name }` (the wire's register shape; `since` adds nothing for a name). Pure: the key store applies the
 * result.
 */
import { isId, mergeLww } from '@baran/trust'
import type { AccountPayload, Block, Contact, ConversationName, Tombstone } from './archive.ts'
import { MAX_BLOCKS, MAX_CONTACT_NAME, MAX_CONTACTS, MAX_CONVERSATION_NAMES } from './constants.ts'
import { type AccountChange, newestTombstones } from './contacts.ts'
import { InvalidArgumentError } from './errors.ts'

export type AccountStateKind = 'contacts' | 'blocks' | 'names'
const MAX: Record<AccountStateKind, number> = { contacts: MAX_CONTACTS, blocks: MAX_BLOCKS, names: MAX_CONVERSATION_NAMES }
/** `since`: when the contact was added or the account blocked; `name`: a contact's or a conversation's. */
export interface Register {
  accountId: string
  value: { since: number; name?: string } | null
  at: number
  device: string
}
export interface MergeResult {
  /** Registers that changed something here. */
  changed: number
  /** Registers left out: a block of the account itself, or an add beyond the list's limit. */
  skipped: number
}
/** Registers per `accountState` part (the bus contract's ACCOUNT_STATE_MAX). */
export const ACCOUNT_STATE_PART = 2000
/** A part stops past this much JSON (UTF-8): 2,000 contacts with long non-Latin names would pass the 1 MiB frame. */
export const ACCOUNT_STATE_PART_BYTES = 512 * 1024

/** The first registers of `all`, at most `max` and about ACCOUNT_STATE_PART_BYTES (at least one). */
export function partOf(all: readonly Register[], max: number, maxBytes = ACCOUNT_STATE_PART_BYTES): { registers: Register[]; more: boolean } {
  let bytes = 0
  let n = 0
  for (const r of all.slice(0, max)) {
    bytes += Buffer.byteLength(JSON.stringify(r))
    if (n > 0 && bytes > maxBytes) break
    n++
  }
  return { registers: all.slice(0, n), more: all.length > n }
}

/** Every register of one list, tombstones included, sorted by account ID. */
export function registersOf(account: AccountPayload, kind: AccountStateKind, self: string): Register[] {
  return [...registerMap(account, kind, self).values()].sort((a, b) => (a.accountId < b.accountId ? -1 : 1))
}

/**
 * The account with `incoming` merged into one list: per account ID, the register `mergeLww` picks. Idempotent and
 * order-free (merging the same registers again, or in another order, ends the same). Throws InvalidArgumentError for
 * a malformed register (nothing is applied then).
 */
export function mergeRegisters(
  account: AccountPayload,
  kind: AccountStateKind,
  incoming: readonly Register[],
  ids: { self: string; own: string },
): AccountChange<MergeResult> {
  for (const r of incoming) checkRegister(r, kind)
  const regs = registerMap(account, kind, ids.self)
  const max = MAX[kind]
  let present = [...regs.values()].filter((r) => r.value !== null).length
  const result: MergeResult = { changed: 0, skipped: 0 }
  for (const r0 of incoming) {
    // A block has no name; an account never blocks itself. A name's `since` is its write's time (as registerMap reads it).
    const r: Register = !r0.value || kind === 'contacts' ? r0 : { ...r0, value: kind === 'blocks' ? { since: r0.value.since } : { since: r0.at, name: r0.value.name } }
    if (kind === 'blocks' && r.accountId === ids.own) {
      result.skipped++
      continue
    }
    const mine = regs.get(r.accountId)
    const won = mergeLww(mine, r) as Register | undefined
    if (won !== r || (mine && sameRegister(mine, r))) continue
    const adds = r.value !== null && (mine?.value ?? null) === null
    if (adds && present >= max) {
      result.skipped++
      continue
    }
    if (adds) present++
    else if (r.value === null && mine?.value) present--
    regs.set(r.accountId, r)
    result.changed++
  }
  if (result.changed === 0) return { account, result, changed: false }
  return { account: applyRegisters(account, kind, regs), result, changed: true }
}

export function sameRegister(a: Register, b: Register): boolean {
  return a.at === b.at && a.device === b.device && JSON.stringify(a.value) === JSON.stringify(b.value)
}

/** The registers in list order (present entries, then tombstones), keyed by account ID. */
function registerMap(account: AccountPayload, kind: AccountStateKind, self: string): Map<string, Register> {
  const regs = new Map<string, Register>()
  const put = (r: Register) => {
    const won = mergeLww(regs.get(r.accountId), r) as Register | undefined
    if (won) regs.set(r.accountId, won)
  }
  if (kind === 'contacts') {
    for (const c of account.contacts) put({ accountId: c.accountId, value: { since: c.addedAt, ...(c.name !== undefined ? { name: c.name } : {}) }, at: c.at ?? c.addedAt, device: c.device ?? self })
  } else if (kind === 'names') {
    for (const n of account.names ?? []) put({ accountId: n.accountId, value: { since: n.at, name: n.name }, at: n.at, device: n.device })
  } else {
    for (const b of account.blocks ?? []) put({ accountId: b.accountId, value: { since: b.blockedAt }, at: b.at ?? b.blockedAt, device: b.device ?? self })
  }
  for (const t of account.removed?.[kind] ?? []) put({ accountId: t.accountId, value: null, at: t.at, device: t.device })
  return regs
}

/** The lists rebuilt from the registers: present ones in the list (in the order they were), removed ones as tombstones. */
function applyRegisters(account: AccountPayload, kind: AccountStateKind, regs: Map<string, Register>): AccountPayload {
  const tombs: Tombstone[] = []
  const contacts: Contact[] = []
  const blocks: Block[] = []
  const names: ConversationName[] = []
  for (const r of regs.values()) {
    if (r.value === null) tombs.push({ accountId: r.accountId, at: r.at, device: r.device })
    else if (kind === 'names') names.push({ accountId: r.accountId, name: r.value.name ?? '', at: r.at, device: r.device })
    else if (kind === 'contacts') contacts.push({ accountId: r.accountId, ...(r.value.name !== undefined ? { name: r.value.name } : {}), addedAt: r.value.since, at: r.at, device: r.device })
    else blocks.push({ accountId: r.accountId, blockedAt: r.value.since, at: r.at, device: r.device })
  }
  const removed = { ...account.removed, contacts: account.removed?.contacts ?? [], blocks: account.removed?.blocks ?? [], [kind]: newestTombstones(tombs) }
  if (kind === 'names') return { ...account, names, removed }
  return kind === 'contacts' ? { ...account, contacts, removed } : { ...account, blocks, removed }
}

const isTime = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0

/** Throws InvalidArgumentError unless `r` is a well-formed register (callers outside the bus get the same check). */
function checkRegister(r: Register, kind: AccountStateKind): void {
  const bad = (why: string) => new InvalidArgumentError(`bad account state register: ${why}`)
  if (typeof r !== 'object' || r === null) throw bad('not an object')
  if (!isId(r.accountId)) throw bad('accountId must be 40 lowercase hex characters')
  if (!isId(r.device)) throw bad('device must be 40 lowercase hex characters')
  if (!isTime(r.at)) throw bad('at must be a non-negative integer')
  if (r.value === null) return
  if (typeof r.value !== 'object' || !isTime(r.value.since)) throw bad('value.since must be a non-negative integer')
  const { name } = r.value
  if (name !== undefined && (typeof name !== 'string' || name.length < 1 || name.length > MAX_CONTACT_NAME)) throw bad(`value.name must be 1..${MAX_CONTACT_NAME} characters`)
  if (kind === 'names' && name === undefined) throw bad('a conversation name register needs value.name')
}
