import { z } from 'zod'
import { contract } from '../lib/contract.ts'
import { Base64Schema, IdSchema, SignedRecordWireSchema } from './common.ts'

/**
 * The DHT mailbox (issue 17): sealed envelopes wait on the DHT for an offline device, under its mailbox for the
 * epoch of their sentAt, up to 7 days; the storing nodes check them without decrypting and only the recipient device
 * deletes. Design, checks, quotas and what a storing node learns: docs/mailbox.md.
 */
const A = 'discovery'
const CALLERS = ['outbox', 'cli', 'ui'] as const

/** A mailbox: 40 hex (@baran/discovery mailboxId(deviceId, epoch)). */
export const MailboxIdSchema = z.string().regex(/^[0-9a-f]{40}$/, 'a 40-char lowercase hex mailbox ID')
/** An item's ID: hex SHA-256 of its envelope. */
export const MailboxItemHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256')
/** Base64 of up to twice the 64 KiB limit passes the schema, so an oversized envelope gets `mailbox_item_too_large`. */
const envelopeText = Base64Schema.min(1).max(Math.ceil((2 * 64 * 1024) / 3) * 4)

/** Why a deposit is refused: the storing nodes' reasons (and the node's own check before it sends). */
const DEPOSIT_ERRORS = [
  'mailbox_forged',
  'wrong_mailbox',
  'mailbox_item_expired',
  'mailbox_replayed',
  'mailbox_item_too_large',
  'sender_quota',
  'mailbox_quota',
  'mailbox_store_full',
  'invalid_key',
  'publish_failed',
  'not_started',
  'rpc_failed',
] as const

export const discoveryMailboxPut = contract({
  actor: A,
  verb: 'mailboxPut',
  request: z.object({ mailbox: MailboxIdSchema, envelope: envelopeText }).strict(),
  reply: z.object({ mailbox: MailboxIdSchema, hash: MailboxItemHashSchema, stored: z.number().int(), attempted: z.number().int() }),
  callers: [...CALLERS],
  description: "deposit a sealed envelope in a recipient device's mailbox on the DHT (kept 7 days from its sentAt)",
  errors: [...DEPOSIT_ERRORS],
})

export const MailboxItemSchema = z.object({
  hash: MailboxItemHashSchema,
  envelope: Base64Schema,
  senderAccount: IdSchema,
  senderDevice: IdSchema,
  envelopeId: z.string(),
  sentAt: z.number().int(),
  expiresAt: z.number().int(),
})

export const discoveryMailboxFetch = contract({
  actor: A,
  verb: 'mailboxFetch',
  request: z
    .object({
      mailbox: MailboxIdSchema,
      skip: z.number().int().nonnegative().optional(),
      /** the mailbox device's signed request (identity.signMailboxFetch): storing nodes answer only that */
      auth: z
        .object({ v: z.literal(1), mailbox: MailboxIdSchema, at: z.number().int(), deviceCert: SignedRecordWireSchema, sig: z.string().max(128) })
        .strict(),
    })
    .strict(),
  reply: z.object({
    items: z.array(MailboxItemSchema),
    /** items found in all */
    total: z.number().int(),
    /** pass as `skip` for the next page (the reply holds at most 512 KiB of envelopes); absent on the last page */
    next: z.number().int().optional(),
  }),
  callers: [...CALLERS],
  description: 'the items of a mailbox, from this node and the mailbox’s closest nodes, each checked, oldest sentAt first',
  errors: ['bad_fetch_request', 'invalid_key', 'not_started', 'rpc_failed'],
})

export const discoveryMailboxDelete = contract({
  actor: A,
  verb: 'mailboxDelete',
  request: z
    .object({
      /** the request the recipient device signed (@baran/discovery signDeleteRequest) */
      request: z
        .object({
          v: z.literal(1),
          mailbox: MailboxIdSchema,
          items: z.array(MailboxItemHashSchema).min(1).max(256),
          at: z.number().int(),
          deviceCert: SignedRecordWireSchema,
          sig: z.string().max(128),
        })
        .strict(),
    })
    .strict(),
  reply: z.object({ deleted: z.number().int(), attempted: z.number().int() }),
  callers: [...CALLERS],
  description: 'delete items of a mailbox with a request its recipient device signed',
  errors: ['bad_delete_request', 'invalid_key', 'not_started', 'rpc_failed'],
})

export const discoveryMailboxContracts = [discoveryMailboxPut, discoveryMailboxFetch, discoveryMailboxDelete] as const
