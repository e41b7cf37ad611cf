/**
 * An operation's abort signal: the caller's signals and a time limit in one. It replaces
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`, which leaks in Node 22 when `parent` lives long (an actor's
 * lifetime signal): once the timeout fires, Node keeps the composite in an internal set for as long as `parent` lives
 * (nodejs/node#64476), so every call retained a signal, a timer, an error and their weak references for good.
 */

/** A signal that aborts when a parent does or when the time is up, and `release()` for when the operation is over. */
export interface Deadline {
  readonly signal: AbortSignal
  /** The time ran out (rather than a parent aborting). */
  readonly timedOut: boolean
  /** The operation is over: stop the timer and stop following the parents (the signal never aborts after this). */
  release(): void
}

/** The longest delay a timer takes (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The reason a deadline gives, the same as AbortSignal.timeout's. */
export const timeoutReason = (): DOMException => new DOMException('The operation was aborted due to timeout', 'TimeoutError')

/**
 * Aborts with the first parent's reason, or with a TimeoutError after `ms` (a negative or NaN `ms` is a RangeError).
 * Nothing is left behind once it aborted or was released; one that is never released cleans up when its time is up.
 * Like AbortSignal.timeout, its timer does not keep the process alive.
 */
export function deadline(ms: number, ...parents: (AbortSignal | undefined)[]): Deadline {
  if (!(ms >= 0)) throw new RangeError(`a deadline needs a time of 0 ms or more, not ${ms}`)
  const controller = new AbortController()
  const followed = parents.filter((p): p is AbortSignal => p !== undefined)
  const already = followed.find((p) => p.aborted)
  if (already !== undefined) {
    controller.abort(already.reason)
    return { signal: controller.signal, timedOut: false, release: () => {} }
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  let timedOut = false
  const release = (): void => {
    clearTimeout(timer)
    for (const p of followed) p.removeEventListener('abort', onParentAbort)
  }
  function onParentAbort(this: AbortSignal): void {
    release()
    controller.abort(this.reason)
  }
  for (const p of followed) p.addEventListener('abort', onParentAbort, { once: true })
  // Beyond a timer's range (~24.8 days; Infinity included) it never times out: Node would fire such a timer at once.
  if (ms <= MAX_TIMER_MS) {
    timer = setTimeout(() => {
      release()
      timedOut = true
      controller.abort(timeoutReason())
    }, ms)
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut
    },
    release,
  }
}

/** Run `op` with a deadline's signal and release it when `op` settles. */
export async function withDeadline<T>(ms: number, parents: (AbortSignal | undefined)[], op: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const d = deadline(ms, ...parents)
  try {
    return await op(d.signal)
  } finally {
    d.release()
  }
}

/**
 * `p`'s outcome, unless `signal` aborts first: then a rejection with `error()`, or with the signal's reason when no
 * `error` is given. `p` itself goes on; a rejection it meets after losing is handled (nobody waits for it any more).
 * No signal: `p` as it is.
 */
export function settleBy<T>(p: Promise<T>, signal: AbortSignal | undefined, error?: () => unknown): Promise<T> {
  if (signal === undefined) return p
  const why = (): unknown => (error === undefined ? signal.reason : error())
  if (signal.aborted) {
    p.catch(() => undefined)
    return Promise.reject(why())
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(why())
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
