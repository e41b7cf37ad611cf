/** Every code a DiscoveryError can carry (stable: the actor sends them over the bus). */
export type DiscoveryErrorCode =
  | 'invalid_key'
  | 'key_mismatch'
  | 'malformed_value'
  | 'value_too_large'
  | 'invalid_ttl'
  | 'value_expired'
  | 'value_occupied'
  | 'bad_delete_token'
  | 'publish_failed'
  | 'not_started'
  | 'invalid_config'
  | 'malformed_frame'
  | 'subscription_refused'
  | 'rpc_failed'
  | 'store_full'
  | 'too_many_records'
  | 'peer_quota'
  | 'key_quota'
  | 'unsupported_record'

/**
 * Base class of this package's errors; check `name` or `code`, not only instanceof.
 * Record-level faults (forged, expired, revoked, replayed) are @baran/trust's own errors.
 */
export class DiscoveryError extends Error {
  code: DiscoveryErrorCode
  constructor(code: DiscoveryErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'DiscoveryError'
    this.code = code
  }
}

/** Thrown when a DHT key is not in a Baran namespace or its ID part is malformed. */
export class InvalidKeyError extends DiscoveryError {
  constructor(message = 'Invalid DHT key', options?: ErrorOptions) {
    super('invalid_key', message, options)
    this.name = 'InvalidKeyError'
  }
}

/** Thrown when a bundle is valid but for another device or account than its key names. */
export class KeyMismatchError extends DiscoveryError {
  constructor(message = 'Record does not belong under this key', options?: ErrorOptions) {
    super('key_mismatch', message, options)
    this.name = 'KeyMismatchError'
  }
}

/** Thrown when a stored value (bundle or opaque-value envelope) does not have the required shape. */
export class MalformedValueError extends DiscoveryError {
  constructor(message = 'Malformed value', options?: ErrorOptions) {
    super('malformed_value', message, options)
    this.name = 'MalformedValueError'
  }
}

/** Thrown when a value or bundle is over the size limit. */
export class ValueTooLargeError extends DiscoveryError {
  constructor(message = 'Value too large', options?: ErrorOptions) {
    super('value_too_large', message, options)
    this.name = 'ValueTooLargeError'
  }
}

/** Thrown when a requested life (ttlMs) is not a positive integer within the allowed maximum. */
export class InvalidTtlError extends DiscoveryError {
  constructor(message = 'Invalid TTL', options?: ErrorOptions) {
    super('invalid_ttl', message, options)
    this.name = 'InvalidTtlError'
  }
}

/** Thrown when an opaque value has expired, or claims a life longer than allowed. */
export class ValueExpiredError extends DiscoveryError {
  constructor(message = 'Value expired', options?: ErrorOptions) {
    super('value_expired', message, options)
    this.name = 'ValueExpiredError'
  }
}

/** Thrown when a put would overwrite another writer's live value (only its tombstone may). */
export class ValueOccupiedError extends DiscoveryError {
  constructor(message = 'Key holds another live value', options?: ErrorOptions) {
    super('value_occupied', message, options)
    this.name = 'ValueOccupiedError'
  }
}

/** Thrown when a tombstone's delete token does not hash to the stored value's delete hash. */
export class BadDeleteTokenError extends DiscoveryError {
  constructor(message = 'Delete token does not match', options?: ErrorOptions) {
    super('bad_delete_token', message, options)
    this.name = 'BadDeleteTokenError'
  }
}

/** Thrown when a put found peers but none of them stored the record. */
export class PublishFailedError extends DiscoveryError {
  constructor(message = 'No peer stored the record', options?: ErrorOptions) {
    super('publish_failed', message, options)
    this.name = 'PublishFailedError'
  }
}

/** Thrown when an operation needs a started node. */
export class NodeNotStartedError extends DiscoveryError {
  constructor(message = 'Discovery node is not started', options?: ErrorOptions) {
    super('not_started', message, options)
    this.name = 'NodeNotStartedError'
  }
}

/** Thrown when createDiscoveryNode gets an option it cannot use (the message names it). */
export class InvalidConfigError extends DiscoveryError {
  constructor(message = 'Invalid discovery node options', options?: ErrorOptions) {
    super('invalid_config', message, options)
    this.name = 'InvalidConfigError'
  }
}

/** Thrown when a watch frame is too large, not JSON, or not one of the known frame shapes. */
export class MalformedFrameError extends DiscoveryError {
  constructor(message = 'Malformed watch frame', options?: ErrorOptions) {
    super('malformed_frame', message, options)
    this.name = 'MalformedFrameError'
  }
}

/** Thrown when a storing node refuses a subscription (limits reached or bad request). */
export class SubscriptionRefusedError extends DiscoveryError {
  constructor(message = 'Subscription refused', options?: ErrorOptions) {
    super('subscription_refused', message, options)
    this.name = 'SubscriptionRefusedError'
  }
}

/** Thrown when an rpc to a peer fails: unreachable, link closed, deadline passed, or the peer answered an error. */
export class RpcFailedError extends DiscoveryError {
  /** The error code the peer answered with, when it answered one. */
  readonly remoteCode?: string
  constructor(message = 'RPC failed', options?: ErrorOptions & { remoteCode?: string }) {
    super('rpc_failed', message, options)
    this.name = 'RpcFailedError'
    if (options?.remoteCode !== undefined) this.remoteCode = options.remoteCode
  }
}

/** Thrown when a record would take the store past its total byte bound and nothing ranked below it can make room. */
export class StoreFullError extends DiscoveryError {
  constructor(message = 'Record store is full', options?: ErrorOptions) {
    super('store_full', message, options)
    this.name = 'StoreFullError'
  }
}

/** Thrown when a record would take the store past its item bound and nothing ranked below it can make room. */
export class TooManyRecordsError extends DiscoveryError {
  constructor(message = 'Record store holds too many records', options?: ErrorOptions) {
    super('too_many_records', message, options)
    this.name = 'TooManyRecordsError'
  }
}

/** Thrown when the peer that sent a record already holds its share of the store (bytes or records). */
export class PeerQuotaError extends DiscoveryError {
  constructor(message = 'Peer is over its storage quota', options?: ErrorOptions) {
    super('peer_quota', message, options)
    this.name = 'PeerQuotaError'
  }
}

/** Thrown when a record is larger than what the store keeps under one key. */
export class KeyQuotaError extends DiscoveryError {
  constructor(message = 'Record is over the per-key quota', options?: ErrorOptions) {
    super('key_quota', message, options)
    this.name = 'KeyQuotaError'
  }
}

/** Thrown when something Baran does not keep is to be stored: provider records, keys outside Baran's namespaces. */
export class UnsupportedRecordError extends DiscoveryError {
  constructor(message = 'Baran does not store this kind of record', options?: ErrorOptions) {
    super('unsupported_record', message, options)
    this.name = 'UnsupportedRecordError'
  }
}

const fromWire: Partial<Record<DiscoveryErrorCode, new (message?: string) => DiscoveryError>> = {
  store_full: StoreFullError,
  too_many_records: TooManyRecordsError,
  peer_quota: PeerQuotaError,
  key_quota: KeyQuotaError,
  unsupported_record: UnsupportedRecordError,
}

/**
 * The typed error for a refusal code a peer answered with (an rpc error frame, a LAN `err` frame), or undefined
 * for a code that has no class of its own here (the caller keeps its generic error).
 */
export function discoveryErrorFromWire(code: string, message: string): DiscoveryError | undefined {
  const Class = fromWire[code as DiscoveryErrorCode]
  return Class === undefined ? undefined : new Class(message)
}
