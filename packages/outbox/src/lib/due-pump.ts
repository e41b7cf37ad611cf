import type { Clock } from './engine-types.ts'
import type { DueHeap, HeapItem } from './heap.ts'

/** setTimeout's longest delay; a later due time is re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Starts the due items of a heap, at most `max` at once, and keeps ONE timer armed for the earliest that is not
 * due yet (none while every slot is busy: the next completion pumps). Work runs between `begin()` and `end()`;
 * `idle()` waits until none does. How an item is run is the owner's (`start`); it takes the item off the heap.
 */
export class DuePump<T extends HeapItem> {
  readonly #clock: Clock
  readonly #max: number
  readonly #heap: DueHeap<T>
  readonly #start: (item: T, now: number) => void
  #inFlight = 0
  #timer: unknown
  #timerAt = Number.POSITIVE_INFINITY
  #idle: Array<() => void> = []
  #stopped = false

  constructor(opts: { clock: Clock; max: number; heap: DueHeap<T>; start: (item: T, now: number) => void }) {
    this.#clock = opts.clock
    this.#max = Math.max(1, opts.max)
    this.#heap = opts.heap
    this.#start = opts.start
  }

  /** Work begun and not ended yet. */
  get inFlight(): number {
    return this.#inFlight
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** Starts every due item while there is room, then arms the one timer for the next. */
  pump(): void {
    if (this.#stopped) return
    const now = this.#clock.now()
    while (this.#inFlight < this.#max) {
      const top = this.#heap.peek()
      if (!top || top.due > now) break
      this.#heap.remove(top)
      this.#start(top, now)
    }
    this.#arm()
  }

  begin(): void {
    this.#inFlight++
  }

  /** One piece of work ended: its slot starts what is due, and idle() waiters wake if nothing is left running. */
  end(): void {
    this.#inFlight--
    this.pump()
    if (this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake()
  }

  /** Resolves once no work is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** No more starts, no timer; what is in flight ends on its own (idle() waits for it). */
  stop(): void {
    this.#stopped = true
    this.#disarm()
  }

  #arm(): void {
    const top = this.#heap.peek()
    // When every slot is busy, the next completion pumps: a timer now would only spin.
    if (!top || this.#inFlight >= this.#max || this.#stopped) {
      this.#disarm()
      return
    }
    if (this.#timer !== undefined && this.#timerAt === top.due) return
    this.#disarm()
    this.#timerAt = top.due
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, top.due - this.#clock.now()))
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      this.#timerAt = Number.POSITIVE_INFINITY
      this.pump()
    }, delay)
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
  }
}
