/** What the receiving side plugs in to store incoming envelopes, and the ACK frame its answer becomes. */
import type { VerifiedChain } from '@baran/trust'
import { encodeFrame } from './frames.ts'

/** What a handler answers for one envelope. */
export type EnvelopeResult = 'stored' | 'duplicate' | { rejected: string }

/** The verified sender of an envelope. */
export type EnvelopeSender = VerifiedChain & { peerId: string; connection: 'direct' | 'relayed' }

/** Persists an incoming envelope; the ACK is sent once it resolves. */
export type EnvelopeHandler = (
  env: { id: string; payload: Uint8Array },
  from: EnvelopeSender,
) => Promise<EnvelopeResult>

/** A handler that stores at once and answers without a promise: its ACK leaves in the same turn. */
export type ImmediateEnvelopeHandler = (env: { id: string; payload: Uint8Array }, from: EnvelopeSender) => EnvelopeResult

/** Either kind (two types, not one with a union result: that would widen `async () => 'stored'` to a string). */
export type AnyEnvelopeHandler = EnvelopeHandler | ImmediateEnvelopeHandler

/** The ACK frame answering envelope `id` with the handler's result; throws TypeError when it is no EnvelopeResult. */
export function ackFrameOf(id: string, r: EnvelopeResult, maxFrameBytes: number): Uint8Array {
  if (r === 'stored' || r === 'duplicate') {
    return encodeFrame({ type: 'ack', id, status: r }, maxFrameBytes)
  }
  if (typeof r === 'object' && r !== null && typeof r.rejected === 'string') {
    return encodeFrame({ type: 'ack', id, status: 'rejected', reason: r.rejected }, maxFrameBytes)
  }
  throw new TypeError(`envelope handler returned ${JSON.stringify(r)}`)
}
