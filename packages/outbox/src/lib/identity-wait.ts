/**
 * Identity restarts after a crash, and with every other thread of its process after a kill -9 of that process
 * (~1-2 s here). An outbox that came back first used to fail a send in that window with `no_responder` ("nobody
 * serves identity.seal: is the actor running?"), and once identity answered again but was still starting (loading
 * its keys), with `unavailable` "identity is starting". A call made through this waits for identity instead, a
 * bounded time: `no_responder` and an actor's own "starting" answer (`unavailable` with `details.state` 'starting')
 * are tried again with a short back-off until `waitMs` has passed; any other error (degraded, stopping, a refusal),
 * or an aborted signal, is the caller's at once.
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** How long a call waits for identity to answer again: under a client's usual request timeout (5 s). */
export const IDENTITY_WAIT_MS = 3_000

export async function whileIdentityRestarts<T>(call: () => Promise<T>, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? IDENTITY_WAIT_MS)
  for (let delay = 50; ; delay = Math.min(delay * 2, 400)) {
    try {
      return await call()
    } catch (err) {
      if (!restarting(err) || Date.now() + delay > deadline || opts.signal?.aborted) throw err
    }
    await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : {})
  }
}

/** Identity is not there yet (nobody serves it) or says it is still starting. */
function restarting(err: unknown): boolean {
  const e = err as { code?: unknown; details?: { state?: unknown } }
  return e.code === 'no_responder' || (e.code === 'unavailable' && e.details?.state === 'starting')
}
