/**
 * Why a sealed envelope is refused. Stable: the identity actor's `open` verb and the bus contract use them
 * as reason codes. `replayed` is decided by whoever keeps the replay window (the identity actor), not here.
 */
export type EnvelopeRefusal = 'malformed' | 'too-large' | 'bad-signature' | 'not-for-this-device' | 'revoked-sender' | 'replayed'

/** Base class of the envelope errors; check `name` or `reason`, not only instanceof. */
export class EnvelopeError extends Error {
  reason: EnvelopeRefusal
  constructor(reason: EnvelopeRefusal, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'EnvelopeError'
    this.reason = reason
  }
}

/** Thrown when envelope bytes (or seal arguments) do not have the envelope format, or a verified envelope does not decrypt. */
export class MalformedEnvelopeError extends EnvelopeError {
  constructor(message = 'Malformed envelope', options?: ErrorOptions) {
    super('malformed', message, options)
    this.name = 'MalformedEnvelopeError'
  }
}

/** Thrown when an envelope, its payload or its recipient list is over the size limits. */
export class EnvelopeTooLargeError extends EnvelopeError {
  constructor(message = 'Envelope too large', options?: ErrorOptions) {
    super('too-large', message, options)
    this.name = 'EnvelopeTooLargeError'
  }
}

/** Thrown when the sender's chain (account → device certificate) or the signature over the envelope does not verify. */
export class EnvelopeSignatureError extends EnvelopeError {
  constructor(message = 'Envelope signature does not verify', options?: ErrorOptions) {
    super('bad-signature', message, options)
    this.name = 'EnvelopeSignatureError'
  }
}

/** Thrown when the envelope lists no entry for the device trying to open it. */
export class NotForThisDeviceError extends EnvelopeError {
  constructor(message = 'Envelope not sealed to this device', options?: ErrorOptions) {
    super('not-for-this-device', message, options)
    this.name = 'NotForThisDeviceError'
  }
}

/** Thrown when the sending device is in its account's revocation list. */
export class RevokedSenderError extends EnvelopeError {
  constructor(message = 'Envelope sent by a revoked device', options?: ErrorOptions) {
    super('revoked-sender', message, options)
    this.name = 'RevokedSenderError'
  }
}

/** Thrown when an envelope ID from this sender was opened before (or is older than the replay window). */
export class ReplayedEnvelopeError extends EnvelopeError {
  constructor(message = 'Envelope replayed', options?: ErrorOptions) {
    super('replayed', message, options)
    this.name = 'ReplayedEnvelopeError'
  }
}

/** Thrown when sealing to a device whose certificate carries no encryption key (a version 1 device-cert). */
export class NoEncryptionKeyError extends EnvelopeError {
  constructor(message = 'Recipient device has no encryption key (device-cert version 1)', options?: ErrorOptions) {
    super('malformed', message, options)
    this.name = 'NoEncryptionKeyError'
  }
}

const names = new Set([
  'EnvelopeError',
  'MalformedEnvelopeError',
  'EnvelopeTooLargeError',
  'EnvelopeSignatureError',
  'NotForThisDeviceError',
  'RevokedSenderError',
  'ReplayedEnvelopeError',
  'NoEncryptionKeyError',
])

/** True for any envelope error, also across duplicate package copies (checks `name`). */
export function isEnvelopeError(e: unknown): e is EnvelopeError {
  return e instanceof Error && names.has(e.name) && typeof (e as { reason?: unknown }).reason === 'string'
}
