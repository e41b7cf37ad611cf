/**
 * The sends of one stream waiting for their ACK, matched by envelope id (oldest first: the same id may be in
 * flight more than once, e.g. a resend).
 */
import { RejectedError } from './errors.ts'
import type { AckStatus } from './frames.ts'

/** Settles one send with its ACK. */
export interface AckWaiter {
  resolve: (status: 'stored' | 'duplicate') => void
  reject: (err: Error) => void
}

/** One send's place in the line: `acked` resolves with its ACK's status, or rejects (ACK rejected, stream lost, aborted). */
export interface AckWait {
  waiter: AckWaiter
  acked: Promise<'stored' | 'duplicate'>
}

export class AckWaiters {
  readonly #byId = new Map<string, AckWaiter[]>()

  /** Registers a send of envelope `id`; its promise never counts as unhandled (it may reject while nobody awaits it yet). */
  wait(id: string): AckWait {
    let waiter!: AckWaiter
    const acked = new Promise<'stored' | 'duplicate'>((resolve, reject) => {
      waiter = { resolve, reject }
    })
    // it may be rejected (stream closed, abort) while write() still waits for a drain
    acked.catch(() => {})
    const list = this.#byId.get(id)
    if (list === undefined) this.#byId.set(id, [waiter])
    else list.push(waiter)
    return { waiter, acked }
  }

  /** Forgets a send (aborted or failed); a later ACK of its id goes to the next one. */
  drop(id: string, waiter: AckWaiter): void {
    const list = this.#byId.get(id)
    if (list === undefined) return
    const i = list.indexOf(waiter)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#byId.delete(id)
  }

  /** Settles the oldest send of `id` with its ACK; false when none waits (a late ACK). */
  settle(id: string, status: AckStatus, reason: string | undefined): boolean {
    const list = this.#byId.get(id)
    const waiter = list?.shift()
    if (waiter === undefined) return false
    if (list!.length === 0) this.#byId.delete(id)
    if (status === 'rejected') waiter.reject(new RejectedError(reason ?? ''))
    else waiter.resolve(status)
    return true
  }

  /** Fails every waiting send with the error `errorOf` makes for it, and forgets them. */
  rejectAll(errorOf: () => Error): void {
    for (const list of this.#byId.values()) for (const w of list) w.reject(errorOf())
    this.#byId.clear()
  }
}
