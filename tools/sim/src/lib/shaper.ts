import type { ActorContext, ActorDefinition } from '@baran/actor'
import { BusError, BusErrorCode, type RequestContract, transportSend } from '@baran/bus'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Rng } from './rng.ts'

/** Network conditions between simulated nodes. */
export interface LinkConditions {
  /** One-way delay added to every envelope and to every ack (so an exchange gains 2 × latencyMs). */
  latencyMs: number
  /** Probability that an envelope, and independently its ack, is lost. */
  lossRate: number
}

export interface ShaperStats {
  /** Envelopes that went through the shaper. */
  sends: number
  /** Envelopes lost on the way out: never reached the receiver; the sender sees a timeout and retries. */
  lostEnvelopes: number
  /** Acks lost on the way back: the receiver stored the message, the sender retries, the receiver answers `duplicate`. */
  lostAcks: number
}

/**
 * Injects latency and loss at the transport actor's `send`, the one place where an envelope leaves a node:
 * the real transport actor runs unchanged, but its `transport.send` handler is wrapped so that the envelope
 * waits `latencyMs` before the real libp2p send, the ack waits `latencyMs` on its way back, and either can be
 * lost with `lossRate`. A lost envelope or ack fails the send with `timeout` after the one-way delay (not after
 * the full send timeout, so the bounded run is not spent waiting out timers): exactly what the outbox sees
 * when a packet is lost, so its retry, back-off and de-duplication paths do the recovering.
 * DHT and handshake traffic is not shaped (it is loopback-fast).
 */
export class LinkShaper {
  readonly conditions: LinkConditions
  readonly stats: ShaperStats = { sends: 0, lostEnvelopes: 0, lostAcks: 0 }
  #rng: Rng

  constructor(conditions: LinkConditions, rng: Rng) {
    this.conditions = conditions
    this.#rng = rng
  }

  get active(): boolean {
    return this.conditions.latencyMs > 0 || this.conditions.lossRate > 0
  }

  /** Wraps one send: delay and loss on the way out, the real send, delay and loss on the way back. */
  async shape<T>(send: () => Promise<T>): Promise<T> {
    const { latencyMs, lossRate } = this.conditions
    this.stats.sends++
    if (latencyMs > 0) await sleep(latencyMs)
    if (lossRate > 0 && this.#rng.next() < lossRate) {
      this.stats.lostEnvelopes++
      throw new BusError(BusErrorCode.Timeout, 'envelope lost (simulated loss)')
    }
    const reply = await send()
    if (latencyMs > 0) await sleep(latencyMs)
    if (lossRate > 0 && this.#rng.next() < lossRate) {
      this.stats.lostAcks++
      throw new BusError(BusErrorCode.Timeout, 'ack lost (simulated loss)')
    }
    return reply
  }

  /** The transport actor, unchanged except that its `transport.send` handler goes through this shaper. */
  wrapTransport<Config>(def: ActorDefinition<Config>): ActorDefinition<Config> {
    if (!this.active) return def
    return {
      ...def,
      start: (ctx: ActorContext<Config>) =>
        def.start({
          ...ctx,
          serve: ((contract: RequestContract, handler: (...args: never[]) => unknown, opts?: unknown) =>
            contract === transportSend
              ? ctx.serve(contract, ((...args: never[]) => this.shape(async () => handler(...args))) as never, opts as never)
              : ctx.serve(contract as never, handler as never, opts as never)) as ActorContext<Config>['serve'],
        }),
    }
  }
}
