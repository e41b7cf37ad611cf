/**
 * Conversation names (issue 18): the account's own name for a conversation, keyed by the peer's account ID (a 1:1
 * conversation), kept with the account and synced to its other devices as one more kind of account-state register
 * (`names`: account-state.ts, docs/history.md). Naming is a register write (`at`, this device); clearing a name
 * leaves a tombstone in `removed.names`, so an older name synced later does not come back. Pure: the key store
 * applies the result.
 */
import { isId } from '@baran/trust'
import type { AccountPayload, ConversationName } from './archive.ts'
import { MAX_CONVERSATION_NAME, MAX_CONVERSATION_NAMES } from './constants.ts'
import { type AccountChange, withTombstones, type Writer } from './contacts.ts'
import { InvalidArgumentError } from './errors.ts'

/** A conversation's name as callers see it: `at` is when it was last set, on any device of the account. */
export interface ConversationNameEntry {
  peer: string
  name: string
  at: number
}

function checkPeer(peer: unknown): string {
  if (!isId(peer)) throw new InvalidArgumentError('peer must be an account ID: 40 lowercase hex characters')
  return peer
}

/** Checks a peer and a name from a caller. Throws InvalidArgumentError. */
export function checkConversationName(peer: unknown, name: unknown): { peer: string; name: string } {
  checkPeer(peer)
  if (typeof name !== 'string' || name.length < 1 || name.length > MAX_CONVERSATION_NAME || name.trim() === '') {
    throw new InvalidArgumentError(`name must be a string of 1..${MAX_CONVERSATION_NAME} characters, not only spaces`)
  }
  return { peer: peer as string, name }
}

/**
 * When a write here happens: now, or just after the write it replaces if that one is later (another device's clock
 * ahead of this one's). What the user did last on this device must win the merge, or the next sync would undo it.
 */
function writeTime(w: Writer, replaces: { at: number } | undefined): number {
  return replaces && replaces.at >= w.now ? replaces.at + 1 : w.now
}

/** The account with `peer`'s conversation named `name` (nothing written when it already has that name). */
export function withConversationName(account: AccountPayload, peer: string, name: string, w: Writer): AccountChange<ConversationNameEntry> {
  checkConversationName(peer, name)
  const names = account.names ?? []
  const old = names.find((n) => n.accountId === peer)
  if (old?.name === name) return { account, result: { peer, name, at: old.at }, changed: false }
  if (!old && names.length >= MAX_CONVERSATION_NAMES) throw new InvalidArgumentError(`At most ${MAX_CONVERSATION_NAMES} conversation names`)
  const tomb = account.removed?.names?.find((t) => t.accountId === peer)
  const entry: ConversationName = { accountId: peer, name, at: writeTime(w, old ?? tomb), device: w.device }
  const next = withTombstones(account, 'names', peer)
  return { account: { ...next, names: old ? names.map((n) => (n === old ? entry : n)) : [...names, entry] }, result: { peer, name, at: entry.at }, changed: true }
}

/** The account without a name for `peer`'s conversation (kept as a tombstone); result false if it had none. */
export function withoutConversationName(account: AccountPayload, peer: string, w: Writer): AccountChange<boolean> {
  checkPeer(peer)
  const names = account.names ?? []
  const old = names.find((n) => n.accountId === peer)
  if (!old) return { account, result: false, changed: false }
  const tomb = { accountId: peer, at: writeTime(w, old), device: w.device }
  return { account: { ...withTombstones(account, 'names', peer, tomb), names: names.filter((n) => n !== old) }, result: true, changed: true }
}

/** The account's conversation names (copies, without the sync fields), sorted by peer. */
export function conversationNamesOf(account: AccountPayload): ConversationNameEntry[] {
  return (account.names ?? []).map((n) => ({ peer: n.accountId, name: n.name, at: n.at })).sort((a, b) => (a.peer < b.peer ? -1 : 1))
}
