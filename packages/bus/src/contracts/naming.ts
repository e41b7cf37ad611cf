import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'
import { EthAddressSchema, IdSchema, KeySchema } from './common.ts'

/**
 * The naming actor: usernames in an EVM registry. Names are checked against the name rule by the actor, not
 * here, so that a bad name gets the domain code `invalid_name` (the same as the library and the contract) and
 * not a generic `invalid_request`. Errors keep the naming library's codes: invalid_name, name_taken, not_found,
 * forged_record, unavailable, insufficient_funds, commit_expired, no_account…
 */
const A = 'naming'
const USER = ['cli', 'ui'] as const
/** Who may resolve names: people, and the actors that address peers by name. */
const READERS = ['cli', 'ui', 'outbox', 'discovery'] as const

/** A candidate name: only bounded here, the name rule is the actor's to apply. */
const NameInputSchema = z.string().max(256)
const TxHashSchema = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'a 0x transaction hash')
/** bigints travel as decimal strings. */
const UintStringSchema = z.string().regex(/^\d{1,78}$/)

export const namingRegister = contract({
  actor: A,
  verb: 'register',
  request: z.object({ name: NameInputSchema }).strict(),
  reply: z.object({ name: z.string(), accountId: IdSchema, owner: EthAddressSchema, txHashes: z.array(TxHashSchema), blockNumber: z.number().int().nonnegative() }),
  callers: USER,
  description: "register a name for this node's account (commit, then reveal; progress on naming.evt.registration)",
  errors: ['invalid_name', 'invalid_claim', 'name_taken', 'read_only', 'no_account', 'insufficient_funds', 'commit_expired', 'commitment_unknown', 'no_signer', 'signer_error', 'devnet_error', 'registry_error', 'name_server_error'],
})

export const NameRecordSchema = z.object({ name: z.string(), accountId: IdSchema, publicKey: KeySchema, owner: EthAddressSchema })
export type NameRecordReply = z.infer<typeof NameRecordSchema>

export const namingLookup = contract({
  actor: A,
  verb: 'lookup',
  request: z.object({ name: NameInputSchema }).strict(),
  reply: NameRecordSchema,
  callers: READERS,
  description: 'the verified record of a name: account ID, account public key, Ethereum owner',
  errors: ['invalid_name', 'forged_record', 'registry_error', 'name_server_error'],
})

export const namingReverse = contract({
  actor: A,
  verb: 'reverse',
  request: z.object({ accountId: IdSchema }).strict(),
  reply: z.object({ name: z.string() }),
  callers: READERS,
  description: 'the first verified name of an account',
  errors: ['invalid_account_id', 'forged_record', 'registry_error', 'name_server_error'],
})

export const namingInfo = contract({
  actor: A,
  verb: 'info',
  request: z.object({}).strict().optional(),
  reply: z.object({
    rpcUrl: z.string(),
    chainId: UintStringSchema,
    registry: EthAddressSchema,
    /** null while the chain does not answer. */
    blockNumber: z.number().int().nonnegative().nullable(),
    /** null while the node holds no account. */
    ethAddress: EthAddressSchema.nullable(),
    /** null without an account or while the chain does not answer. */
    balanceWei: UintStringSchema.nullable(),
  }),
  callers: ['*'],
  description: "the chain and registry in use, and this account's Ethereum address and balance (served while degraded)",
})

export const RegistrationPhaseSchema = z.enum(['committing', 'committed', 'revealing', 'registered', 'failed'])
export type RegistrationPhase = z.infer<typeof RegistrationPhaseSchema>

export const namingRegistration = event({
  actor: A,
  event: 'registration',
  body: z.object({
    name: z.string().max(256),
    phase: RegistrationPhaseSchema,
    txHash: TxHashSchema.optional(),
    error: z.object({ code: z.string(), message: z.string().max(1000) }).optional(),
  }),
  readers: ['cli', 'ui'],
  description: 'progress of a registration: committing → committed → revealing → registered (or failed)',
})

export const namingRegistered = event({
  actor: A,
  event: 'registered',
  body: z.object({ name: z.string(), accountId: IdSchema, owner: EthAddressSchema, blockNumber: z.number().int().nonnegative() }),
  readers: ['cli', 'ui'],
  description: "this node's account registered a name",
})

export const namingContracts = [namingRegister, namingLookup, namingReverse, namingInfo] as const
