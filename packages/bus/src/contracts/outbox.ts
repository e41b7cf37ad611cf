import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'
import { Base64Schema, IdSchema } from './common.ts'
import { outboxHistorySummary, outboxSyncServe } from './history-sync.ts'

/** The outbox actor: durable delivery (JetStream), resend on presence and back-off, inbox, receipts. */
const A = 'outbox'
export const DeliveryStateSchema = z.enum(['queued', 'sending', 'delivered', 'expired', 'rejected'])
export type DeliveryState = z.infer<typeof DeliveryStateSchema>
export const MAX_BODY_BYTES = 64 * 1024
/** A send's idempotency key: 16–64 URL-safe characters (a random UUID or 128-bit base64url fits). */
export const IdempotencyKeySchema = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'an idempotency key is 16–64 characters of A-Z a-z 0-9 _ -')

export const DeviceDeliverySchema = z.object({
  deviceId: IdSchema,
  state: DeliveryStateSchema,
  attempts: z.number().int(),
  sync: z.boolean(),
  nextAttemptAt: z.number().int().optional(),
  deliveredAt: z.number().int().optional(),
  /** When the device's user read it (a read receipt came back). */
  readAt: z.number().int().optional(),
  lastError: z.string().optional(),
  /** When its envelope was deposited in the device's DHT mailbox (the device was not reachable): docs/mailbox.md. */
  depositedAt: z.number().int().optional(),
})
export const OutgoingSchema = z.object({
  id: z.string(),
  /** A message, or a read receipt this node sends back (both travel the same durable path). */
  kind: z.enum(['message', 'receipt']).optional(),
  to: IdSchema,
  toName: z.string().optional(),
  /** The first characters of the body (bodies are not listed in full). */
  preview: z.string().optional(),
  /** For a receipt: the message it is about. */
  ref: z.string().optional(),
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
  /** False until the recipient account's device list was found (devices then holds only sync copies). */
  devicesResolved: z.boolean().optional(),
  /** Set when the message expired before its recipient's devices could even be found. */
  expiredAt: z.number().int().optional(),
  devices: z.array(DeviceDeliverySchema),
})
export type Outgoing = z.infer<typeof OutgoingSchema>

export const outboxSend = contract({
  actor: A,
  verb: 'send',
  request: z
    .object({
      to: z.string().min(1).max(64),
      body: z.string().min(1).max(MAX_BODY_BYTES),
      ttlMs: z.number().int().positive().max(365 * 86_400_000).optional(),
      /** The same key again (a retry after a timeout) stores nothing new: the reply is the first send's message. */
      idempotencyKey: IdempotencyKeySchema.optional(),
    })
    .strict(),
  reply: OutgoingSchema,
  callers: ['cli', 'ui'],
  description: 'queue a message to a name or account ID; replies once it is persisted',
  errors: ['no_account', 'unknown_recipient', 'no_devices', 'naming_unavailable', 'body_too_large', 'payload_too_large', 'invalid_name', 'invalid_message_id', 'corrupt_record'],
})

export const outboxPending = contract({
  actor: A,
  verb: 'pending',
  request: z.object({ all: z.boolean().optional(), limit: z.number().int().positive().max(10_000).optional() }).strict().optional(),
  reply: z.object({ messages: z.array(OutgoingSchema), total: z.number().int() }),
  callers: ['cli', 'ui'],
  description: 'messages not yet delivered to every device, with per-device state (all: also finished ones)',
  errors: ['corrupt_record'],
})

export const outboxStatus = contract({
  actor: A,
  verb: 'status',
  request: z.object({ id: z.string().min(1).max(64) }).strict(),
  reply: OutgoingSchema,
  callers: ['cli', 'ui'],
  description: 'the per-device delivery state of one message',
  errors: ['invalid_message_id', 'corrupt_record'],
})

export const outboxReceive = contract({
  actor: A,
  verb: 'receive',
  request: z
    .object({
      id: z.string().min(1).max(64),
      payload: Base64Schema.max(350_000),
      from: z.object({ accountId: IdSchema, deviceId: IdSchema, peerId: z.string().max(128) }).strict(),
    })
    .strict(),
  reply: z.object({ status: z.enum(['stored', 'duplicate', 'rejected']), reason: z.string().optional() }),
  callers: ['transport'],
  description: 'an envelope arrived from an authenticated device: verify, de-duplicate, persist, then answer (the ack)',
  errors: ['invalid_message_id', 'malformed_payload', 'payload_too_large', 'corrupt_record', 'no_account'],
})

export const InboxMessageSchema = z.object({
  id: z.string(),
  from: IdSchema,
  fromDevice: IdSchema,
  body: z.string(),
  sentAt: z.number().int(),
  receivedAt: z.number().int(),
  read: z.boolean(),
  sync: z.boolean(),
  to: IdSchema,
})
export type InboxMessage = z.infer<typeof InboxMessageSchema>

export const outboxInbox = contract({
  actor: A,
  verb: 'inbox',
  request: z.object({ limit: z.number().int().positive().max(10_000).optional(), after: z.string().max(64).optional(), unreadOnly: z.boolean().optional() }).strict().optional(),
  // `next`: the reply was cut short (count or size): ask again with `after: next` for the rest.
  reply: z.object({ messages: z.array(InboxMessageSchema), total: z.number().int(), next: z.string().optional() }),
  callers: ['cli', 'ui'],
  description: 'received messages in arrival order, oldest arrival first (paged: follow `next`)',
  errors: ['corrupt_record', 'invalid_message_id', 'not_found'],
})

export const outboxMarkRead = contract({
  actor: A,
  verb: 'markRead',
  request: z.object({ ids: z.array(z.string().max(64)).min(1).max(1000), receipt: z.boolean().optional() }).strict(),
  reply: z.object({ read: z.number().int() }),
  callers: ['cli', 'ui'],
  description: 'mark messages read (and send read receipts unless receipt: false)',
  errors: ['no_account', 'invalid_message_id', 'corrupt_record'],
})

export const outboxDelivery = event({
  actor: A,
  event: 'delivery',
  // deviceId is absent when a message expired before its recipient's devices could be found.
  body: z.object({
    id: z.string(),
    kind: z.enum(['message', 'receipt']).optional(),
    to: IdSchema,
    deviceId: IdSchema.optional(),
    sync: z.boolean().optional(),
    state: DeliveryStateSchema,
    attempts: z.number().int(),
    at: z.number().int(),
    error: z.string().optional(),
    /** set (to `at`) on the change that deposited its envelope in the device's DHT mailbox */
    deposited: z.number().int().optional(),
  }),
  readers: ['cli', 'ui'],
  description: 'a message changed state for one device',
})
export const outboxReceived = event({
  actor: A,
  event: 'received',
  body: InboxMessageSchema,
  // Message bodies: only the user's own clients, never another actor.
  readers: ['cli', 'ui'],
  description: 'a message was stored in the inbox (inbox.watch); at least once: a restart may announce again what its sender resent (de-duplicate by id)',
})
export const outboxReceipt = event({
  actor: A,
  event: 'receipt',
  body: z.object({ id: z.string(), from: IdSchema, deviceId: IdSchema, kind: z.enum(['delivered', 'read']), at: z.number().int() }),
  readers: ['cli', 'ui'],
  description: 'a delivery or read receipt for a message this node sent',
})

export const HistoryMessageSchema = z.object({
  id: z.string(),
  /** `out`: this account sent it (from this device or another of its own); `in`: the peer sent it. */
  direction: z.enum(['in', 'out']),
  from: IdSchema,
  fromDevice: IdSchema,
  to: IdSchema,
  body: z.string(),
  /** Set when a message sent from here could not be opened (its body is kept sealed to this device): the reason. */
  unreadable: z.string().optional(),
  sentAt: z.number().int(),
  /** When this device stored it. */
  storedAt: z.number().int(),
  /** The previous message of the same sending device in this conversation. */
  prev: z.string().optional(),
  /** In one word: `received`/`read` for `in`; `queued`/`delivered`/`read`/`expired`/`rejected` for `out` (the furthest any recipient device got). */
  state: z.enum(['received', 'read', 'queued', 'delivered', 'expired', 'rejected']),
  read: z.boolean(),
  readAt: z.number().int().optional(),
  /** `out`: each recipient device's delivery. */
  devices: z
    .array(z.object({ deviceId: IdSchema, state: z.enum(['queued', 'delivered', 'expired', 'rejected']), at: z.number().int().optional(), readAt: z.number().int().optional() }))
    .optional(),
})
export type HistoryMessage = z.infer<typeof HistoryMessageSchema>

export const outboxHistory = contract({
  actor: A,
  verb: 'history',
  request: z
    .object({
      /** The other account: a name or a 40-hex account ID. */
      peer: z.string().min(1).max(64),
      before: z.string().max(64).optional(),
      after: z.string().max(64).optional(),
      limit: z.number().int().positive().max(1000).optional(),
    })
    .strict(),
  reply: z.object({
    peer: IdSchema,
    messages: z.array(HistoryMessageSchema),
    total: z.number().int(),
    /** Message IDs a received message names as its sender's previous one that this device does not hold. */
    gaps: z.array(z.string()),
    hasBefore: z.boolean(),
    hasAfter: z.boolean(),
  }),
  callers: ['cli', 'ui'],
  description: 'one conversation, both directions, in message-ID order, with delivery and read state (paged: before/after)',
  errors: ['invalid_message_id', 'unknown_recipient', 'naming_unavailable', 'corrupt_record'],
})

/** A conversation started by an account that is not a contact (nor blocked): accept (add the contact), decline, or block. */
export const ContactRequestSchema = z.object({
  accountId: IdSchema,
  /** Incoming messages since the last decline. */
  messages: z.number().int(),
  newest: z.object({ id: z.string(), preview: z.string(), sentAt: z.number().int() }),
})
export type ContactRequest = z.infer<typeof ContactRequestSchema>

export const outboxRequests = contract({
  actor: A,
  verb: 'requests',
  request: z.object({ limit: z.number().int().positive().max(1000).optional() }).strict().optional(),
  reply: z.object({ requests: z.array(ContactRequestSchema) }),
  callers: ['cli', 'ui'],
  description: 'contact requests: conversations a non-contact started, newest first (accept = identity.addContact, block = identity.block)',
  errors: ['no_account', 'unavailable'],
})

export const outboxDeclineRequest = contract({
  actor: A,
  verb: 'declineRequest',
  request: z.object({ peer: IdSchema }).strict(),
  reply: z.object({ declined: z.boolean() }),
  callers: ['cli', 'ui'],
  description: "hide an account's request up to its newest message (a later message asks again); declined: false when nothing was pending",
  errors: ['no_account'],
})

export const outboxContracts = [outboxSend, outboxPending, outboxStatus, outboxReceive, outboxInbox, outboxMarkRead, outboxHistory, outboxRequests, outboxDeclineRequest, outboxSyncServe, outboxHistorySummary] as const
