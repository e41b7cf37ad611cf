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
