/**
 * Fetch requests: a mailbox is read only by its device (docs/mailbox.md, "Fetch"). The items' headers name their
 * senders, so a storing node that answered anyone would tell whoever knows a device ID who writes to it. The device
 * signs `{ v, mailbox, at }` with its device key (`identity.signMailboxFetch`) and sends its certificate with it; a
 * storing node checks it as it checks a delete: `at` within the clock skew, the certificate's chain, the mailbox is
 * that device's for this epoch or one next to it, the signature. A captured request reads the same mailbox again
 * within its minute, which tells nothing new to whoever captured it.
 */
import { canonicalEncode, isId, mailboxFetchSigningBytes, type SignedRecord, signDetached } from '@baran/trust'
import { BadFetchRequestError } from './errors.ts'
import { checkRecipientRequest, type MailboxClock, type MailboxId } from './mailbox-item.ts'

export interface FetchRequest {
  v: 1
  mailbox: MailboxId
  /** ms since epoch: a request is accepted within the clock skew of it */
  at: number
  deviceCert: SignedRecord
  /** base64url Ed25519 over "baran.mailbox.fetch.v1\0" ‖ canonical { v, mailbox, at } */
  sig: string
}

/** Sign a fetch request as the recipient device (its certificate and 64-byte Ed25519 secret key). */
export function signFetchRequest(input: { mailbox: MailboxId; at?: number; deviceCert: SignedRecord; deviceSecretKey: Uint8Array }): FetchRequest {
  const r = { v: 1 as const, mailbox: input.mailbox, at: input.at ?? Date.now() }
  return { ...r, deviceCert: input.deviceCert, sig: signDetached(mailboxFetchSigningBytes(r), input.deviceSecretKey) }
}

/** Wire bytes of a fetch request (canonical JSON). */
export function encodeFetchRequest(r: FetchRequest): Uint8Array {
  return canonicalEncode(r)
}

/** Decode and check a fetch request for `mailbox` as a storing node does; throws BadFetchRequestError naming what failed. */
export function checkFetchRequest(bytes: Uint8Array, mailbox: MailboxId, clock: MailboxClock = {}): FetchRequest {
  return checkRecipientRequest<FetchRequest>(bytes, clock, {
    what: 'fetch request',
    fields: 'at,deviceCert,mailbox,sig,v',
    refuse: (m, o) => new BadFetchRequestError(m, o),
    check: (r) => (isId(r.mailbox) && r.mailbox === mailbox ? undefined : `for another mailbox than ${mailbox}`),
    signed: mailboxFetchSigningBytes,
  })
}
