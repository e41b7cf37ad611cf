/** The options of the message protocol, and the check every numeric option gets. */
import { InvalidArgumentError } from './errors.ts'
import type { Credentials, IsRevoked } from './handshake.ts'
import type { Logger } from './logger.ts'

export interface MessageProtocolInit {
  credentials?: Credentials
  isRevoked?: IsRevoked
  /** @default 262144 (256 KiB) */
  maxFrameBytes?: number
  /** @default 30000 */
  idleTimeoutMs?: number
  /** @default 5000 */
  handshakeTimeoutMs?: number
  /** Envelope handlers running at once per stream before the stream is paused. @default 64 */
  maxInFlight?: number
  /** Clock skew tolerated when verifying the remote's records. @default 60000 (trust's default) */
  clockSkewMs?: number
  /** Inbound streams of one peer that may wait for its HELLO at once; more are refused. @default 4 */
  maxUnverifiedStreamsPerPeer?: number
  /** Inbound streams of all peers that may wait for a HELLO at once; more are refused. @default 64 */
  maxUnverifiedStreams?: number
  /** Verified streams with one peer; its further inbound streams are refused. @default 16 */
  maxStreamsPerPeer?: number
  log?: Logger
}

/** `value`, or `fallback` when it is undefined; throws InvalidArgumentError unless it is a positive integer. */
export function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`)
  return value
}
