import { z } from 'zod'
import { contract } from '../lib/contract.ts'
import { IdSchema } from './common.ts'

/**
 * Conversation names (issue 18): the account's own name for a conversation, keyed by the peer's account ID (a 1:1
 * conversation). Identity keeps them with the account (archive, link offers) and the outbox's device sync carries
 * them to the account's other devices as the `names` account-state registers (docs/history.md): last writer wins,
 * a cleared name is a tombstone.
 */
const A = 'identity'
const USER = ['cli', 'ui'] as const

/** The identity library's MAX_CONVERSATION_NAME and MAX_CONVERSATION_NAMES. */
export const MAX_CONVERSATION_NAME = 128
export const MAX_CONVERSATION_NAMES = 10_000

const name = z.string().min(1).max(MAX_CONVERSATION_NAME)
/** `at`: when the name was last set, on any device of the account. */
export const ConversationNameSchema = z.object({ peer: IdSchema, name, at: z.number().int().nonnegative() })
export type ConversationNameEntry = z.infer<typeof ConversationNameSchema>

export const identityConversationNames = contract({
  actor: A,
  verb: 'conversationNames',
  /** `peer`: only that conversation's name (none when it has none). */
  request: z.object({ peer: IdSchema.optional() }).strict().optional(),
  reply: z.object({ names: z.array(ConversationNameSchema).max(MAX_CONVERSATION_NAMES) }),
  callers: USER,
  description: "the account's conversation names, sorted by peer, or only `peer`'s (empty without an account)",
})
export const identitySetConversationName = contract({
  actor: A,
  verb: 'setConversationName',
  request: z.object({ peer: IdSchema, name }).strict(),
  reply: ConversationNameSchema,
  callers: USER,
  description: "name (or rename) the conversation with `peer`, on every device of the account",
  errors: ['no_account', 'invalid_argument'],
})
export const identityClearConversationName = contract({
  actor: A,
  verb: 'clearConversationName',
  request: z.object({ peer: IdSchema }).strict(),
  reply: z.object({ cleared: z.boolean() }),
  callers: USER,
  description: "clear the name of the conversation with `peer` (cleared: false when it had none)",
  errors: ['no_account', 'invalid_argument'],
})

export const identityNameContracts = [identityConversationNames, identitySetConversationName, identityClearConversationName] as const
