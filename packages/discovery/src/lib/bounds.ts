import { settleBy, withDeadline } from '@baran/actor/deadline'

/** The caller's signal (if any) and a deadline (performance.now() ms) of one operation. */
export interface Bounds {
  signal?: AbortSignal
  deadline: number
}

/** Whole ms left (AbortSignal.timeout takes integers only). */
export const remaining = (b: Bounds): number => Math.max(0, Math.ceil(b.deadline - performance.now()))

/** The caller gave up or the deadline passed. */
export const ended = (b: Bounds): boolean => b.signal?.aborted === true || remaining(b) === 0

/** Wait for `p`, but no longer than the bounds allow (then reject as AbortSignal.timeout would). */
export const raceBounds = <T>(p: Promise<T>, b: Bounds): Promise<T> => withDeadline(remaining(b), [b.signal], (signal) => settleBy(p, signal))

/** Multihash bytes as a map key. */
export const mhKey = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/**
 * Run a kad-dht call within bounds (and the node's life), with a deadline's signal: AbortSignal.any with a timeout leaks
 * here, where the node's lifetime signal is a parent (see @baran/actor/deadline). The fast path uses plain deadlines.
 */
export const withinBounds = <T>(b: Bounds, lifecycle: AbortSignal, op: (signal: AbortSignal) => Promise<T>): Promise<T> =>
  withDeadline(remaining(b), [b.signal, lifecycle], op)
