import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'
import { IdSchema } from './common.ts'

/**
 * Blocking (issue 17 item 4): the accounts this account blocked are kept with the account (archive, link offers), so
 * every device of the account holds the same list. The transport drops a blocked account's connections and envelopes;
 * the outbox never puts its messages in the inbox. Both learn changes from `blocksChanged`.
 */
const A = 'identity'

export const BlockSchema = z.object({ accountId: IdSchema, blockedAt: z.number().int() })
export type Block = z.infer<typeof BlockSchema>

export const identityBlocks = contract({
  actor: A,
  verb: 'blocks',
  request: z.object({}).strict().optional(),
  reply: z.object({ blocks: z.array(BlockSchema) }),
  callers: ['cli', 'ui', 'outbox', 'transport'],
  description: 'the accounts this account blocked (empty without an account)',
})
export const identityBlock = contract({
  actor: A,
  verb: 'block',
  request: z.object({ accountId: IdSchema }).strict(),
  reply: BlockSchema,
  callers: ['cli', 'ui'],
  description: 'block an account (idempotent: an existing block keeps its time)',
  errors: ['no_account', 'invalid_argument'],
})
export const identityUnblock = contract({
  actor: A,
  verb: 'unblock',
  request: z.object({ accountId: IdSchema }).strict(),
  reply: z.object({ unblocked: z.boolean() }),
  callers: ['cli', 'ui'],
  description: 'lift a block (unblocked: false when the account was not blocked)',
  errors: ['no_account', 'invalid_argument'],
})

export const identityBlocksChanged = event({
  actor: A,
  event: 'blocksChanged',
  body: z.object({ accountId: IdSchema, blocked: z.array(IdSchema), at: z.number().int() }),
  readers: ['outbox', 'transport', 'ui'],
  description: "the account's block list changed (the whole list of blocked account IDs)",
})

/**
 * The account state that syncs between the account's devices (docs/history.md): one last-writer-wins register per
 * contact, per block and per conversation name (`names`, identity-names.ts), `{ accountId, value | null, at, device }`.
 * `value` is the entry (`since`: when it was added or blocked; a contact's or conversation's `name`), `null` a removal
 * kept as a tombstone; `at` is when a device wrote it, ties
 * go to the higher `device`. Lists come in parts of at most ACCOUNT_STATE_MAX.
 */
export const ACCOUNT_STATE_MAX = 2000
export const AccountStateKindSchema = z.enum(['contacts', 'blocks', 'names'])
export type AccountStateKind = z.infer<typeof AccountStateKindSchema>
export const AccountRegisterSchema = z
  .object({
    accountId: IdSchema,
    value: z
      .object({ since: z.number().int().nonnegative(), name: z.string().min(1).max(128).optional() })
      .strict()
      .nullable(),
    at: z.number().int().nonnegative(),
    device: IdSchema,
  })
  .strict()
export type AccountRegister = z.infer<typeof AccountRegisterSchema>

export const identityAccountState = contract({
  actor: A,
  verb: 'accountState',
  request: z.object({ kind: AccountStateKindSchema, after: IdSchema.optional() }).strict(),
  reply: z.object({ registers: z.array(AccountRegisterSchema).max(ACCOUNT_STATE_MAX), more: z.boolean() }),
  callers: ['outbox'],
  description: "one part of the account's contact, block or conversation name registers (tombstones included), by account ID after `after`",
  errors: ['no_account'],
})
export const identityMergeAccountState = contract({
  actor: A,
  verb: 'mergeAccountState',
  request: z.object({ kind: AccountStateKindSchema, registers: z.array(AccountRegisterSchema).max(ACCOUNT_STATE_MAX) }).strict(),
  reply: z.object({ changed: z.number().int().nonnegative(), skipped: z.number().int().nonnegative() }),
  callers: ['outbox'],
  description: "merge contact, block or conversation name registers from another device of the account (last writer wins per account ID); blocksChanged when the block list changed",
  errors: ['no_account', 'invalid_argument'],
})

export const identityBlockContracts = [identityBlocks, identityBlock, identityUnblock, identityAccountState, identityMergeAccountState] as const
