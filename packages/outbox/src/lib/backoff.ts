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
 * The delay before the next attempt after `attempts` failures: initialMs doubling up to maxMs, times a random
 * factor in [1 - jitter, 1 + jitter). `random` returns [0, 1) like Math.random.
 */
export function backoffDelay(attempts: number, policy: BackoffPolicy = {}, random: () => number = Math.random): number {
  const initial = policy.initialMs ?? BACKOFF_INITIAL_MS
  const max = policy.maxMs ?? BACKOFF_MAX_MS
  const jitter = policy.jitter ?? BACKOFF_JITTER
  const n = Math.max(1, Math.floor(attempts))
  // 2^(n-1) overflows to Infinity for large n: min() keeps it at max.
  const base = Math.min(max, initial * 2 ** Math.min(n - 1, 52))
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.max(0, Math.round(base * (1 - jitter + 2 * jitter * r)))
}
