/** The error codes every Baran actor and client understands. Actors may add domain codes of their own. */
export const BusErrorCode = {
  /** The request body (or its version) does not match the contract. */
  InvalidRequest: 'invalid_request',
  /** The reply does not match the contract (a bug or a foreign implementation). */
  InvalidReply: 'invalid_reply',
  /** Nobody serves the subject: the actor is not running. */
  NoResponder: 'no_responder',
  /** No reply within the deadline. */
  Timeout: 'timeout',
  /** The handler failed unexpectedly. */
  Internal: 'internal',
  /** The bus refused the operation for this user (least privilege). */
  Forbidden: 'forbidden',
  /** The contract's major version is not one this end speaks. */
  UnsupportedVersion: 'unsupported_version',
  /** The actor is up but cannot serve now (degraded, starting, stopping, a dependency is down). */
  Unavailable: 'unavailable',
  NotFound: 'not_found',
  Conflict: 'conflict',
  /** The bus connection is closed. */
  Closed: 'closed',
} as const
export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode]

/** HTTP-like status sent in the `Nats-Service-Error-Code` header, so generic NATS tooling sees a class of error. */
const statusOf: Record<string, number> = {
  invalid_request: 400,
  unsupported_version: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  timeout: 504,
  unavailable: 503,
  no_responder: 503,
  internal: 500,
  invalid_reply: 502,
}
export function statusOfCode(code: string): number {
  return statusOf[code] ?? 422
}

/**
 * Thrown when a bus request fails: locally (validation, timeout, no responder, permission) or remotely (the
 * actor replied with an error envelope). `code` is stable; `details` carries structured data (zod issues…).
 */
export class BusError extends Error {
  override name = 'BusError'
  readonly code: BusErrorCode | (string & {})
  readonly details: unknown
  constructor(code: BusErrorCode | (string & {}), message?: string, options?: ErrorOptions & { details?: unknown }) {
    super(message ?? code, options)
    this.code = code
    this.details = options?.details
  }
  toEnvelope(): ErrorEnvelope {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } }
  }
}

/** The body of an error reply. */
export interface ErrorEnvelope {
  error: { code: string; message: string; details?: unknown }
}

export function isBusError(e: unknown): e is BusError {
  return e instanceof Error && e.name === 'BusError' && typeof (e as BusError).code === 'string'
}

/** Turns anything a handler threw into an error envelope; unknown errors become `internal`. */
export function toBusError(e: unknown): BusError {
  if (isBusError(e)) return e
  if (e instanceof Error) {
    // Domain errors of the actor libraries carry a string `code`: keep it, so clients can tell them apart.
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[a-z][a-z0-9_]{1,47}$/.test(code)) {
      return new BusError(code, e.message, { cause: e })
    }
    return new BusError(BusErrorCode.Internal, e.message || 'internal error', { cause: e })
  }
  return new BusError(BusErrorCode.Internal, String(e))
}
