/**
 * The account's contact and block lists: checking what a caller gives, adding to (or renaming in) and removing from
 * the lists. Pure: the key store applies the result (store.ts `updateAccount`).
 */
import { isId } from '@baran/trust'
import type { AccountPayload, Block, Contact, Tombstone } from './archive.ts'
import { MAX_BLOCKS, MAX_CONTACT_NAME, MAX_CONTACTS, MAX_TOMBSTONES } from './constants.ts'
import { InvalidArgumentError } from './errors.ts'

/** Checks a contact from a caller; returns a copy of it. Throws InvalidArgumentError. */
export function checkContact(contact: { accountId: string; name?: string }): { accountId: string; name?: string } {
  if (typeof contact !== 'object' || contact === null || !isId(contact.accountId)) {
    throw new InvalidArgumentError('contact.accountId must be 40 lowercase hex characters')
  }
  const { name } = contact
  if (name !== undefined && (typeof name !== 'string' || name.length < 1 || name.length > MAX_CONTACT_NAME)) {
    throw new InvalidArgumentError(`contact.name must be a string of 1..${MAX_CONTACT_NAME} characters`)
  }
  return name === undefined ? { accountId: contact.accountId } : { accountId: contact.accountId, name }
}

/** What a list change did: the account to keep, the caller's answer, and whether anything changed (else no write). */
export interface AccountChange<T> {
  account: AccountPayload
  result: T
  changed: boolean
}

/** Who wrote a change: when, on which device (the sync register's `at` and `device`). */
export interface Writer {
  now: number
  device: string
}

function checkAccountId(accountId: unknown): string {
  if (!isId(accountId)) throw new InvalidArgumentError('accountId must be 40 lowercase hex characters')
  return accountId
}

/** The newest MAX_TOMBSTONES of a list of tombstones (the oldest are forgotten). */
export function newestTombstones(list: Tombstone[]): Tombstone[] {
  return list.length > MAX_TOMBSTONES ? [...list].sort((x, y) => y.at - x.at).slice(0, MAX_TOMBSTONES) : list
}

/** The account's tombstones of one list, without `accountId`'s, plus `add` (the oldest forgotten past MAX_TOMBSTONES). */
export function withTombstones(account: AccountPayload, kind: 'contacts' | 'blocks' | 'names', accountId: string, add?: Tombstone): AccountPayload {
  const removed = account.removed ?? { contacts: [], blocks: [] }
  const had = removed[kind] ?? []
  const list = had.filter((t) => t.accountId !== accountId)
  if (!add && list.length === had.length) return account
  if (add) list.push(add)
  return { ...account, removed: { ...removed, [kind]: newestTombstones(list) } }
}

/**
 * The account with `contact` added (a new register write: `at` now, this device), or renamed if already there (keeping
 * when it was added); a removal's tombstone goes. Throws InvalidArgumentError beyond MAX_CONTACTS.
 */
export function withContact(account: AccountPayload, contact: { accountId: string; name?: string }, w: Writer): AccountChange<Contact> {
  const contacts = account.contacts
  const old = contacts.find((c) => c.accountId === contact.accountId)
  if (!old && contacts.length >= MAX_CONTACTS) throw new InvalidArgumentError(`At most ${MAX_CONTACTS} contacts`)
  const entry: Contact = { accountId: contact.accountId, addedAt: old?.addedAt ?? w.now, at: w.now, device: w.device }
  if (contact.name !== undefined) entry.name = contact.name
  const next = withTombstones(account, 'contacts', contact.accountId)
  return { account: { ...next, contacts: old ? contacts.map((c) => (c === old ? entry : c)) : [...contacts, entry] }, result: { ...entry }, changed: true }
}

/** The account without the contact `accountId` (its tombstone kept); result false if it was not there. */
export function withoutContact(account: AccountPayload, accountId: string, w: Writer): AccountChange<boolean> {
  checkAccountId(accountId)
  const contacts = account.contacts.filter((c) => c.accountId !== accountId)
  const changed = contacts.length !== account.contacts.length
  if (!changed) return { account, result: false, changed }
  return { account: { ...withTombstones(account, 'contacts', accountId, { accountId, at: w.now, device: w.device }), contacts }, result: true, changed }
}

/**
 * The account with `accountId` blocked (at `now`; a block already there keeps its time). Blocking is about an
 * account, not a contact entry: a blocked account may also be a contact (the user decides what to show).
 * Throws InvalidArgumentError for a bad ID, beyond MAX_BLOCKS, or for the account itself (`own`).
 */
export function withBlock(account: AccountPayload, accountId: string, w: Writer, own: string): AccountChange<Block> {
  checkAccountId(accountId)
  if (accountId === own) throw new InvalidArgumentError('an account cannot block itself')
  const blocks = account.blocks ?? []
  const old = blocks.find((b) => b.accountId === accountId)
  if (old) return { account, result: { accountId, blockedAt: old.blockedAt }, changed: false }
  if (blocks.length >= MAX_BLOCKS) throw new InvalidArgumentError(`At most ${MAX_BLOCKS} blocked accounts`)
  const entry: Block = { accountId, blockedAt: w.now, at: w.now, device: w.device }
  return { account: { ...withTombstones(account, 'blocks', accountId), blocks: [...blocks, entry] }, result: { accountId, blockedAt: w.now }, changed: true }
}

/** The account with `accountId` no longer blocked (the unblock kept as a tombstone); result false if it was not blocked. */
export function withoutBlock(account: AccountPayload, accountId: string, w: Writer): AccountChange<boolean> {
  checkAccountId(accountId)
  const blocks = account.blocks ?? []
  const next = blocks.filter((b) => b.accountId !== accountId)
  if (next.length === blocks.length) return { account, result: false, changed: false }
  return { account: { ...withTombstones(account, 'blocks', accountId, { accountId, at: w.now, device: w.device }), blocks: next }, result: true, changed: true }
}
