import { type DeliveryEvent, nextDelivery } from './delivery-machine.ts'
import type { DeviceRecord } from './records.ts'

/** What one attempt at a (message, device) pair came to: the machine's event, and the failure it records. */
export type Outcome = { event: DeliveryEvent; error?: string }

/**
 * Failures that trying again cannot fix: the receiver refused it, transport cut the device as revoked, or the
 * envelope itself is unacceptable (to transport or to the bus contract). Everything else (unreachable, timeout,
 * handshake_failed, no_responder…) retries.
 */
const REFUSING_CODES = new Set(['rejected', 'revoked', 'invalid_envelope', 'frame_too_large', 'invalid_request', 'no_encryption_key', 'bad_recipient', 'too_large'])

/** `code: message` of a failure, short enough for a record. */
export function errorText(e: unknown): string {
  const code = (e as { code?: unknown }).code
  const message = e instanceof Error ? e.message : String(e)
  const text = typeof code === 'string' && !message.startsWith(code) ? `${code}: ${message}` : message
  return text.slice(0, 300)
}

/** True if an attempt that failed with `e` must not be tried again (REFUSING_CODES). */
export function isRefusal(e: unknown): boolean {
  const code = (e as { code?: unknown }).code
  return typeof code === 'string' && REFUSING_CODES.has(code)
}

/** What an item's retry needs to know about it (a PendingItem). */
export interface RetryFacts {
  attempts: number
  expiresAt: number
  /** A presence event came while it was busy: its next attempt is due at once. */
  retryNow: boolean
  deliveredElsewhere: boolean
  revoked: boolean
}

/** When the next attempt is due after `attempts` failures: at once if asked for, else after the back-off, never past expiry. */
export function retryDue(item: Pick<RetryFacts, 'expiresAt' | 'retryNow'>, attempts: number, now: number, backoffAfter: (attempts: number) => number): number {
  return item.retryNow ? now : Math.min(item.expiresAt, now + backoffAfter(attempts))
}

/** Where an outcome takes a pair: queued again (when, with how many failures) or one of the final states. */
export type Settlement =
  | { state: 'queued'; attempts: number; due: number; error?: string }
  | { state: 'delivered' | 'expired' | 'rejected'; attempts: number; error?: string; acked: boolean }

/**
 * The machine's step for an outcome, from the state the pair was in (`queued` when it never went out). A failure
 * after a delivery elsewhere (another device of the account, for a sync copy) counts as delivered, after a
 * revocation as revoked; a pair that would be queued again past its expiry expires instead.
 */
export function settle(item: RetryFacts, from: 'queued' | 'sending', outcome: Outcome, now: number, backoffAfter: (attempts: number) => number): Settlement {
  let event = outcome.event
  if (item.deliveredElsewhere && event.type === 'FAILED') event = { type: 'ACKED' }
  else if (item.revoked && event.type === 'FAILED') event = { type: 'REVOKED' }
  let step = nextDelivery({ state: from, attempts: item.attempts }, event)
  if (step.state === 'queued' && now >= item.expiresAt) step = nextDelivery({ state: 'sending', attempts: step.attempts }, { type: 'EXPIRE' })
  const error = step.state === 'expired' ? undefined : outcome.error
  const failure = error ? { error } : {}
  if (step.state === 'queued') return { state: 'queued', attempts: step.attempts, due: retryDue(item, step.attempts, now, backoffAfter), ...failure }
  if (step.state === 'sending') throw new Error(`an outcome left a delivery sending (${event.type} from ${from})`)
  return { state: step.state, attempts: step.attempts, acked: event.type === 'ACKED', ...failure }
}

/** The device record a settlement leaves (`now`: when it settled). */
export function settledRecord(d: DeviceRecord, s: Settlement, now: number): DeviceRecord {
  const failure = s.error ? { lastError: s.error } : {}
  if (s.state === 'queued') return { ...d, state: 'queued', attempts: s.attempts, nextAttemptAt: s.due, ...failure }
  return { ...d, state: s.state, attempts: s.attempts, finishedAt: now, ...(s.state === 'delivered' ? { deliveredAt: now } : {}), ...failure }
}
