/**
 * Keeps a reservation on every configured circuit relay. libp2p makes the reservation once, when it starts
 * listening on `<relay>/p2p-circuit`: a relay that is down at that moment is never tried again, and a reservation
 * lost with its connection (the relay restarted) is not made again. This service checks every few seconds and,
 * for each relay without a reservation, dials it and listens on its circuit address again, with back-off
 * (1 s … 30 s) while it stays down. The relay list may grow while the node runs (`relaysSource`).
 */
import { withDeadline } from '@baran/actor/deadline'
import { Backoff } from '@baran/actor/recurring'
import type { AbortOptions, Connection, Startable } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.ts'

/** How often reservations are checked while every relay has one. */
export const RELAY_CHECK_MS = 2_000
/** Back-off bounds while a relay has no reservation. */
export const RELAY_RETRY_MIN_MS = 1_000
export const RELAY_RETRY_MAX_MS = 30_000
/** Bound on dialing a relay and making the reservation. */
export const RELAY_DIAL_TIMEOUT_MS = 5_000

export interface RelayKeeperInit {
  /** Configured relays (`…/p2p/<relayPeerId>`). */
  relays: string[]
  /** More relays, asked again at each check (a description that may change, such as `localnet.json`). */
  relaysSource?: () => Promise<string[]>
  log?: Logger
}

/** Only what the keeper needs of libp2p's components (a service gets them from libp2p). */
export interface RelayKeeperComponents {
  transportManager: { listen(addrs: Multiaddr[]): Promise<void>; getAddrs(): Multiaddr[] }
  connectionManager: { openConnection(peer: Multiaddr, options?: AbortOptions): Promise<Connection> }
}

/** The relay's PeerId (the last /p2p/ of its address). */
function relayPeerOf(addr: string): string | undefined {
  return /\/p2p\/([^/]+)$/.exec(addr)?.[1]
}

export class RelayKeeper implements Startable {
  readonly #components: RelayKeeperComponents
  readonly #init: RelayKeeperInit
  #timer: NodeJS.Timeout | undefined
  #abort = new AbortController()
  #backoff = new Backoff({ initialMs: RELAY_RETRY_MIN_MS, maxMs: RELAY_RETRY_MAX_MS })
  #failing = false
  #sourced: string[] = []

  constructor(components: RelayKeeperComponents, init: RelayKeeperInit) {
    this.#components = components
    this.#init = init
  }

  start(): void {
    this.#abort = new AbortController()
  }

  /** libp2p made the first reservations while it started: check them a little later. */
  afterStart(): void {
    this.#schedule(RELAY_CHECK_MS)
  }

  stop(): void {
    this.#abort.abort()
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Relays configured or named by the source, and whether each has a reservation now. */
  reservations(): Array<{ relay: string; reserved: boolean }> {
    const circuits = this.#components.transportManager.getAddrs().map((a) => a.toString())
    return this.#relays().map((relay) => ({ relay, reserved: circuits.some((c) => c.includes(`/p2p/${relayPeerOf(relay)}/p2p-circuit`)) }))
  }

  #relays(): string[] {
    return [...new Set([...this.#init.relays, ...this.#sourced])].filter((r) => relayPeerOf(r) !== undefined)
  }

  #schedule(ms: number): void {
    if (this.#abort.signal.aborted) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#check(), ms)
    this.#timer.unref()
  }

  async #check(): Promise<void> {
    const signal = this.#abort.signal
    if (this.#init.relaysSource) {
      try {
        this.#sourced = await this.#init.relaysSource()
      } catch (e) {
        this.#init.log?.warn({ err: (e as Error).message }, 'relay source unreadable: using what it said last')
      }
    }
    const missing = this.reservations().filter((r) => !r.reserved)
    for (const { relay } of missing) {
      if (signal.aborted) return
      try {
        // Dial first: listening on a relay that is down would leave one more dead listener behind.
        await withDeadline(RELAY_DIAL_TIMEOUT_MS, [signal], (dial) => this.#components.connectionManager.openConnection(multiaddr(relay), { signal: dial }))
        await this.#components.transportManager.listen([multiaddr(`${relay}/p2p-circuit`)])
      } catch (e) {
        if (!this.#failing) this.#init.log?.warn({ relay, err: (e as Error).message }, 'no reservation on relay: retrying with back-off')
      }
    }
    if (signal.aborted) return
    const still = this.reservations().filter((r) => !r.reserved)
    if (still.length === 0) {
      if (missing.length > 0) this.#init.log?.info({ relays: missing.map((r) => r.relay) }, 'relay reservation made')
      this.#failing = false
      this.#backoff.reset()
      this.#schedule(RELAY_CHECK_MS)
    } else {
      this.#failing = true
      this.#schedule(this.#backoff.next())
    }
  }
}

/** The keeper as a libp2p service: `services: { relayKeeper: relayKeeper({ relays }) }`. */
export function relayKeeper(init: RelayKeeperInit): (components: RelayKeeperComponents) => RelayKeeper {
  return (components) => new RelayKeeper(components, init)
}
