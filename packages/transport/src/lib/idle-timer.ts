/**
 * Ends a session after a while without a received frame: one timer per session, re-armed lazily from the last
 * frame (so a frame costs a `Date.now()`, not a timer).
 */
export interface IdleTimerOptions {
  timeoutMs: number
  /** True once the session ended: the timer does nothing more. */
  closed: () => boolean
  /** True while our own handlers work: the remote is waiting for us, so the session is not idle. */
  busy: () => boolean
  /** Called once the session was idle for the whole timeout. */
  onIdle: (idleForMs: number) => void
}

export class IdleTimer {
  readonly #opts: IdleTimerOptions
  #lastActivity = Date.now()
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(opts: IdleTimerOptions) {
    this.#opts = opts
  }

  /** A complete frame arrived. */
  touch(): void {
    this.#lastActivity = Date.now()
  }

  /** Starts watching (once the handshake is done). */
  start(): void {
    this.#arm(this.#opts.timeoutMs)
  }

  stop(): void {
    clearTimeout(this.#timer)
  }

  #arm(ms: number): void {
    const { timeoutMs, closed, busy, onIdle } = this.#opts
    this.#timer = setTimeout(() => {
      if (closed()) return
      const idleFor = Date.now() - this.#lastActivity
      if (busy()) {
        this.#arm(timeoutMs)
        return
      }
      if (idleFor < timeoutMs) {
        this.#arm(timeoutMs - idleFor)
        return
      }
      onIdle(idleFor)
    }, ms)
    this.#timer.unref?.()
  }
}
