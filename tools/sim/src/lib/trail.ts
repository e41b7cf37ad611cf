/**
 * What the bus showed of each message's way, kept so that a message missing after the drain can be explained from
 * the report alone (a CI run keeps nothing else): the sender's delivery changes for it, what the sender's discovery
 * told it about the recipient, and when the recipient went offline, came back and published its presence.
 */

import { type Bus, discoveryAddressChanged, discoveryOffline, discoveryOnline, outboxDelivery } from '@baran/bus'

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

  /** Records, from every node on the bus, its delivery changes and the presence events its discovery hears. */
  async follow(bus: Bus): Promise<void> {
    const all = { node: '*' }
    await bus.subscribe(
      outboxDelivery,
      (e, meta) => this.note(meta.node, `delivery ${e.state} attempts ${e.attempts}${e.error ? ` error ${e.error}` : ''}${e.deposited ? ' deposited' : ''}`, { id: e.id }),
      all,
    )
    const heard = (word: string) => (e: { accountId: string; seq: number; addrs: string[] }, meta: { node: string }) =>
      this.note(meta.node, `heard the recipient ${word} (seq ${e.seq}, ${e.addrs.length} addrs)`, { account: e.accountId })
    await bus.subscribe(discoveryOnline, heard('online'), all)
    await bus.subscribe(discoveryAddressChanged, heard('address changed'), all)
    await bus.subscribe(discoveryOffline, (e, meta) => this.note(meta.node, 'heard the recipient offline', { account: e.accountId }), all)
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
