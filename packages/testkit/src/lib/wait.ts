import { setTimeout as sleep } from 'node:timers/promises'

/** Thrown when a condition does not hold within its deadline. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError'
  readonly code = 'timeout'
}

/**
 * Polls `probe` until it returns something other than undefined/false, and returns that. Works anywhere
 * (hooks included), unlike `expect.poll`. Errors thrown by the probe count as "not yet".
 */
export async function waitUntil<T>(probe: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      throw new WaitTimeoutError(`${opts.what ?? 'condition'} not met within ${opts.timeoutMs ?? 10_000} ms${last ? `: ${(last as Error).message}` : ''}`)
    }
    await sleep(opts.intervalMs ?? 50)
  }
}
