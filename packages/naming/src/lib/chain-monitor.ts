/**
 * Watches a chain's JSON-RPC endpoint: one bounded probe per interval, never two at once, and a callback
 * only when the answer changes (up → down, down → up). The naming actor turns it into degrade/recover.
 */
import { withTimeout } from './chain-errors.ts'
import { DEFAULT_CHAIN_CHECK_MS, DEFAULT_CHAIN_CHECK_TIMEOUT_MS } from './constants.ts'
import type { Logger } from './logger.ts'

export interface ChainMonitorInit {
  /** Asks the chain something cheap; resolves with the latest block number. */
  probe: () => Promise<number>
  /** Pause between the end of one probe and the start of the next. @default 1000 */
  intervalMs?: number
  /** Bound on one probe: slower counts as down. @default 1500 */
  timeoutMs?: number
  /** Called on the first answer and on every change. */
  onChange: (up: boolean, detail: { blockNumber?: number; error?: unknown }) => void
  log?: Logger
}

export class ChainMonitor {
  readonly #init: ChainMonitorInit
  #up: boolean | undefined
  #blockNumber: number | undefined
  #running: Promise<boolean> | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #stopped = false

  constructor(init: ChainMonitorInit) {
    this.#init = init
  }

  /** undefined before the first probe. */
  get up(): boolean | undefined {
    return this.#up
  }

  /** The block number of the last successful probe. */
  get blockNumber(): number | undefined {
    return this.#blockNumber
  }

  /** Runs the first probe, then keeps probing until stop(); resolves with the first answer. */
  start(): Promise<boolean> {
    this.#stopped = false
    return this.checkNow()
  }

  /** Probes now (or joins the probe already running) and resolves with whether the chain answered. */
  checkNow(): Promise<boolean> {
    if (this.#running) return this.#running
    clearTimeout(this.#timer)
    const run = this.#probe().finally(() => {
      this.#running = undefined
      if (!this.#stopped) this.#timer = setTimeout(() => void this.checkNow(), this.#init.intervalMs ?? DEFAULT_CHAIN_CHECK_MS)
    })
    this.#running = run
    return run
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  async #probe(): Promise<boolean> {
    let up: boolean
    let error: unknown
    try {
      this.#blockNumber = await withTimeout(this.#init.probe(), this.#init.timeoutMs ?? DEFAULT_CHAIN_CHECK_TIMEOUT_MS, 'chain check')
      up = true
    } catch (e) {
      up = false
      error = e
    }
    if (this.#stopped) return up
    if (up !== this.#up) {
      this.#up = up
      this.#init.log?.[up ? 'info' : 'warn'](up ? { blockNumber: this.#blockNumber } : { err: (error as Error)?.message }, up ? 'chain answers' : 'chain unreachable')
      this.#init.onChange(up, up ? { blockNumber: this.#blockNumber! } : { error })
    }
    return up
  }
}
