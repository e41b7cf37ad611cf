/**
 * What the bus showed of each message's way, kept so that a message missing after the drain can be explained from
 * the report alone (a CI run keeps nothing else): the sender's delivery changes for it, what the sender's discovery
 * told it about the recipient, and when the recipient went offline, came back and published its presence.
 */

/** At most this many events are kept (a bounded run sends a few thousand at most; past it the oldest go). */
const MAX_EVENTS = 20_000

interface TrailEvent {
  at: number
  node: string
  what: string
  /** The message this is about (delivery changes). */
  id?: string
  /** The account this is about (presence events seen by a sender's discovery). */
  account?: string
}

export class DeliveryTrail {
  readonly #t0: number
  #events: TrailEvent[] = []

  constructor(t0 = Date.now()) {
    this.#t0 = t0
  }

  /** Events of the whole run (its phases) are in every message's trail under the node name `sim`. */
  note(node: string, what: string, about: { id?: string; account?: string } = {}): void {
    if (this.#events.length >= MAX_EVENTS) this.#events.splice(0, MAX_EVENTS / 10)
    this.#events.push({ at: Date.now(), node, what, ...about })
  }

  /** The message's events, its sender's view of the recipient and the recipient's own, in time order (ms since the trail began). */
  of(m: { id: string; from: string; to: string; toAccount: string }): string[] {
    return this.#events
      .filter((e) => e.node === 'sim' || e.id === m.id || (e.node === m.from && e.account === m.toAccount) || (e.node === m.to && e.id === undefined && e.account === undefined))
      .map((e) => `+${e.at - this.#t0} ms ${e.node} ${e.what}`)
  }
}
