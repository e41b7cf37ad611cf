import { withDeadline } from '@baran/actor/deadline'
import { Backoff } from '@baran/actor/recurring'
import { KEEP_ALIVE } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { BOOTSTRAP_CHECK_MS, BOOTSTRAP_DIAL_TIMEOUT_MS, BOOTSTRAP_RETRY_MAX_MS, DEFAULT_QUERY_TIMEOUT_MS, JOIN_ROUNDS } from './constants.ts'
import { InvalidConfigError } from './errors.ts'
import type { DiscoveryLibp2p } from './libp2p-stack.ts'
import type { DiscoveryNodeInit } from './node-options.ts'
import type { Routing } from './routing.ts'
import type { Logger } from './store.ts'

/** Re-dial while isolated: 1 s doubling to 30 s (a fresh outage starts over). */
const REBOOTSTRAP = new Backoff({ initialMs: 1_000, maxMs: BOOTSTRAP_RETRY_MAX_MS })
/** Self-lookup rounds while the table fills: 1, 2, 4, 8… s (JOIN_ROUNDS bounds them, not the cap). */
const JOIN = new Backoff({ initialMs: 1_000, maxMs: 1_000 * 2 ** JOIN_ROUNDS })

/** What bootstrapping needs from its node. */
export interface BootstrapInit {
  libp2p: DiscoveryLibp2p
  routing: Routing
  /** Kademlia k: a join stops once the table is this full. */
  k: number
  bootstrap?: DiscoveryNodeInit['bootstrap']
  bootstrapSource?: DiscoveryNodeInit['bootstrapSource']
  log?: Logger
}

/**
 * Joining the network and staying in it: dial the bootstrap list (re-read from bootstrapSource each
 * time), fill the routing table by self-lookups, and bootstrap again whenever the node reaches no peer.
 */
export class Bootstrapper {
  readonly #init: BootstrapInit
  /** What bootstrapSource named the last time it could be read. */
  #sourceList: string[] = []
  #running = false
  #lifecycle = new AbortController().signal
  #bootstrapTimer?: NodeJS.Timeout
  #joinTimer?: NodeJS.Timeout

  constructor(init: BootstrapInit) {
    this.#init = init
  }

  /** True when bootstrap peers are configured (statically, or named by bootstrapSource when last read). */
  get hasBootstrap(): boolean {
    return (this.#init.bootstrap?.length ?? 0) > 0 || this.#sourceList.length > 0
  }

  /**
   * True when this node reaches no other node of the DHT: an empty routing table, or no open connection at all
   * (the peers it knew are gone, e.g. the bootstrap node restarted). A node with bootstrap peers bootstraps again.
   */
  get isolated(): boolean {
    return this.#init.routing.tableSize === 0 || this.#init.libp2p.getConnections().length === 0
  }

  /** Bootstrap now, and keep the node joined until stop(); `lifecycle` ends dials in flight. */
  start(lifecycle: AbortSignal): Promise<void> {
    this.#running = true
    this.#lifecycle = lifecycle
    return this.#bootstrap(0)
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#bootstrapTimer)
    clearTimeout(this.#joinTimer)
  }

  /** The bootstrap list: the configured one, plus what bootstrapSource says now (it may have moved). */
  async #bootstrapList(): Promise<string[]> {
    const source = this.#init.bootstrapSource
    if (source) {
      try {
        this.#sourceList = (await source()).filter((addr) => {
          try {
            return multiaddr(addr).getComponents().some((c) => c.name === 'p2p')
          } catch {
            return false
          }
        })
      } catch (e) {
        this.#init.log?.warn({ err: (e as Error).message }, 'bootstrap source unreadable: using what it said last')
      }
    }
    return [...new Set([...(this.#init.bootstrap ?? []), ...this.#sourceList])]
  }

  /**
   * Dial the bootstrap list (read again each time); while this node stays isolated, try again with back-off
   * (1 s … 30 s). Once joined, check every BOOTSTRAP_CHECK_MS that it still reaches a peer, and bootstrap again
   * when it does not: a restarted bootstrap node has lost every connection and routing-table entry to us.
   */
  async #bootstrap(attempt: number): Promise<void> {
    if (!this.#running || (!this.hasBootstrap && !this.#init.bootstrapSource)) return
    const list = await this.#bootstrapList()
    await Promise.allSettled(
      list.map(async (addr) => {
        const ma = multiaddr(addr)
        const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value
        if (id === undefined) throw new InvalidConfigError(`bootstrap address without /p2p/: ${addr}`)
        const peer = peerIdFromString(id)
        if (peer.equals(this.#init.libp2p.peerId)) return
        await this.#init.libp2p.peerStore.merge(peer, { multiaddrs: [ma], tags: { [`${KEEP_ALIVE}-baran-bootstrap`]: { value: 50 } } })
        await withDeadline(BOOTSTRAP_DIAL_TIMEOUT_MS, [this.#lifecycle], (signal) => this.#init.libp2p.dial(ma, { signal }))
      }),
    ).then((results) => {
      // Say it once per outage, not at every retry.
      if (attempt === 0) for (const r of results) if (r.status === 'rejected') this.#init.log?.warn({ err: (r.reason as Error)?.message ?? r.reason }, 'bootstrap dial failed')
    })
    // kad-dht adds a peer once identify shows it speaks our protocol: wait for that, bounded.
    const deadline = Date.now() + BOOTSTRAP_DIAL_TIMEOUT_MS
    while (this.#running && this.isolated && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    if (!this.#running) return
    clearTimeout(this.#bootstrapTimer)
    if (!this.isolated) {
      if (attempt > 0) this.#init.log?.info({ attempts: attempt + 1, routingTable: this.#init.routing.tableSize }, 'bootstrapped again')
      void this.#join(0)
      this.#bootstrapTimer = setTimeout(() => this.#checkJoined(), BOOTSTRAP_CHECK_MS)
    } else {
      const delay = REBOOTSTRAP.after(attempt + 1)
      this.#bootstrapTimer = setTimeout(() => void this.#bootstrap(attempt + 1), delay)
    }
    this.#bootstrapTimer.unref()
  }

  /** Still reaching a peer? Else bootstrap again (from attempt 0: a fresh outage). */
  #checkJoined(): void {
    if (!this.#running) return
    if (this.isolated) {
      this.#init.log?.warn({ routingTable: this.#init.routing.tableSize, connections: this.#init.libp2p.getConnections().length }, 'no DHT peer reachable: bootstrapping again')
      void this.#bootstrap(0)
      return
    }
    this.#bootstrapTimer = setTimeout(() => this.#checkJoined(), BOOTSTRAP_CHECK_MS)
    this.#bootstrapTimer.unref()
  }

  /**
   * Join: look ourselves up so the peers near us learn of us and fill our buckets (kad-dht's own
   * self-query ran at start, with an empty table, and next runs in 5 minutes). Repeat with
   * back-off (1, 2, 4, 8 s) while the table is not full: peers that join at the same time, or
   * that were too busy to answer kad-dht's admission ping, appear later.
   */
  async #join(round: number): Promise<void> {
    if (!this.#running) return
    const before = this.#init.routing.tableSize
    try {
      await withDeadline(DEFAULT_QUERY_TIMEOUT_MS, [this.#lifecycle], (signal) => this.#init.routing.lookup(this.#init.libp2p.peerId.toMultihash().bytes, signal))
    } catch (err) {
      this.#init.log?.debug({ err }, 'self lookup failed')
    }
    // Stop early only once the table is as full as a bucket, or it stopped growing after a few rounds.
    const size = this.#init.routing.tableSize
    if (!this.#running || round >= JOIN_ROUNDS || size >= this.#init.k || (round >= 2 && size === before)) return
    this.#joinTimer = setTimeout(() => void this.#join(round + 1), JOIN.after(round + 1))
    this.#joinTimer.unref()
  }
}
