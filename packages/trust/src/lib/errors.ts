/** Every code a TrustError can carry (stable: callers and the bus wire format use them). */
export type TrustErrorCode =
  | 'malformed'
  | 'unknown_type'
  | 'bad_signature'
  | 'wrong_signer'
  | 'expired'
  | 'not_yet_valid'
  | 'revoked'
  | 'replayed'

/** Base class of every error this package throws; check `name` or `code`, not only instanceof. */
export class TrustError extends Error {
  code: TrustErrorCode
  constructor(code: TrustErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TrustError'
    this.code = code
  }
}

/** Thrown when bytes, a record, a body or an argument do not have the required shape or encoding. */
export class MalformedRecordError extends TrustError {
  constructor(message = 'Malformed record', options?: ErrorOptions) {
    super('malformed', message, options)
    this.name = 'MalformedRecordError'
  }
}

/** Thrown when a record's type or version is unknown, or is not the type the caller expected. */
export class UnknownRecordTypeError extends TrustError {
  constructor(message = 'Unknown record type or version', options?: ErrorOptions) {
    super('unknown_type', message, options)
    this.name = 'UnknownRecordTypeError'
  }
}

/** Thrown when a record's Ed25519 signature does not verify against its signer key. */
export class BadSignatureError extends TrustError {
  constructor(message = 'Bad signature', options?: ErrorOptions) {
    super('bad_signature', message, options)
    this.name = 'BadSignatureError'
  }
}

/** Thrown when a record is signed by (or claims) a key or identity other than the one required. */
export class WrongSignerError extends TrustError {
  constructor(message = 'Record signed by the wrong key', options?: ErrorOptions) {
    super('wrong_signer', message, options)
    this.name = 'WrongSignerError'
  }
}

/** Thrown when a record's expiresAt is at or before now. */
export class ExpiredRecordError extends TrustError {
  constructor(message = 'Record expired', options?: ErrorOptions) {
    super('expired', message, options)
    this.name = 'ExpiredRecordError'
  }
}

/** Thrown when a record's issuedAt is later than now plus the allowed clock skew. */
export class NotYetValidError extends TrustError {
  constructor(message = 'Record not yet valid', options?: ErrorOptions) {
    super('not_yet_valid', message, options)
    this.name = 'NotYetValidError'
  }
}

/** Thrown when a device appears in its account's signed revocation list. */
export class RevokedDeviceError extends TrustError {
  constructor(message = 'Device revoked', options?: ErrorOptions) {
    super('revoked', message, options)
    this.name = 'RevokedDeviceError'
  }
}

/** Thrown when a record's seq is not greater than the last accepted seq for its key. */
export class ReplayedRecordError extends TrustError {
  constructor(message = 'Record replayed (seq not greater than last seen)', options?: ErrorOptions) {
    super('replayed', message, options)
    this.name = 'ReplayedRecordError'
  }
}

const errorNames = new Set([
  'TrustError',
  'MalformedRecordError',
  'UnknownRecordTypeError',
  'BadSignatureError',
  'WrongSignerError',
  'ExpiredRecordError',
  'NotYetValidError',
  'RevokedDeviceError',
  'ReplayedRecordError',
])

/** True for any error of this package, also across duplicate package copies (checks `name`). */
export function isTrustError(e: unknown): e is TrustError {
  return e instanceof Error && errorNames.has(e.name) && typeof (e as { code?: unknown }).code === 'string'
}
