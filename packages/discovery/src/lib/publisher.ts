import { PUBLISH_RETRY_MAX_MS, PUBLISH_RETRY_MIN_MS, REPUBLISH_FRACTION } from './constants.ts'
import { encodeBundle, type PresenceBundle, type VerifiedPresence, verifyPresenceBundle } from './records.ts'
import type { Logger } from './store.ts'

/** What the publisher needs from a node. */
export interface PresenceTarget {
  publishPresence(bundle: Uint8Array): Promise<{ stored: number; attempted: number }>
}

/** Options of PresencePublisher. */
export interface PresencePublisherInit {
  node: PresenceTarget
  /** Sign a fresh presence bundle (new seq) for these addresses: the identity actor's job. */
  sign: (addrs: string[]) => Promise<PresenceBundle | Uint8Array>
  /** Where this device can be reached now (e.g. the transport host's multiaddrs). */
  addrs: () => string[] | Promise<string[]>
  /** Subscribe to address changes (e.g. `cb => node.onAddressesChange(cb)`); returns an unsubscribe. */
  subscribeAddrs?: (onChange: () => void) => () => void
  /** Longest time between publishes (ms). @default half the bundle's life */
  refreshMs?: number
  /** @default Date.now */
  now?: () => number
  log?: Logger
  /** Called after each successful publish. */
  onPublished?: (presence: VerifiedPresence, result: { stored: number; attempted: number }) => void
}

/**
 * Keeps a device's presence in the DHT: publishes at start, again when half of the record's
 * life has passed (or `refreshMs`), and at once when the addresses change; retries a failed
 * publish with back-off (1 s … 60 s). Publishes never overlap.
 */
export class PresencePublisher {
  readonly #init: PresencePublisherInit
  readonly #now: () => number
  #timer?: NodeJS.Timeout
  #running = false
  #inFlight?: Promise<void>
  #again = false
  #failures = 0
  #lastAddrs?: string
  #unsubscribe?: () => void
  #last?: VerifiedPresence

  constructor(init: PresencePublisherInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** The presence last published. */
  get last(): VerifiedPresence | undefined {
    return this.#last
  }

  /** Publish now and keep publishing until stop(). Resolves after the first attempt. */
  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#unsubscribe = this.#init.subscribeAddrs?.(() => this.addressesChanged())
    await this.refresh()
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#timer)
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /** Republish now if the addresses differ from the ones last published. */
  addressesChanged(): void {
    if (!this.#running) return
    void (async () => {
      try {
        const addrs = await this.#init.addrs()
        if (JSON.stringify([...addrs].sort()) !== this.#lastAddrs) await this.refresh()
      } catch (err) {
        this.#init.log?.warn({ err }, 'reading addresses failed')
      }
    })()
  }

  /** Sign and publish now (after any publish in flight). */
  async refresh(): Promise<void> {
    if (!this.#running) return
    if (this.#inFlight) {
      this.#again = true
      return this.#inFlight
    }
    this.#inFlight = this.#publishOnce().finally(() => {
      this.#inFlight = undefined
    })
    await this.#inFlight
    if (this.#again && this.#running) {
      this.#again = false
      await this.refresh()
    }
  }

  async #publishOnce(): Promise<void> {
    clearTimeout(this.#timer)
    let delay: number
    try {
      const addrs = await this.#init.addrs()
      const signed = await this.#init.sign([...addrs])
      const bytes = signed instanceof Uint8Array ? signed : encodeBundle(signed)
      const presence = verifyPresenceBundle(bytes, { now: this.#now() })
      const result = await this.#init.node.publishPresence(bytes)
      this.#last = presence
      this.#lastAddrs = JSON.stringify([...addrs].sort())
      this.#failures = 0
      this.#init.onPublished?.(presence, result)
      const half = (presence.expiresAt - this.#now()) * REPUBLISH_FRACTION
      delay = Math.max(Math.min(half, this.#init.refreshMs ?? half), 100)
    } catch (err) {
      this.#failures++
      delay = Math.min(PUBLISH_RETRY_MIN_MS * 2 ** (this.#failures - 1), PUBLISH_RETRY_MAX_MS)
      this.#init.log?.warn({ err, retryInMs: delay }, 'presence publish failed')
    }
    if (!this.#running) return
    this.#timer = setTimeout(() => void this.refresh(), delay)
    this.#timer.unref()
  }
}
