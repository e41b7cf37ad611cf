import {
  canonicalDecode,
  canonicalEncode,
  decodeEnvelope,
  isEnvelopeError,
  isId,
  isTrustError,
  mailboxEpoch,
  mailboxesOf as trustMailboxesOf,
  mailboxId as trustMailboxId,
  mailboxDeleteSigningBytes,
  MAX_ENVELOPE_BYTES,
  type SignedRecord,
  signDetached,
  verifyChain,
  verifyDetached,
  verifyEnvelope,
} from '@baran/trust'
import { sha256 } from './bytes.ts'
import { DEFAULT_CLOCK_SKEW_MS, MAILBOX_ITEM_TTL_MS, MAILBOX_NAMESPACE, MAX_MAILBOX_DELETE_ITEMS } from './constants.ts'
import {
  BadDeleteRequestError,
  ForgedEnvelopeError,
  InvalidKeyError,
  MailboxItemExpiredError,
  MailboxItemTooLargeError,
  WrongMailboxError,
} from './errors.ts'

/**
 * Mailbox items: sealed envelopes (@baran/trust, docs/envelopes.md) waiting on the DHT for an offline device, under
 * the device's mailbox for the epoch of their sentAt. A storing node checks a deposit without decrypting it
 * (checkDeposit); only the recipient device deletes (a request signed with its device key, checkDeleteRequest).
 * Design and what a storing node learns: docs/mailbox.md.
 */

/** A mailbox ID: 40 lowercase hex. */
export type MailboxId = string

const HEX64 = /^[0-9a-f]{64}$/

// Mailbox IDs are derived in @baran/trust (identity and the outbox need them too); here a bad input is an
// InvalidKeyError, as every other malformed DHT key is.
export { mailboxEpoch }

/** The mailbox of a device for an epoch: SHA-256("baran.mailbox.v1\0" ‖ deviceId ‖ "\0" ‖ epoch), first 20 bytes, hex. */
export function mailboxId(deviceId: string, epoch: number): MailboxId {
  return asInvalidKey(() => trustMailboxId(deviceId, epoch))
}

/** The mailboxes a device reads at `now`: this epoch's and the previous one's (an item lives one epoch). */
export function mailboxesOf(deviceId: string, now = Date.now()): MailboxId[] {
  return asInvalidKey(() => trustMailboxesOf(deviceId, now))
}

function asInvalidKey<T>(derive: () => T): T {
  try {
    return derive()
  } catch (e) {
    if (e instanceof RangeError) throw new InvalidKeyError(e.message, { cause: e })
    throw e
  }
}

/** `/baran-mailbox/<id>`: the DHT key whose closest nodes store the mailbox. */
export function mailboxKey(id: MailboxId): string {
  if (!isId(id)) throw new InvalidKeyError('mailbox id must be 40 lowercase hex chars')
  return `/${MAILBOX_NAMESPACE}/${id}`
}

/** A deposit that passed checkDeposit. */
export interface MailboxItem {
  /** hex SHA-256 of the envelope bytes */
  hash: string
  mailbox: MailboxId
  envelope: Uint8Array
  senderAccount: string
  senderDevice: string
  envelopeId: string
  sentAt: number
  expiresAt: number
}

/** Clock of a check. */
export interface MailboxClock {
  /** ms since epoch @default Date.now() */
  now?: number
  /** @default 60_000 */
  clockSkewMs?: number
}

/** hex SHA-256 of an envelope: the item's ID. */
export function itemHash(envelope: Uint8Array): string {
  return Buffer.from(sha256(envelope)).toString('hex')
}

/**
 * Check a deposit for `mailbox` as a storing node does, without decrypting: at most 64 KiB
 * (MailboxItemTooLargeError); a well-formed envelope whose sender chain (valid when it was sent) and signature verify
 * (ForgedEnvelopeError); sentAt not beyond now + skew and sentAt + 7 days not past (MailboxItemExpiredError); the
 * mailbox is one of its recipients' for the epoch of its sentAt (WrongMailboxError).
 */
export function checkDeposit(mailbox: MailboxId, envelope: Uint8Array, clock: MailboxClock = {}): MailboxItem {
  const now = clock.now ?? Date.now()
  const skew = clock.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
  if (!(envelope instanceof Uint8Array)) throw new ForgedEnvelopeError('a mailbox item must be envelope bytes')
  if (envelope.length > MAX_ENVELOPE_BYTES) throw new MailboxItemTooLargeError(`mailbox item of ${envelope.length} bytes is over ${MAX_ENVELOPE_BYTES}`)
  if (!isId(mailbox)) throw new InvalidKeyError('mailbox id must be 40 lowercase hex chars')
  let sentAt: number
  try {
    sentAt = decodeEnvelope(envelope).sentAt
  } catch (cause) {
    throw new ForgedEnvelopeError(`not an envelope: ${(cause as Error).message}`, { cause })
  }
  if (sentAt > now + skew) throw new MailboxItemExpiredError(`envelope was sent in the future (${sentAt})`)
  const expiresAt = sentAt + MAILBOX_ITEM_TTL_MS
  if (expiresAt <= now) throw new MailboxItemExpiredError(`mailbox item expired at ${expiresAt}`)
  let verified: ReturnType<typeof verifyEnvelope>
  try {
    // The sender's certificate must have been valid when it sent: the item outlives it (and its sender).
    verified = verifyEnvelope(envelope, { now: sentAt, clockSkewMs: skew })
  } catch (cause) {
    if (isEnvelopeError(cause) || isTrustError(cause)) throw new ForgedEnvelopeError(`envelope refused: ${(cause as Error).message}`, { cause })
    throw cause
  }
  const epoch = mailboxEpoch(sentAt)
  if (!verified.recipients.some((r) => mailboxId(r, epoch) === mailbox)) {
    throw new WrongMailboxError(`mailbox ${mailbox} is not the mailbox of any of the envelope's ${verified.recipients.length} recipients for epoch ${epoch}`)
  }
  return {
    hash: itemHash(envelope),
    mailbox,
    envelope,
    senderAccount: verified.sender.accountId,
    senderDevice: verified.sender.deviceId,
    envelopeId: verified.id,
    sentAt,
    expiresAt,
  }
}

/** A recipient's request to delete items of its mailbox, signed with its device key. */
export interface DeleteRequest {
  v: 1
  mailbox: MailboxId
  /** item hashes (hex SHA-256 of the envelopes) */
  items: string[]
  /** ms since epoch: a request is accepted within the clock skew of it */
  at: number
  deviceCert: SignedRecord
  /** base64url Ed25519 over "baran.mailbox.delete.v1\0" ‖ canonical { v, mailbox, items, at } */
  sig: string
}

/** Sign a delete request as the recipient device (its certificate and 64-byte Ed25519 secret key). */
export function signDeleteRequest(input: { mailbox: MailboxId; items: string[]; at?: number; deviceCert: SignedRecord; deviceSecretKey: Uint8Array }): DeleteRequest {
  const r = { v: 1 as const, mailbox: input.mailbox, items: [...input.items], at: input.at ?? Date.now() }
  return { ...r, deviceCert: input.deviceCert, sig: signDetached(mailboxDeleteSigningBytes(r), input.deviceSecretKey) }
}

/** Wire bytes of a delete request (canonical JSON). */
export function encodeDeleteRequest(r: DeleteRequest): Uint8Array {
  return canonicalEncode(r)
}

/**
 * Decode and check a delete request as a storing node does: shape, `at` within the clock skew of now, the device
 * certificate verifies, the mailbox is that device's for this epoch or one next to it, and the signature is its
 * device key's. Throws BadDeleteRequestError naming what failed.
 */
export function checkDeleteRequest(bytes: Uint8Array, clock: MailboxClock = {}): DeleteRequest {
  return checkRecipientRequest<DeleteRequest>(bytes, clock, {
    what: 'delete request',
    fields: 'at,deviceCert,items,mailbox,sig,v',
    refuse: (m, o) => new BadDeleteRequestError(m, o),
    check: (r) => {
      if (!isId(r.mailbox)) return 'bad mailbox'
      if (!Array.isArray(r.items) || r.items.length < 1 || r.items.length > MAX_MAILBOX_DELETE_ITEMS || !r.items.every((h) => typeof h === 'string' && HEX64.test(h))) {
        return `items must be 1..${MAX_MAILBOX_DELETE_ITEMS} hex SHA-256 hashes`
      }
      return undefined
    },
    signed: mailboxDeleteSigningBytes,
  })
}

/**
 * Decode and check a request a recipient device signed for its mailbox (a delete, a fetch), as a storing node does:
 * canonical JSON of exactly `fields` with `v` 1, the request's own `check` (a reason, or undefined), a fresh `at`
 * (within the clock skew of now), a device certificate whose chain verifies, a mailbox that is that device's for this
 * epoch or one next to it, and the device key's signature over `signed(r)` (encoded only once `at` is known to be an
 * integer). Throws what `refuse` makes, naming what failed.
 */
export function checkRecipientRequest<R extends { v: 1; mailbox: string; at: number; deviceCert: SignedRecord; sig: string }>(
  bytes: Uint8Array,
  clock: MailboxClock,
  opts: { what: string; fields: string; refuse: (message: string, options?: ErrorOptions) => Error; check: (r: R) => string | undefined; signed: (r: R) => Uint8Array },
): R {
  const { what, refuse } = opts
  const now = clock.now ?? Date.now()
  const skew = clock.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
  let r: R
  try {
    r = canonicalDecode(bytes) as R
  } catch (cause) {
    throw refuse(`${what} is not canonical JSON`, { cause })
  }
  if (typeof r !== 'object' || r === null || Object.keys(r).sort().join(',') !== opts.fields || r.v !== 1) throw refuse(`${what}: unknown shape`)
  const why = opts.check(r)
  if (why !== undefined) throw refuse(`${what}: ${why}`)
  if (typeof r.at !== 'number' || !Number.isSafeInteger(r.at) || Math.abs(r.at - now) > skew) throw refuse(`${what}: stale or future time`)
  if (typeof r.sig !== 'string') throw refuse(`${what}: no signature`)
  let chain: ReturnType<typeof verifyChain>
  try {
    chain = verifyChain({ deviceCert: r.deviceCert, now, clockSkewMs: skew })
  } catch (cause) {
    throw refuse(`${what}: device certificate refused: ${(cause as Error).message}`, { cause })
  }
  const e = mailboxEpoch(now)
  if (![e - 1, e, e + 1].some((epoch) => epoch >= 0 && mailboxId(chain.deviceId, epoch) === r.mailbox)) {
    throw refuse(`${what}: mailbox ${r.mailbox} is not device ${chain.deviceId}'s`)
  }
  if (!verifyDetached(opts.signed(r), r.sig, chain.deviceKey)) throw refuse(`${what}: signature does not verify with the device key`)
  return r
}
