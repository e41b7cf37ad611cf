import { Backoff } from '@baran/actor/recurring'
import { BACKOFF_INITIAL_MS, BACKOFF_JITTER, BACKOFF_MAX_MS } from './constants.ts'

export interface BackoffPolicy {
  /** Delay after the first failure. @default 1000 */
  initialMs?: number
  /** The delay stops doubling here. @default 300000 */
  maxMs?: number
  /** Each delay is spread ±this fraction, so many senders do not retry in step. @default 0.5 */
  jitter?: number
}

/**
 * The delivery schedule as the runtime's Backoff: initialMs doubling up to maxMs, times a random factor in
 * [1 - jitter, 1 + jitter). An initialMs above maxMs means every delay is maxMs. `random` returns [0, 1).
 */
export function deliveryBackoff(policy: BackoffPolicy = {}, random: () => number = Math.random): Backoff {
  const maxMs = policy.maxMs ?? BACKOFF_MAX_MS
  const initialMs = Math.min(policy.initialMs ?? BACKOFF_INITIAL_MS, maxMs)
  return new Backoff({ initialMs, maxMs, jitter: policy.jitter ?? BACKOFF_JITTER, spread: 'around' }, random)
}

/** The delay before the next attempt after `attempts` failures (the delivery schedule, see deliveryBackoff). */
export function backoffDelay(attempts: number, policy: BackoffPolicy = {}, random: () => number = Math.random): number {
  return deliveryBackoff(policy, random).after(attempts)
}
