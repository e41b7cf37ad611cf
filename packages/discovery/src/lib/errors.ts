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
  | 'mailbox_forged'
  | 'wrong_mailbox'
  | 'mailbox_item_expired'
  | 'mailbox_replayed'
  | 'mailbox_item_too_large'
  | 'sender_quota'
  | 'mailbox_quota'
  | 'mailbox_store_full'
  | 'bad_delete_request'
  | 'bad_fetch_request'

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

/** Thrown when a mailbox deposit is not a well-formed sealed envelope whose sender chain and signature verify. */
export class ForgedEnvelopeError extends DiscoveryError {
  constructor(message = 'Mailbox item is not a valid signed envelope', options?: ErrorOptions) {
    super('mailbox_forged', message, options)
    this.name = 'ForgedEnvelopeError'
  }
}

/** Thrown when a mailbox key is not the mailbox of any recipient the envelope lists (for the epoch of its sentAt). */
export class WrongMailboxError extends DiscoveryError {
  constructor(message = 'Envelope is not addressed to this mailbox', options?: ErrorOptions) {
    super('wrong_mailbox', message, options)
    this.name = 'WrongMailboxError'
  }
}

/** Thrown when a mailbox item's life (sentAt + 7 days) is over, or it was sent too far in the future. */
export class MailboxItemExpiredError extends DiscoveryError {
  constructor(message = 'Mailbox item expired', options?: ErrorOptions) {
    super('mailbox_item_expired', message, options)
    this.name = 'MailboxItemExpiredError'
  }
}

/** Thrown when a mailbox item repeats (sender device, envelope ID) of another item held, or of one its recipient deleted. */
export class MailboxReplayError extends DiscoveryError {
  constructor(message = 'Mailbox item is a replay', options?: ErrorOptions) {
    super('mailbox_replayed', message, options)
    this.name = 'MailboxReplayError'
  }
}

/** Thrown when a mailbox item is over 64 KiB. */
export class MailboxItemTooLargeError extends DiscoveryError {
  constructor(message = 'Mailbox item too large', options?: ErrorOptions) {
    super('mailbox_item_too_large', message, options)
    this.name = 'MailboxItemTooLargeError'
  }
}

/** Thrown when the sender account of a mailbox item already holds its share of a node's mailbox store. */
export class SenderQuotaError extends DiscoveryError {
  constructor(message = 'Sender is over its mailbox quota', options?: ErrorOptions) {
    super('sender_quota', message, options)
    this.name = 'SenderQuotaError'
  }
}

/** Thrown when one mailbox already holds its share of a node's mailbox store. */
export class MailboxQuotaError extends DiscoveryError {
  constructor(message = 'Mailbox is over its quota', options?: ErrorOptions) {
    super('mailbox_quota', message, options)
    this.name = 'MailboxQuotaError'
  }
}

/** Thrown when a node's mailbox store is at its byte or item bound (nothing held is evicted to make room). */
export class MailboxStoreFullError extends DiscoveryError {
  constructor(message = 'Mailbox store is full', options?: ErrorOptions) {
    super('mailbox_store_full', message, options)
    this.name = 'MailboxStoreFullError'
  }
}

/** Thrown when a mailbox delete request is malformed, stale, not signed by the mailbox's device, or for another mailbox. */
export class BadDeleteRequestError extends DiscoveryError {
  constructor(message = 'Bad mailbox delete request', options?: ErrorOptions) {
    super('bad_delete_request', message, options)
    this.name = 'BadDeleteRequestError'
  }
}

/** Thrown when a mailbox fetch comes without its device's signed request, or with one that does not check. */
export class BadFetchRequestError extends DiscoveryError {
  constructor(message = 'Bad mailbox fetch request', options?: ErrorOptions) {
    super('bad_fetch_request', message, options)
    this.name = 'BadFetchRequestError'
  }
}

const fromWire: Partial<Record<DiscoveryErrorCode, new (message?: string) => DiscoveryError>> = {
  store_full: StoreFullError,
  too_many_records: TooManyRecordsError,
  peer_quota: PeerQuotaError,
  key_quota: KeyQuotaError,
  unsupported_record: UnsupportedRecordError,
  mailbox_forged: ForgedEnvelopeError,
  wrong_mailbox: WrongMailboxError,
  mailbox_item_expired: MailboxItemExpiredError,
  mailbox_replayed: MailboxReplayError,
  mailbox_item_too_large: MailboxItemTooLargeError,
  sender_quota: SenderQuotaError,
  mailbox_quota: MailboxQuotaError,
  mailbox_store_full: MailboxStoreFullError,
  bad_delete_request: BadDeleteRequestError,
  bad_fetch_request: BadFetchRequestError,
}

/**
 * The typed error for a refusal code a peer answered with (an rpc error frame, a LAN `err` frame), or undefined
 * for a code that has no class of its own here (the caller keeps its generic error).
 */
export function discoveryErrorFromWire(code: string, message: string): DiscoveryError | undefined {
  const Class = fromWire[code as DiscoveryErrorCode]
  return Class === undefined ? undefined : new Class(message)
}
