/**
 * Every failure of the naming library, one class each. Guards should test `error.name` or
 * `error.code` (they survive duplicate package copies and the bus), not only `instanceof`.
 */

const NAMING_ERROR_CODES = [
  'invalid_name',
  'invalid_account_id',
  'invalid_claim',
  'name_taken',
  'not_found',
  'forged_record',
  'commit_expired',
  'commitment_unknown',
  'insufficient_funds',
  'unavailable',
  'no_signer',
  'registry_error',
  'devnet_error',
  'no_account',
  'signer_error',
  'name_server_error',
] as const

export type NamingErrorCode = (typeof NAMING_ERROR_CODES)[number]

const CODES: ReadonlySet<string> = new Set(NAMING_ERROR_CODES)

/** Base class of every naming error. */
export class NamingError extends Error {
  readonly code: NamingErrorCode
  constructor(code: NamingErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'NamingError'
    this.code = code
  }
}

/** Thrown when a name breaks the name rule (see NAME_RULES); `reason` says which part. */
export class InvalidNameError extends NamingError {
  readonly reason: string
  constructor(message = 'invalid name', options?: ErrorOptions & { reason?: string }) {
    super('invalid_name', message, options)
    this.name = 'InvalidNameError'
    this.reason = options?.reason ?? 'invalid'
  }
}

/** Thrown when an account ID is not 40 lowercase hex characters. */
export class InvalidAccountIdError extends NamingError {
  constructor(message = 'account id must be 40 hex characters', options?: ErrorOptions) {
    super('invalid_account_id', message, options)
    this.name = 'InvalidAccountIdError'
  }
}

/**
 * Thrown before any transaction when a registration claim does not hold: the account ID is not
 * the hash of the public key, or the account key's signature over the claim does not verify.
 */
export class InvalidClaimError extends NamingError {
  constructor(message = 'name claim does not verify', options?: ErrorOptions) {
    super('invalid_claim', message, options)
    this.name = 'InvalidClaimError'
  }
}

/** Thrown when registering a name that already has a record (names are never re-registered). */
export class NameTakenError extends NamingError {
  constructor(message = 'name is already registered', options?: ErrorOptions) {
    super('name_taken', message, options)
    this.name = 'NameTakenError'
  }
}

/** Thrown when a name (or an account ID, in a reverse lookup) has no verified record. */
export class NameNotFoundError extends NamingError {
  constructor(message = 'name not registered', options?: ErrorOptions) {
    super('not_found', message, options)
    this.name = 'NameNotFoundError'
  }
}

/**
 * Thrown when a registry record fails verification: its public key does not hash to its
 * account ID, or its signature over the name claim is not the account key's.
 */
export class ForgedRecordError extends NamingError {
  constructor(message = 'name record failed verification', options?: ErrorOptions) {
    super('forged_record', message, options)
    this.name = 'ForgedRecordError'
  }
}

/** Thrown when a reveal comes more than maxCommitAge blocks after its commit. */
export class CommitExpiredError extends NamingError {
  constructor(message = 'commitment expired before the reveal', options?: ErrorOptions) {
    super('commit_expired', message, options)
    this.name = 'CommitExpiredError'
  }
}

/** Thrown when a reveal has no matching commitment on chain (never sent, or lost in a reorg). */
export class CommitmentUnknownError extends NamingError {
  constructor(message = 'no commitment matches the reveal', options?: ErrorOptions) {
    super('commitment_unknown', message, options)
    this.name = 'CommitmentUnknownError'
  }
}

/** Thrown when the paying account cannot cover a transaction's gas. */
export class InsufficientFundsError extends NamingError {
  constructor(message = 'insufficient funds to pay for gas', options?: ErrorOptions) {
    super('insufficient_funds', message, options)
    this.name = 'InsufficientFundsError'
  }
}

/** Thrown when the chain's JSON-RPC endpoint cannot be reached or does not answer in time. */
export class ChainUnavailableError extends NamingError {
  constructor(message = 'chain unavailable', options?: ErrorOptions) {
    super('unavailable', message, options)
    this.name = 'ChainUnavailableError'
  }
}

/** Thrown when an operation that sends transactions is called on a client without a signer. */
export class MissingSignerError extends NamingError {
  constructor(message = 'this operation needs a signer', options?: ErrorOptions) {
    super('no_signer', message, options)
    this.name = 'MissingSignerError'
  }
}

/** Thrown when the registry fails in a way no other class describes (unexpected revert, bad data). */
export class RegistryError extends NamingError {
  constructor(message = 'registry call failed', options?: ErrorOptions) {
    super('registry_error', message, options)
    this.name = 'RegistryError'
  }
}

/** Thrown when the dev chain cannot start (binary missing, no listening line, RPC never ready). */
export class DevnetError extends NamingError {
  constructor(message = 'dev chain failed', options?: ErrorOptions) {
    super('devnet_error', message, options)
    this.name = 'DevnetError'
  }
}

/** Thrown when a name is to be registered but the node holds no account (identity has none yet). */
export class NoAccountError extends NamingError {
  constructor(message = 'this node holds no account yet: run `baran account create`', options?: ErrorOptions) {
    super('no_account', message, options)
    this.name = 'NoAccountError'
  }
}

/** Thrown when the bus signer cannot sign what it is asked (an unsupported kind, a key that is not the account's). */
export class SignerError extends NamingError {
  constructor(message = 'the identity actor could not sign this', options?: ErrorOptions) {
    super('signer_error', message, options)
    this.name = 'SignerError'
  }
}

/** Thrown when a name server answers outside its protocol (an unexpected status, a body that is not the JSON it promises, a rate limit). */
export class NameServerError extends NamingError {
  /** The HTTP status, when there was one. */
  readonly status: number | undefined
  constructor(message = 'the name server answered outside its protocol', options?: ErrorOptions & { status?: number }) {
    super('name_server_error', message, options)
    this.name = 'NameServerError'
    this.status = options?.status
  }
}

/**
 * True when `e` is a naming error (with the given code, if one is given). Checks the code's
 * value, not the class, so it works across package copies and for errors rebuilt from the bus.
 */
export function isNamingError(e: unknown, code?: NamingErrorCode): e is NamingError {
  if (!(e instanceof Error)) return false
  const c = (e as { code?: unknown }).code
  return typeof c === 'string' && CODES.has(c) && (code === undefined || c === code)
}
