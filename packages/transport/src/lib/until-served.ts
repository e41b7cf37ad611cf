import { retry } from '@baran/actor'
import { BusError, BusErrorCode } from '@baran/bus'

export interface UntilServedOptions {
  /** How long to wait for the actor to come up before the error is final. */
  waitMs: number
  /** Pause between tries. */
  everyMs: number
  /** The actor's signal: its stop ends the wait. */
  signal: AbortSignal
}

/** No actor serves the subject yet (a restart in progress), or it serves and says it cannot yet (its store opening). */
function notUpYet(e: unknown): boolean {
  return e instanceof BusError && (e.code === BusErrorCode.NoResponder || e.code === BusErrorCode.Unavailable)
}

/**
 * A request to a neighbour actor, tried again while that actor is not up yet, for at most `waitMs`. A node that
 * restarts runs its transport (and publishes its presence) before its outbox serves: an envelope arriving then would
 * be refused, and its sender would wait out a whole back-off step (seconds to minutes) for nothing.
 */
export function untilServed<T>(request: () => Promise<T>, opts: UntilServedOptions): Promise<T> {
  const deadline = performance.now() + opts.waitMs
  return retry(request, {
    signal: opts.signal,
    initialMs: opts.everyMs,
    factor: 1,
    retryIf: (e) => notUpYet(e) && performance.now() + opts.everyMs <= deadline,
  })
}
