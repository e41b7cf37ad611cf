import type { z } from 'zod'

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

const GENERIC_CODES: ReadonlySet<string> = new Set(Object.values(BusErrorCode))

/** True for the codes every verb may answer with (`BusErrorCode`). */
export function isGenericCode(code: string): code is BusErrorCode {
  return GENERIC_CODES.has(code)
}

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

/** A contract as far as its error codes go. */
interface DeclaresErrors<Codes extends string> {
  readonly errors: z.ZodType<Codes>
}

/** True when `code` is generic or one of the domain codes `c` declares. */
export function declaresCode(c: DeclaresErrors<string>, code: string): boolean {
  return isGenericCode(code) || c.errors.safeParse(code).success
}

/**
 * The code of a bus error as one of the codes `contracts` declare (or a generic one), for a typed `switch`;
 * undefined for anything else (not a BusError, or a code none of them declares).
 */
export function errorCodeOf<Codes extends string>(e: unknown, ...contracts: Array<DeclaresErrors<Codes>>): Codes | BusErrorCode | undefined {
  if (!isBusError(e)) return undefined
  const code = e.code
  if (isGenericCode(code)) return code
  return contracts.some((c) => c.errors.safeParse(code).success) ? (code as Codes) : undefined
}

type UndeclaredListener = (seen: { actor: string; verb: string; code: string }) => void
const undeclaredListeners = new Set<UndeclaredListener>()

/**
 * Calls `listener` whenever a domain code a contract does not declare is answered by an actor this process serves,
 * or comes back to a request this process made (conformance suites fail on it); returns the function that removes it.
 */
export function onUndeclaredErrorCode(listener: UndeclaredListener): () => void {
  undeclaredListeners.add(listener)
  return () => undeclaredListeners.delete(listener)
}

/** Reports an undeclared code to the listeners (ActorService calls it). */
export function reportUndeclaredCode(seen: { actor: string; verb: string; code: string }): void {
  for (const listener of undeclaredListeners) listener(seen)
}
