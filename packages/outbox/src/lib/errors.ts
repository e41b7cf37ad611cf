/** The failures of the outbox library: one class per failure, each with a stable `code`. */

/** Thrown when a string is not a message ID (26 Crockford base32 chars), or a time does not fit one. */
export class InvalidMessageIdError extends Error {
  override name = 'InvalidMessageIdError'
  readonly code = 'invalid_message_id'
  constructor(message = 'not a message ID (26 Crockford base32 characters)', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when payload bytes are not canonical JSON of a known payload shape. */
export class MalformedPayloadError extends Error {
  override name = 'MalformedPayloadError'
  readonly code = 'malformed_payload'
  constructor(message = 'malformed payload', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a payload carries a version this implementation does not speak. */
export class UnsupportedPayloadVersionError extends Error {
  override name = 'UnsupportedPayloadVersionError'
  readonly code = 'unsupported_version'
  constructor(message = 'unsupported payload version', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when an encoded payload is larger than MAX_PAYLOAD_BYTES. */
export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError'
  readonly code = 'payload_too_large'
  constructor(message = 'payload too large', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a message body is larger than MAX_BODY_BYTES (UTF-8). */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError'
  readonly code = 'body_too_large'
  constructor(message = 'message body too large', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a stored record does not decode (written by a foreign or broken version). */
export class CorruptRecordError extends Error {
  override name = 'CorruptRecordError'
  readonly code = 'corrupt_record'
  constructor(message = 'stored record does not decode', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a message ID is not in the outbox (or inbox). */
export class MessageNotFoundError extends Error {
  override name = 'MessageNotFoundError'
  readonly code = 'not_found'
  constructor(message = 'no such message', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a record kept changing under a revision-checked update, past the retries. */
export class UpdateConflictError extends Error {
  override name = 'UpdateConflictError'
  readonly code = 'conflict'
  constructor(message = 'record changed concurrently too many times', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when the node holds no account, so it can neither send nor accept messages. */
export class NoAccountError extends Error {
  override name = 'NoAccountError'
  readonly code = 'no_account'
  constructor(message = 'this node holds no account yet: run `baran account create`', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a recipient name resolves to no account. */
export class UnknownRecipientError extends Error {
  override name = 'UnknownRecipientError'
  readonly code = 'unknown_recipient'
  constructor(message = 'no account has this name', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a recipient account's device list holds no device a message could go to. */
export class NoDevicesError extends Error {
  override name = 'NoDevicesError'
  readonly code = 'no_devices'
  constructor(message = 'the account has no device to deliver to', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a recipient is given by name and the naming actor does not answer. */
export class NamingUnavailableError extends Error {
  override name = 'NamingUnavailableError'
  readonly code = 'naming_unavailable'
  constructor(message = 'names cannot be resolved now: the naming actor does not answer', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * Thrown when the disk under JetStream's store is (nearly) full: writing now would fail inside nats-server (which
 * 2.9 does not survive), so the outbox refuses first. Its code is `unavailable`: the caller may try again later.
 */
export class DiskFullError extends Error {
  override name = 'DiskFullError'
  readonly code = 'unavailable'
  constructor(message = 'JetStream unavailable: disk full', options?: ErrorOptions) {
    super(message, options)
  }
}
