/**
 * The recurring parts of an actor's `start`, so that an actor says what it does and the runtime does the rest:
 * one exponential back-off, a retry loop on it, a dependency that keeps the actor degraded until it answers, and a
 * periodic task. Every one of them stops when the actor's AbortSignal fires, and none keeps the process alive.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { ActorContext } from './define.ts'
import type { Logger } from './logger.ts'

/** The shape of an exponential back-off; every field optional. */
export interface BackoffOptions {
  /** The first delay. @default 250 */
  initialMs?: number
  /** No delay is longer than this. @default 10_000 */
  maxMs?: number
  /** Each delay is the previous one times this. @default 2 */
  factor?: number
  /** Each delay gets up to this fraction of itself added at random, so many peers do not retry in step. @default 0 */
  jitter?: number
  /**
   * How the jitter spreads a delay: 'up' adds [0, jitter) of it (rounded down: never above delay × (1 + jitter));
   * 'around' multiplies it by [1 - jitter, 1 + jitter) and 'down' by [1 - jitter, 1) (both rounded). @default 'up'
   */
  spread?: 'up' | 'around' | 'down'
}

/** Thrown when a BackoffOptions value cannot describe a back-off (negative, not finite, max below initial…). */
export class InvalidBackoffError extends Error {
  override name = 'InvalidBackoffError'
  readonly code = 'invalid_backoff'
}

/**
 * Exponential back-off: `next()` gives initialMs, then ×factor each call, capped at maxMs; `reset()` starts over.
 * `after(failures)` gives the same schedule without state, for a caller that stores the count itself.
 */
export class Backoff {
  readonly initialMs: number
  readonly maxMs: number
  readonly factor: number
  readonly jitter: number
  readonly spread: 'up' | 'around' | 'down'
  #failures = 0
  #random: () => number

  constructor(opts: BackoffOptions = {}, random: () => number = Math.random) {
    this.initialMs = opts.initialMs ?? 250
    this.maxMs = opts.maxMs ?? Math.max(10_000, this.initialMs)
    this.factor = opts.factor ?? 2
    this.jitter = opts.jitter ?? 0
    this.spread = opts.spread ?? 'up'
    const ok = (n: number) => Number.isFinite(n) && n >= 0
    if (!ok(this.initialMs) || !ok(this.maxMs) || this.maxMs < this.initialMs || !(this.factor >= 1) || !ok(this.jitter) || this.jitter > 1) {
      throw new InvalidBackoffError(`not a back-off: ${JSON.stringify(opts)}`)
    }
    this.#random = random
  }

  /** The delay before the next attempt (ms). */
  next(): number {
    this.#failures++
    return this.after(this.#failures)
  }

  /** After a success: the next delay is initialMs again. */
  reset(): void {
    this.#failures = 0
  }

  /** The delay after `failures` failures in a row (1 or less: initialMs), jittered; keeps no state. */
  after(failures: number): number {
    const n = Math.max(1, Math.floor(failures))
    // factor^(n-1) overflows to Infinity for large n: min() keeps it at maxMs (and 0 stays 0, not NaN).
    const base = this.initialMs === 0 ? 0 : Math.min(this.maxMs, this.initialMs * this.factor ** (n - 1))
    if (this.jitter === 0) return Math.floor(base)
    const r = Math.min(Math.max(this.#random(), 0), 1)
    if (this.spread === 'around') return Math.round(base * (1 - this.jitter + 2 * this.jitter * r))
    if (this.spread === 'down') return Math.round(base * (1 - this.jitter + this.jitter * r))
    return Math.floor(base + r * base * this.jitter)
  }
}

/** Waits `ms` (not keeping the process alive); false if `signal` aborted first or during the wait. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false
  try {
    await sleep(ms, undefined, { signal, ref: false })
    return true
  } catch {
    return false
  }
}

/** Thrown (as the rejection of `retry`) when the actor stopped before the work succeeded. */
export class RetryStoppedError extends Error {
  override name = 'RetryStoppedError'
  readonly code = 'stopped'
  constructor(message = 'stopped before the work succeeded', options?: ErrorOptions) {
    super(message, options)
  }
}

export interface RetryOptions extends BackoffOptions {
  /** The actor's signal: a stop ends the retries (the promise rejects with RetryStoppedError). */
  signal: AbortSignal
  /** Give up after this many attempts (rejecting with the last error). @default Infinity */
  attempts?: number
  /** Wait one back-off delay before the first attempt too. @default false */
  delayFirst?: boolean
  /** Whether an error is worth another attempt; false rejects with it now. @default every error */
  retryIf?: (err: unknown) => boolean
  /** Told of every failed attempt that will be retried (to log it). */
  onRetry?: (err: unknown, attempt: number, retryInMs: number) => void
}

/**
 * Runs `work` until it resolves, pausing with back-off between failures; resolves with its result. Rejects with the
 * last error once `attempts` failed or `retryIf` refuses it, and with RetryStoppedError when `signal` aborts.
 */
export async function retry<T>(work: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const backoff = new Backoff(opts)
  const attempts = opts.attempts ?? Number.POSITIVE_INFINITY
  if (opts.delayFirst && !(await pause(backoff.next(), opts.signal))) throw new RetryStoppedError()
  for (let attempt = 1; ; attempt++) {
    if (opts.signal.aborted) throw new RetryStoppedError()
    try {
      return await work(attempt)
    } catch (err) {
      if (opts.signal.aborted) throw new RetryStoppedError(undefined, { cause: err })
      if (attempt >= attempts || (opts.retryIf && !opts.retryIf(err))) throw err
      const wait = backoff.next()
      opts.onRetry?.(err, attempt, wait)
      if (!(await pause(wait, opts.signal))) throw new RetryStoppedError(undefined, { cause: err })
    }
  }
}

/** A periodic task; `stop()` ends it (so does the signal). */
export interface Periodic {
  stop(): void
  /** Runs the task now (or joins the run in progress). */
  runNow(): Promise<void>
}

/**
 * Runs `task` every `everyMs` until `signal` aborts: never two runs at once (the pause starts when a run ends), an
 * error is logged and the next run comes anyway, and the timer does not keep the process alive.
 */
export function periodic(task: () => Promise<unknown> | unknown, everyMs: number, opts: { signal: AbortSignal; log?: Logger; name?: string }): Periodic {
  if (!(Number.isFinite(everyMs) && everyMs > 0)) throw new InvalidBackoffError(`not a period: ${everyMs}`)
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false
  const schedule = () => {
    if (stopped || opts.signal.aborted) return
    timer = setTimeout(() => void runNow(), everyMs)
    timer.unref()
  }
  const runNow = (): Promise<void> => {
    if (running) return running
    clearTimeout(timer)
    running = (async () => {
      try {
        await task()
      } catch (err) {
        opts.log?.warn({ err, task: opts.name }, `${opts.name ?? 'periodic task'} failed`)
      } finally {
        running = undefined
        schedule()
      }
    })()
    return running
  }
  const stop = () => {
    stopped = true
    clearTimeout(timer)
  }
  opts.signal.addEventListener('abort', stop, { once: true })
  schedule()
  return { stop, runNow }
}

/** What a dependency needs of the actor: its signal, a log, and the degrade/recover pair. */
export type DependencyContext = Pick<ActorContext<unknown>, 'signal' | 'log' | 'degrade' | 'recover'>

export interface DependencyOptions extends BackoffOptions {
  /** The degraded reason while it is down (shown by `baran status`). */
  reason: string
  /** Reaches the dependency: resolves (with anything but false) when it is up; resolves false or throws when it is down. */
  connect: (signal: AbortSignal) => Promise<unknown>
  /** Told of every failed attempt (to say why it is down). */
  onDown?: (err: unknown, retryInMs: number) => void
}

/** A dependency of an actor; `up` tells whether its last attempt worked. */
export interface Dependency {
  readonly up: boolean
  /** Tries again now; on failure the actor is degraded and retries go on with back-off until one works. */
  check(): Promise<boolean>
}

/**
 * A dependency that degrades and recovers the actor: `check()` tries it (at start, and whenever something says it may
 * have changed: a renewal, an event); while it fails the actor is degraded by `reason` and it is tried again with
 * back-off; once it answers the actor recovers. Retries end when the actor stops.
 */
export function dependency(ctx: DependencyContext, opts: DependencyOptions): Dependency {
  let up = false
  let attempt: Promise<boolean> | undefined
  let retrying = false
  let lastError: unknown
  const backoff = new Backoff(opts)
  const once = (): Promise<boolean> => {
    attempt ??= (async () => {
      try {
        const r = await opts.connect(ctx.signal)
        if (r === false) throw new Error(`${opts.reason}: not available`)
        up = true
        backoff.reset()
        ctx.recover(opts.reason)
        return true
      } catch (err) {
        up = false
        lastError = err
        if (!ctx.signal.aborted) ctx.degrade(opts.reason)
        return false
      } finally {
        attempt = undefined
      }
    })()
    return attempt
  }
  const retryUntilUp = async () => {
    if (retrying) return
    retrying = true
    try {
      while (!up && !ctx.signal.aborted) {
        const wait = backoff.next()
        opts.onDown?.(lastError, wait)
        if (!(await pause(wait, ctx.signal))) return
        if (!up) await once()
      }
    } finally {
      retrying = false
    }
  }
  const check = async (): Promise<boolean> => {
    const ok = await once()
    if (!ok) void retryUntilUp()
    return ok
  }
  return {
    get up() {
      return up
    },
    check,
  }
}
