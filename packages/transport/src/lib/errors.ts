/**
 * Errors of the transport library. Each failure has its own class with a stable `name` and `code`
 * (callers and the actor adapter check those, not `instanceof`, which breaks across package copies).
 */

/** Every transport error code, one per class below. */
export type TransportErrorCode =
  | 'unreachable'
  | 'handshake_failed'
  | 'revoked'
  | 'rejected'
  | 'timeout'
  | 'aborted'
  | 'no_credentials'
  | 'invalid_envelope'
  | 'malformed_frame'
  | 'frame_too_large'
  | 'unknown_frame_type'
  | 'invalid_argument'
  | 'listen_failed'
  | 'stopped'
  | 'not_own_device'
  | 'refused'

/** Base class of every error thrown by this library. */
export class TransportError extends Error {
  readonly code: TransportErrorCode

  constructor(code: TransportErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TransportError'
    this.code = code
  }
}

/** Thrown when the peer could not be dialled, or its stream closed before it acknowledged. */
export class UnreachableError extends TransportError {
  constructor(message = 'Peer is unreachable', options?: ErrorOptions) {
    super('unreachable', message, options)
    this.name = 'UnreachableError'
  }
}

/** Thrown when either side refused the other's HELLO (bad chain, wrong PeerId, revoked, expired). */
export class HandshakeFailedError extends TransportError {
  /** Why the handshake failed: our verifier's message, or the reason in the remote's CLOSE. */
  readonly reason: string
  /** True when the remote refused us, false when we refused the remote. */
  readonly remote: boolean

  constructor(reason = 'handshake failed', remote = false, options?: ErrorOptions) {
    super('handshake_failed', `Handshake failed (${remote ? 'the remote refused us' : 'we refused the remote'}): ${reason}`, options)
    this.name = 'HandshakeFailedError'
    this.reason = reason
    this.remote = remote
  }
}

/**
 * Thrown when a device is revoked by its account: we refused the remote's device, or the remote refused ours, at
 * the handshake or later, on an open stream, once the revocation became known.
 */
export class RevokedError extends TransportError {
  /** What was revoked, as the refusing side said it. */
  readonly reason: string
  /** True when the remote refused us (our device is revoked in its eyes), false when we refused the remote. */
  readonly remote: boolean

  constructor(reason = 'device revoked', remote = false, options?: ErrorOptions) {
    super('revoked', `Device revoked (${remote ? 'the remote refused us' : 'we refused the remote'}): ${reason}`, options)
    this.name = 'RevokedError'
    this.reason = reason
    this.remote = remote
  }
}

/** Thrown when the remote's envelope handler answered with an ACK of status `rejected`. */
export class RejectedError extends TransportError {
  /** The reason the receiver gave. */
  readonly reason: string

  constructor(reason = 'rejected', options?: ErrorOptions) {
    super('rejected', `Envelope rejected by the receiver: ${reason}`, options)
    this.name = 'RejectedError'
    this.reason = reason
  }
}

/** Thrown when no ACK arrived within the send timeout (dial and handshake included). */
export class TimeoutError extends TransportError {
  constructor(message = 'Timed out waiting for an acknowledgement', options?: ErrorOptions) {
    super('timeout', message, options)
    this.name = 'TimeoutError'
  }
}

/** Thrown when the caller's AbortSignal fired before the ACK arrived. */
export class AbortedError extends TransportError {
  constructor(message = 'Send was aborted', options?: ErrorOptions) {
    super('aborted', message, options)
    this.name = 'AbortedError'
  }
}

/** Thrown when sending before setCredentials() gave the host a device certificate and peer binding. */
export class NoCredentialsError extends TransportError {
  constructor(message = 'No credentials set: call setCredentials() first', options?: ErrorOptions) {
    super('no_credentials', message, options)
    this.name = 'NoCredentialsError'
  }
}

/** Thrown when an envelope has an empty or too long id, or a payload that does not fit in a frame. */
export class InvalidEnvelopeError extends TransportError {
  constructor(message = 'Invalid envelope', options?: ErrorOptions) {
    super('invalid_envelope', message, options)
    this.name = 'InvalidEnvelopeError'
  }
}

/** Thrown when frame bytes do not parse: bad varint, truncated field, bad UTF-8, trailing bytes. */
export class MalformedFrameError extends TransportError {
  constructor(message = 'Malformed frame', options?: ErrorOptions) {
    super('malformed_frame', message, options)
    this.name = 'MalformedFrameError'
  }
}

/** Thrown when a length prefix announces more than the maximum frame size (checked before buffering). */
export class FrameTooLargeError extends TransportError {
  constructor(message = 'Frame exceeds the maximum frame size', options?: ErrorOptions) {
    super('frame_too_large', message, options)
    this.name = 'FrameTooLargeError'
  }
}

/** Thrown when a frame starts with a type byte this protocol version does not define. */
export class UnknownFrameTypeError extends TransportError {
  constructor(message = 'Unknown frame type', options?: ErrorOptions) {
    super('unknown_frame_type', message, options)
    this.name = 'UnknownFrameTypeError'
  }
}

/** Thrown when an option or argument has the wrong type or is out of range. */
export class InvalidArgumentError extends TransportError {
  constructor(message = 'Invalid argument', options?: ErrorOptions) {
    super('invalid_argument', message, options)
    this.name = 'InvalidArgumentError'
  }
}

/** Thrown when the host could not listen on any of its direct listen addresses. */
export class ListenFailedError extends TransportError {
  constructor(message = 'Could not listen on any address', options?: ErrorOptions) {
    super('listen_failed', message, options)
    this.name = 'ListenFailedError'
  }
}

/** Thrown when using a host after stop(). */
export class HostStoppedError extends TransportError {
  constructor(message = 'Transport host is stopped', options?: ErrorOptions) {
    super('stopped', message, options)
    this.name = 'HostStoppedError'
  }
}

/** Thrown when a history sync peer proved a device of another account (or this very device): sync is between own devices only. */
export class NotOwnDeviceError extends TransportError {
  /** True when the remote refused us, false when we refused the remote. */
  readonly remote: boolean
  constructor(message = 'not another device of this account', remote = false, options?: ErrorOptions) {
    super('not_own_device', `${remote ? 'the remote refused us' : 'we refused the remote'}: ${message}`, options)
    this.name = 'NotOwnDeviceError'
    this.remote = remote
  }
}

/** Thrown when the other device refused a history sync request (busy, bad request, its outbox could not answer). */
export class SyncRefusedError extends TransportError {
  /** The refusal code the remote sent (`busy`, `invalid_request`, `unavailable`, ...). */
  readonly reason: string
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super('refused', `history sync refused (${reason}): ${message}`, options)
    this.name = 'SyncRefusedError'
    this.reason = reason
  }
}
