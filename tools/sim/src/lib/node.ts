import { type ActorDefinition, ActorRuntime, type Logger, silentLogger } from '@baran/actor'
import { Bus, discoveryInfo, identityCreate, identityStatus } from '@baran/bus'
import { discoveryActor } from '@baran/discovery'
import { identityActor } from '@baran/identity'
import { actor as outboxActor } from '@baran/outbox'
import { transportActor } from '@baran/transport'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CONNECT_ATTEMPTS, SIM_BACKOFF, SIM_KDF, SIM_LIBP2P } from './constants.ts'
import { NodeStartError } from './errors.ts'
import { addCounts } from './stats.ts'
import type { BackoffChoice } from './shard-protocol.ts'
import type { LinkShaper } from './shaper.ts'

export interface SimNodeInit {
  name: string
  natsUrl: string
  /** Parent directory: the node keeps its keys in `<root>/<name>` across restarts. */
  root: string
  shaper: LinkShaper
  log?: Logger
  /** The outbox's back-off: SIM_BACKOFF (default) or, with `production`, the outbox actor's own defaults. */
  backoff?: BackoffChoice
}

/**
 * One simulated node: the real identity, transport, discovery and outbox actors, inline, on one bus connection
 * of its own to the shared nats-server (subjects `baran.<name>.<actor>…` keep nodes apart; outbox buckets are
 * per node, in memory). Going offline stops the actors and closes the connection, as a process exit would;
 * coming back starts new runtimes on the same data dir (same keys, same account, same JetStream buckets).
 */
export class SimNode {
  readonly name: string
  readonly dataDir: string
  accountId = ''
  online = false
  /** Start and stop times (ms), for "where the time went". */
  readonly startMs: number[] = []
  readonly stopMs: number[] = []
  /** Start time of each actor (ms), by actor name. */
  readonly actorStartMs: Record<string, number[]> = {}
  #init: SimNodeInit
  #bus: Bus | undefined
  #runtimes: Array<ActorRuntime<unknown>> = []
  /** Start/stop run one after the other per node, whatever order the scenario asks them in. */
  #queue: Promise<unknown> = Promise.resolve()
  /** DHT rpc requests sent by the discovery runs that ended (each start makes a new DHT node). */
  #rpcSentBefore: Record<string, number> = {}
  /** Times the discovery actor's health could not be read (its rpc counts then fall short). */
  rpcUnread = 0

  constructor(init: SimNodeInit) {
    this.#init = init
    this.name = init.name
    this.dataDir = join(init.root, init.name)
  }

  get bus(): Bus {
    if (!this.#bus) throw new NodeStartError(`node ${this.name} is offline`)
    return this.#bus
  }

  /** Starts the four actors in dependency order; creates the account on first start. */
  start(bootstrap: string[]): Promise<void> {
    return this.#enqueue(() => this.#start(bootstrap))
  }

  stop(): Promise<void> {
    return this.#enqueue(() => this.#stop())
  }

  /** The discovery node's multiaddrs (to bootstrap others from). */
  async dhtAddrs(): Promise<string[]> {
    return (await this.bus.request(discoveryInfo, {})).addrs
  }

  /** DHT rpc requests this node's discovery sent over all its starts so far, by method. */
  rpcSent(): Record<string, number> {
    return addCounts({ ...this.#rpcSentBefore }, this.#rpcSentNow())
  }

  /** What the running discovery actor reports (its health details carry the DHT node's stats). */
  #rpcSentNow(): Record<string, number> {
    const discovery = this.#runtimes.find((rt) => rt.def.name === 'discovery')
    if (discovery === undefined) return {}
    try {
      const details = discovery.health().details as { rpcSent?: Record<string, number> } | undefined
      return details?.rpcSent ?? {}
    } catch {
      // health() reads process memory (/proc), which fails when descriptors run out: counted, not fatal
      this.rpcUnread++
      return {}
    }
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(job)
    this.#queue = next.catch(() => undefined)
    return next
  }

  async #start(bootstrap: string[]): Promise<void> {
    if (this.online) return
    const t0 = performance.now()
    await mkdir(this.dataDir, { recursive: true })
    let bus: Bus
    try {
      bus = await connectWithRetry(this.#init.natsUrl, this.name)
    } catch (e) {
      throw new NodeStartError(`node ${this.name} could not reach the bus: ${(e as Error).message}`, { cause: e })
    }
    this.#bus = bus
    try {
      await this.#run(identityActor, { kdf: SIM_KDF, deviceName: this.name })
      // Generous deadlines: on a loaded machine a request can wait behind other nodes' work; a sim must not fail for it.
      const status = await bus.request(identityStatus, {}, { timeoutMs: 30_000 })
      this.accountId = status.account?.accountId ?? (await bus.request(identityCreate, { deviceName: this.name }, { timeoutMs: 30_000 })).accountId
      await this.#run(this.#init.shaper.wrapTransport(transportActor), { listen: ['/ip4/127.0.0.1/tcp/0'], ...SIM_LIBP2P, autonat: false })
      await this.#run(discoveryActor, { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, ...SIM_LIBP2P })
      await this.#run(outboxActor, {
        buckets: outboxBuckets(this.name),
        storage: 'memory',
        ...(this.#init.backoff === 'production' ? {} : { backoff: SIM_BACKOFF }),
      })
    } catch (e) {
      await this.#stop().catch(() => undefined)
      throw new NodeStartError(`node ${this.name} did not start: ${(e as Error).message}`, { cause: e })
    }
    this.online = true
    this.startMs.push(performance.now() - t0)
  }

  async #run(def: ActorDefinition<unknown>, config: unknown): Promise<void> {
    const t0 = performance.now()
    const runtime = new ActorRuntime(def, {
      node: this.name,
      bus: { shared: this.bus },
      config,
      dataDir: this.dataDir,
      log: this.#init.log ?? silentLogger(),
      stopDeadlineMs: 3000,
    })
    this.#runtimes.push(runtime)
    await runtime.start()
    const times = this.actorStartMs[def.name] ?? []
    times.push(performance.now() - t0)
    this.actorStartMs[def.name] = times
  }

  async #stop(): Promise<void> {
    if (!this.#bus && this.#runtimes.length === 0) return
    const t0 = performance.now()
    this.online = false
    addCounts(this.#rpcSentBefore, this.#rpcSentNow())
    // Reverse order: the outbox stops sending before transport and discovery go away.
    for (const rt of this.#runtimes.splice(0).reverse()) {
      await rt.stop('sim: node goes offline').catch(() => undefined)
      await rt.close().catch(() => undefined)
    }
    // Closing the node's own connection also drops whatever subscriptions the actors did not undo themselves.
    await this.#bus?.close().catch(() => undefined)
    this.#bus = undefined
    this.stopMs.push(performance.now() - t0)
  }
}

/**
 * Every bucket the outbox opens, named for the node: one nats-server holds every node's, and a bucket left at its
 * default name would be shared by all of them (each node's history holding every node's messages, say).
 */
export function outboxBuckets(node: string): Record<'outbox' | 'inbox' | 'keys' | 'history' | 'recipients', string> {
  return { outbox: `ob_${node}`, inbox: `ib_${node}`, keys: `ik_${node}`, history: `hs_${node}`, recipients: `rc_${node}` }
}

/** A loaded event loop (many nodes starting at once) can miss the first connect's deadline: try a few times. */
async function connectWithRetry(servers: string, node: string): Promise<Bus> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await Bus.connect({ servers, node, name: `sim-${node}`, connectTimeoutMs: 10_000 })
    } catch (e) {
      if (attempt >= CONNECT_ATTEMPTS) throw e
      await sleep(200 * attempt)
    }
  }
}
