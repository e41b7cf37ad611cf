/**
 * Which inbound `/baran/msg/1.0.0` streams the host takes on. A stream whose opener has not proved itself yet
 * costs a timer and up to one partial frame, so their number is bounded per peer and in total; verified streams
 * are bounded per peer (an honest peer needs one or two). A refused stream gets a CLOSE `too_many_streams` and
 * is reset if the peer does not close it.
 */
import type { Stream } from '@libp2p/interface'
import { CLOSE_GRACE_MS } from './constants.ts'
import { type CloseCode, encodeFrame } from './frames.ts'

export interface AdmissionLimits {
  unverifiedPerPeer: number
  unverified: number
  verifiedPerPeer: number
}

/** Counts the inbound streams still waiting for their opener's HELLO (keyed by any per-stream object). */
export class StreamAdmission<S> {
  private readonly limits: AdmissionLimits
  private readonly waiting = new Map<string, Set<S>>()
  private count = 0

  constructor(limits: AdmissionLimits) {
    this.limits = limits
  }

  /** Why a new inbound stream of `peer` is refused, or undefined; `verified` is how many verified ones it has. */
  refusal(peer: string, verified: number): string | undefined {
    const { unverifiedPerPeer, unverified, verifiedPerPeer } = this.limits
    if ((this.waiting.get(peer)?.size ?? 0) >= unverifiedPerPeer) return `more than ${unverifiedPerPeer} streams of this peer wait for a HELLO`
    if (this.count >= unverified) return `more than ${unverified} streams wait for a HELLO`
    if (verified >= verifiedPerPeer) return `more than ${verifiedPerPeer} streams with this peer`
    return undefined
  }

  /** An admitted stream now waits for its opener's HELLO. */
  admit(peer: string, stream: S): void {
    const set = this.waiting.get(peer) ?? new Set<S>()
    this.waiting.set(peer, set)
    if (set.has(stream)) return
    set.add(stream)
    this.count++
  }

  /** The stream verified or ended: it no longer waits. Idempotent. */
  settle(peer: string, stream: S): void {
    const set = this.waiting.get(peer)
    if (set?.delete(stream) !== true) return
    this.count--
    if (set.size === 0) this.waiting.delete(peer)
  }

  /** Streams waiting for a HELLO now (all peers). */
  get unverified(): number {
    return this.count
  }
}

/** Answers a stream we will not serve with a CLOSE frame, then closes it (reset if the remote lingers). */
export function refuse(stream: Stream, code: CloseCode, reason: string, maxFrameBytes: number): void {
  try {
    stream.send(encodeFrame({ type: 'close', code, reason }, maxFrameBytes))
    stream.close().catch(() => stream.abort(new Error(reason)))
    // a remote that never closes its side gets reset
    const timer = setTimeout(() => stream.abort(new Error(reason)), CLOSE_GRACE_MS)
    timer.unref?.()
    stream.addEventListener('close', () => clearTimeout(timer), { once: true })
  } catch {
    stream.abort(new Error(reason))
  }
}
