/**
 * The arguments and result of a send, and their checks: where an envelope goes (a PeerId, the addresses to dial,
 * the account or device the receiver must be), the envelope framed for the wire, and a wait cut short by a signal.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { FrameTooLargeError, HandshakeFailedError, InvalidArgumentError, InvalidEnvelopeError } from './errors.ts'
import { encodeFrame } from './frames.ts'
import type { Session } from './session.ts'

export interface SendTarget {
  /** The receiver's PeerId (string form). */
  peerId: string
  /** Multiaddrs to try (direct or `/p2p-circuit`); added to the peer store before dialling. */
  addrs?: string[]
  /** The account the receiver must be a device of (a PeerId bound to another is refused). */
  accountId?: string
  /** The device the receiver must be. */
  deviceId?: string
}

export interface Envelope {
  /** 1..64 bytes of UTF-8; the receiver de-duplicates by it. */
  id: string
  payload: Uint8Array
}

export interface SendOptions {
  /** Overall deadline: dial + handshake + ACK. @default 10000 */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface SendResult {
  status: 'stored' | 'duplicate'
  /** ms from writing the ENVELOPE to receiving its ACK (dial and handshake excluded). */
  rtt: number
  connection: 'direct' | 'relayed'
}

/** The ENVELOPE frame of `env`; throws InvalidEnvelopeError when it is not an envelope or does not fit in a frame. */
export function envelopeFrameOf(env: Envelope, maxFrameBytes: number): Uint8Array {
  if (typeof env !== 'object' || env === null) throw new InvalidEnvelopeError('envelope must be an object')
  try {
    return encodeFrame({ type: 'envelope', id: env.id, payload: env.payload }, maxFrameBytes)
  } catch (err) {
    if (err instanceof FrameTooLargeError) {
      throw new InvalidEnvelopeError(`payload does not fit in a ${maxFrameBytes}-byte frame`, { cause: err })
    }
    throw err
  }
}

/** The target's PeerId and addresses, parsed; throws InvalidArgumentError on either. */
export function parseTarget(target: SendTarget): { peerId: PeerId; addrs: Multiaddr[] } {
  let peerId: PeerId
  try {
    peerId = peerIdFromString(target.peerId)
  } catch (err) {
    throw new InvalidArgumentError(`not a PeerId: ${target.peerId}`, { cause: err })
  }
  if (target.addrs !== undefined && !Array.isArray(target.addrs)) {
    throw new InvalidArgumentError('target.addrs must be an array of multiaddrs')
  }
  const addrs: Multiaddr[] = []
  for (const a of target.addrs ?? []) {
    try {
      addrs.push(multiaddr(a))
    } catch (err) {
      throw new InvalidArgumentError(`not a multiaddr: ${String(a)}`, { cause: err })
    }
  }
  return { peerId, addrs }
}

/** Throws HandshakeFailedError when the send names an account or device the session's remote is not. */
export function expectRemote(session: Session, target: SendTarget): void {
  const remote = session.remote
  if (remote === undefined || (target.accountId === undefined && target.deviceId === undefined)) return
  if ((target.accountId ?? remote.accountId) === remote.accountId && (target.deviceId ?? remote.deviceId) === remote.deviceId) return
  throw new HandshakeFailedError(
    `peer ${session.remotePeer} is device ${remote.deviceId} of account ${remote.accountId}, not the expected ${target.deviceId ?? 'device'} of ${target.accountId ?? 'the account'}`,
  )
}

/** At most this many of a failed dial's per-address errors are spelled out (a peer may announce many addresses). */
const MAX_DIAL_REASONS = 6

/**
 * Why a dial failed, in words: libp2p ends a dial whose every address failed with an AggregateError
 * whose own message ("All multiaddr dials failed") names none of them, so each address's error follows it.
 */
export function dialFailureReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const why = err.message || err.name
  if (!(err instanceof AggregateError) || err.errors.length === 0) return why
  const parts = err.errors.slice(0, MAX_DIAL_REASONS).map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)))
  const more = err.errors.length > MAX_DIAL_REASONS ? `; and ${err.errors.length - MAX_DIAL_REASONS} more` : ''
  return `${why} (${parts.join('; ')}${more})`
}
