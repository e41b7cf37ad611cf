import { z } from 'zod'
import { contract } from '../lib/contract.ts'
import { Base64Schema, IdSchema, KeySchema, SignedRecordWireSchema } from './common.ts'

/**
 * Sealed, signed envelopes (issue 17): identity seals a payload to recipient devices and opens envelopes sealed to
 * this device; the X25519 and Ed25519 private keys never leave it. Format and guarantees: docs/envelopes.md.
 * Callers: the CLI and UI (tools, tests), the outbox and transport (who will carry envelopes).
 */
const A = 'identity'
const CALLERS = ['outbox', 'transport', 'cli', 'ui'] as const

/** Largest envelope (bytes) and most recipient devices (@baran/trust MAX_ENVELOPE_BYTES, MAX_ENVELOPE_RECIPIENTS). */
export const ENVELOPE_MAX_BYTES = 64 * 1024
export const ENVELOPE_MAX_RECIPIENTS = 128
/** Base64 text of up to twice the limit passes the schema, so an oversized envelope gets `too_large`, not a schema error. */
const envelopeText = Base64Schema.min(1).max(Math.ceil((2 * ENVELOPE_MAX_BYTES) / 3) * 4)

/** An envelope ID: a message ID, 1..64 printable ASCII characters. */
export const EnvelopeIdSchema = z.string().regex(/^[\x21-\x7e]{1,64}$/, '1..64 printable ASCII characters')

/**
 * Why identity.open refuses an envelope: the bus error code (details.reason carries the same reason with dashes,
 * as @baran/trust names it: `not-for-this-device`…).
 */
export const EnvelopeRefusalCode = z.enum(['replayed', 'not_for_this_device', 'bad_signature', 'revoked_sender', 'malformed', 'too_large'])
export type EnvelopeRefusalCode = z.infer<typeof EnvelopeRefusalCode>

/** Error codes of identity.seal beyond the common ones (`invalid_request`, `no_account`…). */
export const SealErrorCode = z.enum([
  /** payload, envelope or recipient list over the limits */
  'too_large',
  /** a recipient's device-cert is version 1: the device has no encryption key */
  'no_encryption_key',
  /** a recipient's device-cert does not verify (signature, expiry, IDs) */
  'bad_recipient',
  /** bad envelope ID or recipient list */
  'malformed',
])
export type SealErrorCode = z.infer<typeof SealErrorCode>

/** The sender an opened envelope proves: its account → device chain. */
export const EnvelopeSenderSchema = z.object({
  accountId: IdSchema,
  accountKey: KeySchema,
  deviceId: IdSchema,
  deviceKey: KeySchema,
  deviceName: z.string(),
  encKey: KeySchema.optional(),
})

export const identitySeal = contract({
  actor: A,
  verb: 'seal',
  request: z
    .object({
      /** the message ID; the receiver refuses an ID it has already opened from this device */
      id: EnvelopeIdSchema,
      /** the payload, base64 */
      payload: envelopeText,
      /** each recipient device's device-cert (version 2), e.g. from a lookup of its presence */
      recipients: z.array(SignedRecordWireSchema).max(ENVELOPE_MAX_RECIPIENTS),
      /** seal to this device as well (what it keeps sealed at rest); without it, recipients needs at least one */
      self: z.boolean().optional(),
    })
    .strict(),
  reply: z.object({
    /** the sealed envelope, base64 */
    envelope: Base64Schema,
    bytes: z.number().int().positive(),
    /** the device IDs it is sealed to */
    recipients: z.array(IdSchema),
  }),
  callers: [...CALLERS],
  description: 'seal a payload to recipient devices (HPKE X25519 + ChaCha20-Poly1305) and sign it as this device',
  errors: [...SealErrorCode.options, 'no_account', 'invalid_argument'],
})

export const identityOpen = contract({
  actor: A,
  verb: 'open',
  request: z
    .object({
      /** the sealed envelope, base64 */
      envelope: envelopeText,
      /** the sender account's signed revocation list, when the caller has one (identity knows its own account's) */
      senderRevocations: SignedRecordWireSchema.optional(),
      /**
       * neither check nor record the (sender device, ID) pair in the replay window: for a caller that de-duplicates
       * by envelope ID in its own durable store (the outbox's inbox), so a crash between the open and its write cannot
       * turn the retransmission into a `replayed` refusal and lose the message
       */
      skipReplayWindow: z.boolean().optional(),
    })
    .strict(),
  reply: z.object({
    id: EnvelopeIdSchema,
    sentAt: z.number().int().nonnegative(),
    /** the payload, base64 */
    payload: Base64Schema,
    sender: EnvelopeSenderSchema,
    /** the sender's device-cert as the envelope carried it */
    senderCert: SignedRecordWireSchema,
  }),
  callers: [...CALLERS],
  description: `open an envelope sealed to this device: refusals are errors ${EnvelopeRefusalCode.options.join(', ')}`,
  errors: [...EnvelopeRefusalCode.options, 'no_account', 'invalid_argument'],
})

/** A mailbox ID (40 hex) and item hashes (hex SHA-256): docs/mailbox.md. */
const MailboxRef = z.string().regex(/^[0-9a-f]{40}$/, 'a 40-char lowercase hex mailbox ID')
const ItemHash = z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256')

export const identitySignMailboxDelete = contract({
  actor: A,
  verb: 'signMailboxDelete',
  request: z
    .object({
      /** one of this device's mailboxes (this epoch, or the one before or after) */
      mailbox: MailboxRef,
      items: z.array(ItemHash).min(1).max(256),
      /** ms since epoch @default now */
      at: z.number().int().nonnegative().optional(),
    })
    .strict(),
  /** the delete request as discovery.mailboxDelete takes it */
  reply: z.object({
    v: z.literal(1),
    mailbox: MailboxRef,
    items: z.array(ItemHash),
    at: z.number().int(),
    deviceCert: SignedRecordWireSchema,
    sig: z.string(),
  }),
  callers: ['outbox', 'cli'],
  description: "sign a request to delete items of this device's DHT mailbox with its device key (docs/mailbox.md)",
  errors: ['no_account', 'invalid_argument'],
})

export const identitySignMailboxFetch = contract({
  actor: A,
  verb: 'signMailboxFetch',
  request: z
    .object({
      /** one of this device's mailboxes (this epoch, or the one before or after) */
      mailbox: MailboxRef,
      /** ms since epoch @default now */
      at: z.number().int().nonnegative().optional(),
    })
    .strict(),
  /** the request discovery.mailboxFetch takes as `auth` */
  reply: z.object({ v: z.literal(1), mailbox: MailboxRef, at: z.number().int(), deviceCert: SignedRecordWireSchema, sig: z.string() }),
  callers: ['outbox', 'cli'],
  description: "sign a request to read this device's DHT mailbox with its device key: storing nodes answer a fetch only with it (docs/mailbox.md)",
  errors: ['no_account', 'invalid_argument'],
})

export const identityEnvelopeContracts = [identitySeal, identityOpen, identitySignMailboxDelete, identitySignMailboxFetch] as const
