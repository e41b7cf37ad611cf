import { Backoff } from '@baran/actor/recurring'
import {
  PUBLISH_RETRY_MAX_MS,
  PUBLISH_RETRY_MIN_MS,
  REPUBLISH_FRACTION,
  REPUBLISH_GROWTH_DELAY_MS,
  REPUBLISH_GROWTH_MAX_DELAY_MS,
  REPUBLISH_GROWTH_MIN_INTERVAL_MS,
  REPUBLISH_GROWTH_PEERS,
} from './constants.ts'
import { encodeBundle, type PresenceBundle, type VerifiedPresence, verifyPresenceBundle } from './records.ts'
import type { Logger } from './store.ts'

/** What the publisher needs from a node. */
export interface PresenceTarget {
  publishPresence(bundle: Uint8Array): Promise<{ stored: number; attempted: number }>
  /** A DHT node's routing table (DiscoveryNode has both): with them, the publisher also republishes on growth. */
  onRoutingTableChange?(listener: (size: number) => void): () => void
  stats?(): { routingTableSize: number }
}

/** When routing-table growth calls for a republish (every field optional; defaults in constants.ts). */
export interface GrowthLimits {
  /** Republish once the table doubled or grew by this many peers. @default 20 (REPUBLISH_GROWTH_PEERS) */
  peers?: number
  /** Republish once the table has not changed for this long, so a burst of joins gives one republish. @default 2000 */
  delayMs?: number
  /** But no later than this after the growth was seen. @default 30000 */
  maxDelayMs?: number
  /** Least time from the last publish to a growth republish. @default 10000 */
  minIntervalMs?: number
}

/** Options of GrowthTrigger. */
export interface GrowthTriggerInit extends GrowthLimits {
  /** The routing table's size now. */
  size: () => number
  /** Subscribe to the table's size changes (e.g. `cb => node.onRoutingTableChange(cb)`); returns an unsubscribe. */
  onChange: (listener: (size: number) => void) => () => void
  /** Start a republish (presence, and the device list where that is published too). */
  republish: () => void
  /** @default Date.now */
  now?: () => number
}

/**
 * True when a routing table of `size` peers has grown enough since a publish at `base` peers that
 * the closest peers to a key have likely changed: doubled, or `peers` more (see REPUBLISH_GROWTH_PEERS).
 */
export function routingTableGrew(base: number, size: number, peers = REPUBLISH_GROWTH_PEERS): boolean {
  return size >= base + Math.min(Math.max(base, 1), peers)
}

/**
 * Republish when the routing table has grown since the last publish. A record lands on the
 * closest peers known when it is published; without this, a node that published into a tiny
 * network leaves its records there until the next refresh (half their life) while the network
 * grows around it, and lookups, which go to the peers now closest, miss them. Only growth
 * after a publish that worked counts. The republish is debounced: it comes once the table has
 * been quiet for `delayMs` (a burst of joins gives one, made when the burst is over), at most
 * `maxDelayMs` after the growth was seen, and at most once per `minIntervalMs` after a publish
 * or an earlier growth republish.
 */
export class GrowthTrigger {
  readonly #init: GrowthTriggerInit
  readonly #now: () => number
  #base?: number
  /** The last publish, or growth republish started (a failed one counts: the rate limit holds either way). */
  #lastAt = 0
  /** When the growth the pending republish is for was seen. */
  #grewAt = 0
  #timer?: NodeJS.Timeout
  #unsubscribe?: () => void

  constructor(init: GrowthTriggerInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** Start listening to the table. */
  start(): void {
    this.#unsubscribe ??= this.#init.onChange((size) => this.#check(size))
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** The table's size now: read it when a publish starts, and hand it to published(). */
  size(): number {
    return this.#init.size()
  }

  /** A publish that started when the table held `size` peers worked: growth counts from there. */
  published(size: number): void {
    this.#base = size
    this.#lastAt = this.#now()
    clearTimeout(this.#timer)
    this.#timer = undefined
    // The table may have grown while that publish ran.
    if (this.#unsubscribe) this.#check(this.#init.size())
  }

  #check(size: number): void {
    if (this.#base === undefined) return
    const now = this.#now()
    if (this.#timer === undefined) {
      if (!routingTableGrew(this.#base, size, this.#init.peers)) return
      this.#grewAt = now
    }
    // Armed: every change of the table (still joining) puts the republish off, within the bounds.
    const quiet = now + (this.#init.delayMs ?? REPUBLISH_GROWTH_DELAY_MS)
    const latest = this.#grewAt + (this.#init.maxDelayMs ?? REPUBLISH_GROWTH_MAX_DELAY_MS)
    const soonest = this.#lastAt + (this.#init.minIntervalMs ?? REPUBLISH_GROWTH_MIN_INTERVAL_MS)
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (!this.#unsubscribe) return
      this.#lastAt = this.#now()
      this.#init.republish()
    }, Math.max(soonest, Math.min(quiet, latest)) - now)
    this.#timer.unref()
  }
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
  /**
   * Republish when the node's routing table has grown since the last publish (GrowthTrigger);
   * needs a node with onRoutingTableChange and stats. false: only on refresh and address change.
   * @default true
   */
  republishOnGrowth?: boolean | GrowthLimits
  /** @default Date.now */
  now?: () => number
  log?: Logger
  /** Called after each successful publish. */
  onPublished?: (presence: VerifiedPresence, result: { stored: number; attempted: number }) => void
}

/**
 * Keeps a device's presence in the DHT: publishes at start, again when half of the record's
 * life has passed (or `refreshMs`), at once when the addresses change, and when the routing
 * table has grown a lot since the last publish (GrowthTrigger); retries a failed publish with
 * back-off (1 s … 60 s). Publishes never overlap.
 */
export class PresencePublisher {
  readonly #init: PresencePublisherInit
  readonly #now: () => number
  readonly #growth?: GrowthTrigger
  #timer?: NodeJS.Timeout
  #running = false
  #inFlight?: Promise<void>
  #again = false
  /** After a failed publish: 1 s doubling to 60 s; a publish that works starts it over. */
  readonly #retry = new Backoff({ initialMs: PUBLISH_RETRY_MIN_MS, maxMs: PUBLISH_RETRY_MAX_MS })
  #lastAddrs?: string
  #unsubscribe?: () => void
  #last?: VerifiedPresence

  constructor(init: PresencePublisherInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
    const { node, republishOnGrowth = true } = init
    const onChange = node.onRoutingTableChange?.bind(node)
    const stats = node.stats?.bind(node)
    if (republishOnGrowth !== false && onChange && stats) {
      this.#growth = new GrowthTrigger({
        ...(republishOnGrowth === true ? {} : republishOnGrowth),
        size: () => stats().routingTableSize,
        onChange,
        republish: () => void this.refresh(),
        now: this.#now,
      })
    }
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
    this.#growth?.start()
    await this.refresh()
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#timer)
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#growth?.stop()
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
      const tableSize = this.#growth?.size()
      const addrs = await this.#init.addrs()
      const signed = await this.#init.sign([...addrs])
      const bytes = signed instanceof Uint8Array ? signed : encodeBundle(signed)
      const presence = verifyPresenceBundle(bytes, { now: this.#now() })
      const result = await this.#init.node.publishPresence(bytes)
      this.#last = presence
      this.#lastAddrs = JSON.stringify([...addrs].sort())
      this.#retry.reset()
      if (tableSize !== undefined && this.#running) this.#growth?.published(tableSize)
      this.#init.onPublished?.(presence, result)
      const half = (presence.expiresAt - this.#now()) * REPUBLISH_FRACTION
      delay = Math.max(Math.min(half, this.#init.refreshMs ?? half), 100)
    } catch (err) {
      delay = this.#retry.next()
      this.#init.log?.warn({ err, retryInMs: delay }, 'presence publish failed')
    }
    if (!this.#running) return
    this.#timer = setTimeout(() => void this.refresh(), delay)
    this.#timer.unref()
  }
}
