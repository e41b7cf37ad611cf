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
      recipients: z.array(SignedRecordWireSchema).min(1).max(ENVELOPE_MAX_RECIPIENTS),
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

export const identityEnvelopeContracts = [identitySeal, identityOpen] as const
