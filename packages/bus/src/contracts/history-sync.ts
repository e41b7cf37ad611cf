import { z } from 'zod'
import { contract } from '../lib/contract.ts'
import { IdSchema, MultiaddrSchema } from './common.ts'
import { ACCOUNT_STATE_MAX, AccountRegisterSchema, AccountStateKindSchema } from './identity-blocks.ts'

/**
 * The history sync between two devices of one account (docs/history.md): what one device asks of another over
 * `/baran/history-sync/1.0.0` (transport carries it, the other device's outbox answers from its history). Every
 * request and answer is bounded: lists come in parts of at most SYNC_MAX_LIST (ask again `after` the last one
 * while `more`), a fetch names at most SYNC_MAX_IDS messages and the answer stops early (`next`) past its size.
 */
export const SYNC_MAX_IDS = 200
export const SYNC_MAX_LIST = 2000
/** What one answer may take as JSON (the bus allows 1 MiB a message, the channel 1 MiB a frame). */
export const SYNC_MAX_ANSWER_BYTES = 768 * 1024

const MessageId = z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, 'a 26-char message ID')
/** A message ID prefix (a time range): 1 to 10 characters of the ID alphabet. */
const Prefix = z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{0,9}$/, 'a message ID prefix of 1-10 characters')
const Hash = z.string().regex(/^[0-9a-f]{32}$/, '32 hex characters')
const Time = z.number().int().nonnegative()

export const SyncRequestSchema = z.discriminatedUnion('op', [
  /** Every conversation's summary, by peer, after `after`. */
  z.object({ op: z.literal('conversations'), after: IdSchema.optional() }).strict(),
  /** One conversation's ranges of `prefixLen` characters (inside `within`), after the range `after`. */
  z
    .object({
      op: z.literal('ranges'),
      peer: IdSchema,
      prefixLen: z.number().int().min(1).max(10),
      within: z.array(Prefix).min(1).max(SYNC_MAX_LIST).optional(),
      after: Prefix.optional(),
    })
    .strict(),
  /** The `{ id, hash }` items of the given ranges, after the message `after`. */
  z.object({ op: z.literal('items'), peer: IdSchema, prefixes: z.array(Prefix).min(1).max(SYNC_MAX_LIST), after: MessageId.optional() }).strict(),
  /** The stored copies of some messages (absent ones left out). */
  z.object({ op: z.literal('fetch'), peer: IdSchema, ids: z.array(MessageId).min(1).max(SYNC_MAX_IDS) }).strict(),
  /** The account's contact or block registers (identity's), after the account `after`. */
  z.object({ op: z.literal('account-state'), kind: AccountStateKindSchema, after: IdSchema.optional() }).strict(),
  /** The declined contact requests (the outbox's: each hides a peer's messages up to `upTo`), after the peer `after`. */
  z.object({ op: z.literal('declines'), after: IdSchema.optional() }).strict(),
])
export type SyncRequest = z.infer<typeof SyncRequestSchema>

/** A message as it travels between own devices: its body readable (opened by the serving device) unless it did not open. */
export const SyncEntrySchema = z
  .object({
    v: z.literal(1),
    id: MessageId,
    peer: IdSchema,
    direction: z.enum(['in', 'out']),
    from: IdSchema,
    fromDevice: IdSchema,
    to: IdSchema,
    body: z.string().max(256 * 1024).optional(),
    sealed: z.string().max(120_000).optional(),
    sentAt: Time,
    storedAt: Time,
    prev: MessageId.optional(),
    devices: z
      .array(z.object({ deviceId: IdSchema, state: z.enum(['queued', 'delivered', 'expired', 'rejected']), at: Time.optional(), readAt: Time.optional() }).strict())
      .max(1024)
      .optional(),
    readAt: Time.optional(),
    updatedAt: Time,
  })
  .strict()
export type SyncEntry = z.infer<typeof SyncEntrySchema>

export const SyncAnswerSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('conversations'),
      conversations: z.array(z.object({ peer: IdSchema, count: z.number().int().nonnegative(), high: MessageId.optional(), digest: Hash }).strict()).max(SYNC_MAX_LIST),
      more: z.boolean(),
    })
    .strict(),
  z
    .object({ op: z.literal('ranges'), ranges: z.array(z.object({ prefix: Prefix, count: z.number().int().positive(), digest: Hash }).strict()).max(SYNC_MAX_LIST), more: z.boolean() })
    .strict(),
  z.object({ op: z.literal('items'), items: z.array(z.object({ id: MessageId, hash: Hash }).strict()).max(SYNC_MAX_LIST), more: z.boolean() }).strict(),
  /** `next`: the answer stopped there for its size; ask again for `ids.slice(next)`. */
  z.object({ op: z.literal('fetch'), entries: z.array(SyncEntrySchema).max(SYNC_MAX_IDS), next: z.number().int().min(1).max(SYNC_MAX_IDS).optional() }).strict(),
  z.object({ op: z.literal('account-state'), kind: AccountStateKindSchema, registers: z.array(AccountRegisterSchema).max(ACCOUNT_STATE_MAX), more: z.boolean() }).strict(),
  z.object({ op: z.literal('declines'), declines: z.array(z.object({ peer: IdSchema, upTo: MessageId }).strict()).max(SYNC_MAX_LIST), more: z.boolean() }).strict(),
])
export type SyncAnswer = z.infer<typeof SyncAnswerSchema>

export const transportSyncRequest = contract({
  actor: 'transport',
  verb: 'syncRequest',
  request: z
    .object({
      /** The own device asked: its handshake must prove it is this device of this node's account (and not revoked). */
      deviceId: IdSchema,
      peerId: z.string().min(1).max(128),
      addrs: z.array(MultiaddrSchema).max(64),
      request: SyncRequestSchema,
      timeoutMs: z.number().int().positive().max(120_000).optional(),
    })
    .strict(),
  reply: SyncAnswerSchema,
  callers: ['outbox'],
  description: "one history sync request to another device of this account over /baran/history-sync/1.0.0, answered by that device's outbox",
  errors: ['unreachable', 'handshake_failed', 'revoked', 'not_own_device', 'refused', 'timeout', 'aborted', 'no_credentials', 'malformed_frame', 'frame_too_large', 'invalid_argument', 'stopped'],
})

export const outboxSyncServe = contract({
  actor: 'outbox',
  verb: 'syncServe',
  request: z.object({ deviceId: IdSchema, request: SyncRequestSchema }).strict(),
  reply: SyncAnswerSchema,
  callers: ['transport'],
  description: 'answer another device of this account (its handshake verified by transport) from the history: summaries, ranges, items, messages',
  errors: ['not_own_device', 'no_account'],
})

export const outboxHistorySummary = contract({
  actor: 'outbox',
  verb: 'historySummary',
  request: z.object({ peer: IdSchema }).strict(),
  reply: z.object({ peer: IdSchema, count: z.number().int().nonnegative(), high: z.string().optional(), digest: Hash }),
  callers: ['cli', 'ui'],
  description: "one conversation's sync summary on this device (count, newest ID, digest): equal on two devices that hold the same history",
})
