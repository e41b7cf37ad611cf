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
export function raceBounds<T>(p: Promise<T>, b: Bounds): Promise<T> {
  b.signal?.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(b.signal?.reason)
    const timer = setTimeout(() => reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), remaining(b))
    b.signal?.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => {
      clearTimeout(timer)
      b.signal?.removeEventListener('abort', onAbort)
    })
  })
}

/** Multihash bytes as a map key. */
export const mhKey = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/**
 * An abort signal for kad-dht calls within bounds (and the node's life). The fast path uses
 * plain deadlines instead: AbortSignal.timeout is tracked for GC and costs more than an rpc.
 */
export function kadSignal(b: Bounds, lifecycle: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(remaining(b))
  return b.signal ? AbortSignal.any([b.signal, timeout, lifecycle]) : AbortSignal.any([timeout, lifecycle])
}
