/** Internal errors of a message session (never thrown out of the library as such). */
import type { CloseCode } from './frames.ts'

/** Thrown when a HELLO verifier refuses the remote's HELLO; `reason` and `closeCode` go into the CLOSE frame. */
export class HelloRefusedError extends Error {
  readonly reason: string
  readonly closeCode: 'handshake_failed' | 'revoked'
  constructor(reason: string, options?: ErrorOptions & { closeCode?: 'handshake_failed' | 'revoked' }) {
    super(reason, options)
    this.name = 'HelloRefusedError'
    this.reason = reason
    this.closeCode = options?.closeCode ?? 'handshake_failed'
  }
}

/**
 * Internal: the session ended before an ACK arrived. The envelope may be resent on a new stream
 * (the id makes that idempotent at the receiver); send() turns it into UnreachableError.
 */
export class SessionLostError extends Error {
  readonly closeCode: CloseCode | 'stream_closed'
  constructor(closeCode: CloseCode | 'stream_closed', reason: string, options?: ErrorOptions) {
    super(`stream closed (${closeCode}): ${reason}`, options)
    this.name = 'SessionLostError'
    this.closeCode = closeCode
  }
}
