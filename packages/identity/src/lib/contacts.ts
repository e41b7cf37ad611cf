/** The account's contact list: checking a contact given by a caller and adding it to (or renaming it in) the list. */
import { isId } from '@baran/trust'
import type { Contact } from './archive.ts'
import { MAX_CONTACT_NAME, MAX_CONTACTS } from './constants.ts'
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

/**
 * The list with `contact` added (at `now`), or renamed if already there (keeping when it was added).
 * Throws InvalidArgumentError beyond MAX_CONTACTS.
 */
export function withContact(contacts: Contact[], contact: { accountId: string; name?: string }, now: number): { contacts: Contact[]; entry: Contact } {
  const old = contacts.find((c) => c.accountId === contact.accountId)
  if (!old && contacts.length >= MAX_CONTACTS) throw new InvalidArgumentError(`At most ${MAX_CONTACTS} contacts`)
  const entry: Contact = { accountId: contact.accountId, addedAt: old?.addedAt ?? now }
  if (contact.name !== undefined) entry.name = contact.name
  return { contacts: old ? contacts.map((c) => (c === old ? entry : c)) : [...contacts, entry], entry }
}
