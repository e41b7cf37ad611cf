import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createLogger, type Logger } from '@baran/actor'
import { Backoff } from '@baran/actor/recurring'
import {
  type ActorStatus,
  actorRestarted,
  Bus,
  discoveryInfo,
  eventContracts,
  healthContractOf,
  type LifecycleState,
  type NodeStatus,
  nodeStatus,
  nodeStop,
  type RequestContract,
  stateEventOf,
  transportInfo,
} from '@baran/bus'
import { NatsServerProcess } from '@baran/launch'
import { createActor, fromPromise, waitFor } from 'xstate'
import { CLI_USER, credsFromConfig, loadOrCreatePasswords, natsConfig, permissionsFor, SUPERVISOR_USER, UI_USER } from './bus-auth.ts'
import { BUS_LOST, ChildActor, inheritedEnv } from './child.ts'
import { loadConfig, type NodeConfig } from './config.ts'
import { type HostProcess, sharedHosts } from './host-process.ts'
import { configuredActors, sharedProcesses } from './implementations.ts'
import { type ActorDescription, openInspector } from './inspect.ts'
import { type LocalnetHandle, localnetFor, localnetPaths } from './localnet.ts'
import { removeNodeInfo, runningNode, writeNodeInfo } from './node-info.ts'
import { baranHome, type NodePaths, nodePaths } from './paths.ts'
import { rssBytes } from './proc-memory.ts'
import { type SupervisorState, supervisorMachine } from './supervisor-machine.ts'

export interface SupervisorOptions {
  dataDir: string
  node: string
  /** `--config <file>`; default `<dataDir>/config.json` (optional). */
  configFile?: string
  env?: NodeJS.ProcessEnv
  log?: Logger
}

/** Thrown when another supervisor already runs on this data dir. */
export class NodeAlreadyRunningError extends Error {
  override name = 'NodeAlreadyRunningError'
  readonly code = 'already_running'
}

/** Thrown when actors do not become ready in time. */
export class StartTimeoutError extends Error {
  override name = 'StartTimeoutError'
  readonly code = 'timeout'
}

export type SupervisorEvent =
  | { type: 'state'; state: SupervisorState }
  | { type: 'actor'; name: string; status: ActorStatus }

/**
 * The node supervisor: writes the bus config, starts nats-server, spawns each configured actor, restarts a
 * crashed one, answers `node.status`/`node.stop`, and stops actors in reverse order, then the bus.
 */
export class Supervisor {
  readonly node: string
  readonly paths: NodePaths
  readonly log: Logger
  readonly lifecycle
  config!: NodeConfig
  #opts: SupervisorOptions
  #actors: ActorDescription[] = []
  #children = new Map<string, ChildActor>()
  /** The processes shared by several actors (each a thread), by name. */
  #hosts = new Map<string, HostProcess>()
  #nats: NatsServerProcess | undefined
  #busUrl = ''
  #bus: Bus | undefined
  #startedAt = Date.now()
  #listeners = new Set<(e: SupervisorEvent) => void>()
  #passwords: Record<string, string> = {}
  #stopping = false
  #localnet: LocalnetHandle | undefined
  #localnetAddrs: { bootstrap: string[]; relays: string[] } | undefined
  /** Why each actor is not ready (its last failed or degraded state event), for `baran status`. */

  constructor(opts: SupervisorOptions) {
    this.#opts = opts
    this.node = opts.node
    this.paths = nodePaths(opts.dataDir)
    this.log = opts.log ?? createLogger({ node: opts.node, actor: 'supervisor' })
    this.lifecycle = createActor(
      supervisorMachine.provide({
        actors: {
          prepare: fromPromise(() => this.#prepare()),
          startBus: fromPromise(() => this.#startBus()),
          startActors: fromPromise(() => this.#startActors()),
          stop: fromPromise(() => this.#stop()),
        },
      }),
    )
    let last = ''
    this.lifecycle.subscribe((s) => {
      if (s.value === last) return
      last = s.value as string
      this.log.info({ state: s.value, ...(s.context.reason ? { reason: s.context.reason } : {}) }, `supervisor ${s.value}`)
      this.#emit({ type: 'state', state: s.value as SupervisorState })
    })
  }

  get state(): SupervisorState {
    return this.lifecycle.getSnapshot().value as SupervisorState
  }
  get busUrl(): string {
    return this.#busUrl
  }
  get children(): ReadonlyMap<string, ChildActor> {
    return this.#children
  }

  on(listener: (e: SupervisorEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
  #emit(e: SupervisorEvent): void {
    for (const l of this.#listeners) l(e)
  }

  /** Starts everything; resolves when every actor is ready (or has given up), rejects on failure. */
  async start(): Promise<void> {
    this.lifecycle.start()
    this.lifecycle.send({ type: 'START' })
    const snap = await waitFor(this.lifecycle, (s) => ['running', 'stopped', 'failed'].includes(s.value as string), { timeout: Number.POSITIVE_INFINITY })
    if (snap.value !== 'running') {
      const err = snap.context.error
      throw err instanceof Error ? err : new Error(`node did not start: ${snap.context.reason ?? snap.value}`)
    }
  }

  async stop(reason = 'stop requested'): Promise<void> {
    if (this.lifecycle.getSnapshot().status !== 'active') return
    this.lifecycle.send({ type: 'STOP', reason })
    await waitFor(this.lifecycle, (s) => s.value === 'stopped' || s.value === 'failed', { timeout: Number.POSITIVE_INFINITY })
  }

  /** Resolves once the supervisor reached stopped or failed (e.g. after a `baran stop`). */
  async finished(): Promise<SupervisorState> {
    const s = await waitFor(this.lifecycle, (x) => x.status === 'done', { timeout: Number.POSITIVE_INFINITY })
    return s.value as SupervisorState
  }

  /** The node's status, with the resident memory of each of its processes (read from /proc now). */
  status(): NodeStatus {
    const actors: Record<string, ActorStatus> = {}
    for (const [name, c] of this.#children) {
      const s = c.status()
      actors[name] = { ...s, rssBytes: rssBytes(s.pid) }
    }
    const busPid = this.#nats?.pid ?? null
    const own = rssBytes(process.pid)
    const bus = rssBytes(busPid)
    return {
      node: this.node,
      state: this.state,
      pid: process.pid,
      uptime: Date.now() - this.#startedAt,
      dataDir: this.paths.dataDir,
      bus: { url: this.#busUrl, embedded: this.#nats !== undefined, pid: busPid, rssBytes: bus },
      actors,
      rssBytes: own,
      // A shared process counts once, however many actors it runs.
      totalRssBytes: [own, bus, ...new Map(Object.values(actors).map((a) => [a.pid, a.rssBytes])).values()].reduce<number>((sum, r) => sum + (r ?? 0), 0),
    }
  }

  async #prepare(): Promise<void> {
    const { paths } = this
    await mkdir(paths.dataDir, { recursive: true, mode: 0o700 })
    await mkdir(paths.logs, { recursive: true, mode: 0o700 })
    const running = await runningNode(paths)
    if (running && running.pid !== process.pid) {
      throw new NodeAlreadyRunningError(`node ${running.node} already runs on ${paths.dataDir} (pid ${running.pid}); stop it with \`baran stop --data-dir ${paths.dataDir}\``)
    }
    const configFile = this.#opts.configFile ?? paths.config
    this.config = await loadConfig({ file: configFile, explicit: this.#opts.configFile !== undefined, env: this.#opts.env })
    const baseDir = dirname(configFile)
    const configured = configuredActors(this.config)
    // The implementations are loaded and checked (in a short-lived process when built) while the local network starts.
    const inspector = openInspector()
    try {
      const loading = inspector.load(configured, baseDir)
      loading.catch(() => undefined) // awaited below, after the local network
      // No chain configured → join or start the machine's local network (stopped again if a check below fails).
      this.#localnet = await localnetFor(this.config, configured.map((a) => a.name), { home: baranHome(this.#opts.env), node: this.node, log: this.log })
      try {
        this.#actors = await loading
        this.log.info({ actors: this.#actors.map((a) => `${a.name}=${a.spec}`) }, 'configuration loaded')
        if (this.#localnet) this.#localnetAddrs = await this.#localnet.network()
        await inspector.check(Object.fromEntries(this.#actors.map((a) => [a.name, this.#actorConfig(a)])))
      } catch (e) {
        await this.#localnet?.stop()
        throw e
      }
    } finally {
      await inspector.close()
    }
  }

  /** Every contract any configured actor serves, plus the supervisor's and each actor's health. */
  #contracts(): Array<Pick<RequestContract, 'actor' | 'verb' | 'callers'>> {
    return [nodeStatus, nodeStop, ...this.#actors.flatMap((a) => [healthContractOf(a.name), ...a.contracts])]
  }

  async #startBus(): Promise<void> {
    const external = this.config.bus.url
    if (external) {
      this.#busUrl = external
      this.log.info({ url: external }, 'using an external NATS')
    } else {
      const users = [...this.#actors.map((a) => a.name), SUPERVISOR_USER, CLI_USER, UI_USER]
      this.#passwords = await loadOrCreatePasswords(this.paths, users)
      const contracts = this.#contracts()
      const actorNames = new Set(this.#actors.map((a) => a.name))
      const conf = natsConfig({
        node: this.node,
        jetstreamDir: this.paths.jetstream,
        users: Object.fromEntries(
          users.map((u) => [
            u,
            { pass: this.#passwords[u] ?? '', permissions: permissionsFor(u, this.node, contracts, { actor: actorNames.has(u), jetstream: this.#actors.find((a) => a.name === u)?.jetstream, events: eventContracts }) },
          ]),
        ),
      })
      await writeFile(this.paths.natsConf, conf, { mode: 0o600 })
      this.#nats = await new NatsServerProcess({ configFile: this.paths.natsConf, workDir: this.paths.bus, logFile: this.paths.log('nats') }).start()
      this.#busUrl = this.#nats.url
      this.#watchNats(this.#nats)
      this.log.info({ url: this.#busUrl, pid: this.#nats.pid }, 'bus started')
    }
    const creds = this.#nats ? { user: SUPERVISOR_USER, pass: this.#passwords[SUPERVISOR_USER] ?? '' } : credsFromConfig(this.config)
    this.#bus = await Bus.connect({ servers: this.#busUrl, node: this.node, name: `baran-${this.node}-supervisor`, ...creds, log: this.log })
    const svc = await this.#bus.service({ name: 'node', version: '0.1.0', description: 'baran node supervisor' })
    svc.serve(nodeStatus, () => this.status())
    svc.serve(nodeStop, (req) => {
      setImmediate(() => void this.stop(req?.reason ?? 'baran stop'))
      return { stopping: true as const }
    })
    await this.#bus.subscribe(
      stateEventOf('*'),
      (e) => {
        const child = this.#children.get(e.actor)
        if (!child) return
        const was = child.state
        child.noteState(e.state as LifecycleState, e.pid, e.reason)
        this.#emit({ type: 'actor', name: e.actor, status: child.status() })
        // A restarted discovery or transport of the local network's owner: tell the joined nodes where it is now.
        if (child.restarts > 0 && child.state === 'ready' && was !== 'ready' && this.#localnet?.owner && ['discovery', 'transport'].includes(e.actor)) {
          void this.#announceLocalnet(this.#localnet).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'could not announce the local network again'))
        }
      },
      { actor: '*' },
    )
    // A bus restart loses the actors' state events of the outage: no actor is ready until it answers again.
    this.#bus.onStatus((s) => {
      if (s === 'disconnected') for (const c of this.#children.values()) c.noteBusLost()
      else if (s === 'reconnected') void this.#askActorsAgain()
    })
    await this.#writeNodeInfo()
  }

  /**
   * After a bus outage, asks each actor the supervisor lost for its health until it answers (its subscriptions are
   * back: it can serve again) or a bounded time passed; its state events count again meanwhile.
   */
  async #askActorsAgain(): Promise<void> {
    const backoff = new Backoff({ initialMs: 250, maxMs: 4_000 })
    const deadline = Date.now() + 60_000
    for (;;) {
      const lost = [...this.#children.values()].filter((c) => c.state === 'degraded' && c.reason === BUS_LOST && c.running)
      if (lost.length === 0 || this.#stopping || !this.#bus || Date.now() > deadline) return
      const bus = this.#bus
      await Promise.all(
        lost.map(async (c) => {
          const h = await bus.request(healthContractOf(c.spec.name), {}, { timeoutMs: 2_000 }).catch(() => undefined)
          if (h === undefined) return
          c.noteState(h.state, h.pid, h.reason)
          this.#emit({ type: 'actor', name: c.spec.name, status: c.status() })
        }),
      )
      await new Promise((r) => setTimeout(r, backoff.next()))
    }
  }

  async #writeNodeInfo(): Promise<void> {
    await writeNodeInfo(this.paths, {
      node: this.node,
      pid: process.pid,
      busUrl: this.#busUrl,
      embeddedBus: this.#nats !== undefined,
      busPid: this.#nats?.pid ?? null,
      startedAt: this.#startedAt,
      dataDir: this.paths.dataDir,
    })
  }

  /**
   * Resolves when the supervisor's own connection is back on a restarted bus and the server has its
   * subscriptions (a flush after the reconnect), or after `timeoutMs`: never blocks the restart for good.
   */
  #busBack(timeoutMs = 15_000): Promise<void> {
    const bus = this.#bus
    if (!bus) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        off()
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      timer.unref()
      const off = bus.onStatus((s) => {
        if (s === 'reconnected') void bus.flush().then(done, done)
      })
    })
  }

  /** nats-server is part of the node: if it dies, start it again on the same port (actors reconnect). */
  #watchNats(nats: NatsServerProcess): void {
    void nats.exited.then(async () => {
      if (this.#stopping) return
      this.log.error('nats-server exited: restarting it')
      const back = this.#busBack()
      // 200 ms doubling to 5 s; at most 20 attempts. Not retry(): it ends with the supervisor's stop, not a signal.
      const backoff = new Backoff({ initialMs: 200, maxMs: 5000 })
      for (let attempt = 1; attempt <= 20 && !this.#stopping; attempt++) {
        try {
          await nats.start()
          this.log.info({ pid: nats.pid, attempt }, 'nats-server restarted')
          // node.json names the bus pid: keep it true (tools and tests kill or watch it), once node.status is
          // served on it again (a `baran status` that reads the new node.json must not find nobody serving).
          await back
          await this.#writeNodeInfo().catch((e: unknown) => this.log.error({ err: e }, 'cannot update node.json'))
          this.#watchNats(nats)
          return
        } catch (e) {
          this.log.error({ err: (e as Error).message, attempt }, 'nats-server restart failed')
          await new Promise((r) => setTimeout(r, backoff.next()))
        }
      }
    })
  }

  async #startActors(): Promise<void> {
    const sup = this.config.supervisor
    const env = { ...inheritedEnv(this.#opts.env ?? process.env), BARAN_STOP_DEADLINE_MS: String(sup.stopDeadlineMs) }
    this.#hosts = sharedHosts(sharedProcesses(this.config), { env, logFile: (name) => this.paths.log(`process-${name}`), log: this.log })
    const hostOf = new Map([...this.#hosts.values()].flatMap((h) => h.members.map((m) => [m, h] as const)))
    for (const a of this.#actors) {
      const env: NodeJS.ProcessEnv = {
        ...inheritedEnv(this.#opts.env ?? process.env),
        BARAN_NODE: this.node,
        BARAN_BUS_URL: this.#busUrl,
        BARAN_DATA_DIR: this.paths.dataDir,
        BARAN_ACTOR_CONFIG: JSON.stringify(this.#actorConfig(a)),
        BARAN_STOP_DEADLINE_MS: String(sup.stopDeadlineMs),
      }
      if (this.#nats) env.BARAN_BUS_CREDS_FILE = this.paths.creds(a.name)
      const child = new ChildActor(
        { name: a.name, implementation: a.spec, moduleUrl: a.url, env, logFile: this.paths.log(a.name), restart: sup.restart, stopDeadlineMs: sup.stopDeadlineMs, host: hostOf.get(a.name) },
        this.log,
        (c, what) => {
          if (what === 'restarting' && this.#bus) {
            this.#bus.publish(actorRestarted, { actor: c.spec.name, restarts: c.restarts, pid: c.pid, at: Date.now() })
          }
          this.#emit({ type: 'actor', name: c.spec.name, status: c.status() })
        },
      )
      this.#children.set(a.name, child)
      child.spawn()
    }
    const settled = () => [...this.#children.values()].every((c) => ['ready', 'degraded', 'gave-up', 'failed'].includes(c.state))
    const deadline = Date.now() + sup.readyTimeoutMs
    while (!settled()) {
      if (this.#stopping) return
      if (Date.now() > deadline) {
        const late = [...this.#children.values()].filter((c) => !['ready', 'degraded'].includes(c.state)).map((c) => `${c.spec.name} (${c.state})`)
        throw new StartTimeoutError(`actors not ready within ${sup.readyTimeoutMs} ms: ${late.join(', ')}; see ${this.paths.logs}`)
      }
      await new Promise((r) => setTimeout(r, 25))
    }
    if (this.#localnet?.owner) await this.#announceLocalnet(this.#localnet)
  }

  /** The owner of the local network tells joining nodes where its DHT and relay are. */
  async #announceLocalnet(net: LocalnetHandle): Promise<void> {
    const bus = this.#bus
    if (!bus) return
    const [d, t] = await Promise.all([
      this.#children.has('discovery') ? bus.request(discoveryInfo, {}).catch(() => undefined) : undefined,
      this.#children.has('transport') ? bus.request(transportInfo, {}).catch(() => undefined) : undefined,
    ])
    const withPeer = (addrs: string[] | undefined, peerId: string | undefined) =>
      (addrs ?? []).filter((a) => !a.includes('/p2p-circuit')).map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`))
    // localnet.json is read on this machine only: when discovery listens on every IPv4 interface, its loopback
    // address comes first, so joined nodes keep finding the owner when the machine's LAN address changes.
    const wildcard = (this.config.discovery.listen ?? ['/ip4/0.0.0.0/']).some((a) => a.startsWith('/ip4/0.0.0.0/'))
    const loopbackTwins = wildcard ? withPeer(d?.addrs, d?.peerId).flatMap((a) => (/^\/ip4\/[^/]+\/tcp\/\d+\/p2p\//.test(a) ? [a.replace(/^\/ip4\/[^/]+/, '/ip4/127.0.0.1')] : [])) : []
    const addrs = { bootstrap: [...new Set([...loopbackTwins, ...withPeer(d?.addrs, d?.peerId)])], relays: withPeer(t?.addrs, t?.peerId) }
    await net.announce(addrs)
    this.log.info(addrs, 'announced the local network')
  }

  /** An actor's config: its section of the node config (naming, discovery…), then what `actors.<name>.config` adds. */
  #actorConfig(a: ActorDescription): Record<string, unknown> {
    const section = (this.config as Record<string, unknown>)[a.name]
    return { ...(typeof section === 'object' && section !== null ? section : {}), ...this.#localnetConfig(a.name), ...(a.config as Record<string, unknown>) }
  }

  /**
   * What the local network adds to an actor's config: the chain for naming; for discovery and transport, the
   * owner's addresses as bootstrap and relay (unless the config names its own), and the owner serves as relay.
   */
  #localnetConfig(actor: string): Record<string, unknown> {
    const net = this.#localnet
    if (!net) return {}
    if (actor === 'naming') return { ...net.namingConfig() }
    // A node that joined reads localnet.json again while it runs: the owner's addresses may change.
    const file = localnetPaths(baranHome(this.#opts.env)).file
    if (actor === 'discovery' && !this.config.discovery.bootstrap) return { bootstrap: this.#localnetAddrs?.bootstrap ?? [], ...(net.owner ? {} : { bootstrapFile: file }) }
    if (actor === 'transport' && !this.config.transport.relays) return net.owner ? { relayServer: true } : { relays: this.#localnetAddrs?.relays ?? [], relaysFile: file }
    return {}
  }

  async #stop(): Promise<void> {
    this.#stopping = true
    for (const child of [...this.#children.values()].reverse()) await child.stop()
    for (const host of this.#hosts.values()) await host.stop(this.config.supervisor.stopDeadlineMs)
    await this.#bus?.close().catch(() => undefined)
    await this.#nats?.stop()
    await this.#localnet?.stop()
    await removeNodeInfo(this.paths)
    this.log.info('node stopped')
    this.log.flush()
  }

  /** Last resort when the supervisor process itself is dying: nothing may outlive it. */
  killAll(): void {
    this.#stopping = true
    for (const c of this.#children.values()) c.killNow()
    for (const h of this.#hosts.values()) h.killNow()
    void this.#nats?.kill()
  }
}
