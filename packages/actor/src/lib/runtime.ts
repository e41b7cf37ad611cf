import {
  type Bus,
  BusError,
  BusErrorCode,
  type Health,
  healthContractOf,
  type LifecycleState,
  stateEventOf,
  type ActorService,
  Bus as BusClient,
} from '@baran/bus'
import { setTimeout as sleep } from 'node:timers/promises'
import { createActor, fromPromise, type Actor, type SnapshotFrom, waitFor } from 'xstate'
import type { ActorContext, ActorDefinition, BusAccess, RunningActor, ServeOptions } from './define.ts'
import { createLogger, type Logger } from './logger.ts'
import { lifecycleMachine } from './machine.ts'
import { Backoff } from './recurring.ts'

export interface RuntimeOptions<Config> {
  node: string
  bus: BusAccess
  /** Raw config: validated with the definition's zod schema before start. */
  config?: unknown
  dataDir: string
  log?: Logger
  /** How long a stop may take: in-flight requests drain, then the actor's own stop (default 5 s). */
  stopDeadlineMs?: number
  /** Back-off between first-connection attempts. */
  connectBackoff?: { initialMs: number; maxMs: number }
  /** Test hook: observe every transition. */
  onTransition?: (state: LifecycleState, previous: LifecycleState | null, reason?: string) => void
  /** Parsed config (inline callers that already validated it). */
  parsedConfig?: Config
}

/** Thrown when an actor's config does not match its schema: the message names the key. */
export class ActorConfigError extends Error {
  override name = 'ActorConfigError'
  readonly code = 'invalid_config'
}

type LifecycleActor = Actor<typeof lifecycleMachine>

/**
 * Runs one actor definition: owns its lifecycle machine, bus connection (or shares one), NATS service,
 * health endpoint and state events. The same class runs an actor inline (tests, simulations) or as a process.
 */
export class ActorRuntime<Config> {
  readonly def: ActorDefinition<Config>
  readonly node: string
  readonly log: Logger
  readonly lifecycle: LifecycleActor
  #opts: RuntimeOptions<Config>
  #bus: Bus | undefined
  #service: ActorService | undefined
  #running: RunningActor | undefined
  #config: Config
  #abort = new AbortController()
  #startedAt = Date.now()
  #unhookStatus: (() => void) | undefined
  /** What the actor subscribed to through ctx.subscribe, undone at stop (a shared bus outlives the actor). */
  #subscriptions: Array<{ unsubscribe(): void }> = []

  constructor(def: ActorDefinition<Config>, opts: RuntimeOptions<Config>) {
    this.def = def
    this.node = opts.node
    this.#opts = opts
    this.log = opts.log ?? createLogger({ node: opts.node, actor: def.name })
    this.#config = opts.parsedConfig ?? parseConfig(def, opts.config)
    const machine = lifecycleMachine.provide({
      actors: {
        connect: fromPromise(({ signal }) => this.#connect(signal)),
        start: fromPromise(() => this.#start()),
        stop: fromPromise(() => this.#stop()),
      },
    })
    this.lifecycle = createActor(machine)
    let previous: LifecycleState | null = null
    let previousReason: string | undefined
    this.lifecycle.subscribe((snap) => {
      const state = snap.value as LifecycleState
      const reason = snap.context.reason
      // A degraded actor whose reason changed says so too (the supervisor and `baran status` show the current one).
      if (state === previous && !(state === 'degraded' && reason !== previousReason)) return
      previousReason = reason
      this.log.info({ state, previous, ...(reason ? { reason } : {}) }, `state ${previous ?? '-'} -> ${state}`)
      this.#publishState(state, previous, reason)
      if (state !== previous) this.#opts.onTransition?.(state, previous, reason)
      previous = state
    })
  }

  get state(): LifecycleState {
    return this.lifecycle.getSnapshot().value as LifecycleState
  }
  get snapshot(): SnapshotFrom<typeof lifecycleMachine> {
    return this.lifecycle.getSnapshot()
  }
  get bus(): Bus | undefined {
    return this.#bus
  }
  get config(): Config {
    return this.#config
  }

  /** Starts the machine; resolves once `ready` (or `degraded`), rejects if it fails. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.lifecycle.start()
    this.lifecycle.send({ type: 'START' })
    const snap = await waitFor(this.lifecycle, (s) => ['ready', 'degraded', 'failed', 'stopped'].includes(s.value as string), {
      timeout: timeoutMs,
    })
    if (snap.value === 'failed' || snap.value === 'stopped') {
      throw new Error(`${this.def.name} did not start: ${snap.context.reason ?? snap.value}`)
    }
  }

  /** Drains and stops; resolves once `stopped`. */
  async stop(reason = 'stop requested'): Promise<void> {
    if (this.lifecycle.getSnapshot().status !== 'active') return
    this.lifecycle.send({ type: 'STOP', reason })
    await waitFor(this.lifecycle, (s) => s.value === 'stopped', { timeout: (this.#opts.stopDeadlineMs ?? 5000) + 5000 })
  }

  health(): Health {
    const snap = this.lifecycle.getSnapshot()
    const mem = process.memoryUsage()
    const reason = snap.context.reason
    const details = this.#running?.health?.()
    return {
      node: this.node,
      actor: this.def.name,
      state: snap.value as LifecycleState,
      since: snap.context.since,
      uptimeMs: Date.now() - this.#startedAt,
      version: this.def.version,
      implementation: this.def.implementation,
      contractVersion: this.def.contractVersion,
      pid: process.pid,
      ...(reason ? { reason } : {}),
      inFlight: this.#service?.inFlight ?? 0,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      ...(details ? { details } : {}),
    }
  }

  async #connect(signal: AbortSignal): Promise<void> {
    const access = this.#opts.bus
    if ('shared' in access) {
      this.#bus = access.shared
      return
    }
    const backoff = new Backoff({ ...(this.#opts.connectBackoff ?? { initialMs: 100, maxMs: 5000 }), jitter: 0.2 })
    for (let attempt = 1; ; attempt++) {
      try {
        this.#bus = await BusClient.connect({
          ...access.connect,
          node: this.node,
          name: access.connect.name ?? `baran-${this.node}-${this.def.name}`,
          log: this.log,
        })
        break
      } catch (e) {
        // A refused password will not get better: fail now instead of retrying forever.
        if (e instanceof BusError && e.code === BusErrorCode.Forbidden) throw e
        const wait = backoff.next()
        this.log.warn({ attempt, retryInMs: wait, err: (e as Error).message }, 'bus not reachable yet')
        await sleep(wait, undefined, { signal })
      }
    }
    this.#unhookStatus = this.#bus.onStatus((s, detail) => {
      if (s === 'disconnected') {
        this.log.warn({ detail }, 'bus connection lost')
        this.lifecycle.send({ type: 'DEGRADE', reason: 'bus' })
      } else if (s === 'reconnected') {
        this.log.info({ detail }, 'bus connection back')
        this.lifecycle.send({ type: 'RECOVER', reason: 'bus' })
      }
    })
  }

  async #start(): Promise<void> {
    const bus = this.#bus
    if (!bus) throw new Error('no bus')
    const def = this.def
    this.#service = await bus.service({
      name: def.name,
      version: def.version,
      metadata: { implementation: def.implementation, contract_version: String(def.contractVersion) },
    })
    const service = this.#service
    service.serve(healthContractOf(def.name), () => this.health())
    const guard = (opts?: ServeOptions) => () => {
      const state = this.state
      if (state === 'ready') return
      if (state === 'degraded' && opts?.whenDegraded === 'serve') return
      const degradedBy = this.lifecycle.getSnapshot().context.degradedBy
      const tolerated = opts?.servedWhileDegradedBy
      if (state === 'degraded' && tolerated && degradedBy.length > 0 && degradedBy.every((r) => tolerated.includes(r))) return
      const why = degradedBy.join(', ')
      // A one-word reason names what is down ("bus"); a sentence says it all ("JetStream unavailable: disk full…").
      const detail = /\s/.test(why) ? ` (${why})` : ` (${why} unavailable)`
      // details.state lets a caller tell an actor that is starting (ready soon) from one that is degraded or stopping.
      throw new BusError(BusErrorCode.Unavailable, `${def.name} is ${state}${state === 'degraded' && why ? detail : ''}`, { details: { state } })
    }
    const ctx: ActorContext<Config> = {
      node: this.node,
      name: def.name,
      config: this.#config,
      dataDir: this.#opts.dataDir,
      log: this.log,
      bus,
      signal: this.#abort.signal,
      serve: (contract, handler, opts) => service.serve(contract, handler, { guard: guard(opts) }),
      publish: (contract, body) => bus.publish(contract, body),
      subscribe: async (contract, handler, opts) => {
        const sub = await bus.subscribe(contract, handler, opts)
        this.#subscriptions.push(sub)
        return sub
      },
      degrade: (reason) => this.lifecycle.send({ type: 'DEGRADE', reason }),
      recover: (reason) => this.lifecycle.send({ type: 'RECOVER', reason }),
    }
    this.#running = await def.start(ctx)
    // Ready means servable: make sure the server has every endpoint's subscription before we say so.
    await bus.flush()
  }

  async #stop(): Promise<void> {
    const deadline = this.#opts.stopDeadlineMs ?? 5000
    this.#abort.abort(new Error('stopping'))
    const drained = (await this.#service?.drain(deadline)) ?? true
    if (!drained) this.log.warn({ deadlineMs: deadline }, 'requests still in flight at the stop deadline')
    let timer: NodeJS.Timeout | undefined
    const stopped = await Promise.race([
      Promise.resolve(this.#running?.stop?.()).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadline)
      }),
    ]).finally(() => clearTimeout(timer))
    // On a shared connection (inline mode) nobody closes the bus after us: drop what the actor subscribed to.
    for (const sub of this.#subscriptions.splice(0)) {
      try {
        sub.unsubscribe()
      } catch {
        // already gone with its connection
      }
    }
    if (!stopped) throw new Error(`${this.def.name} did not stop within ${deadline} ms`)
  }

  /** Called after `stopped`: publish the last state, then let go of the connection we own. */
  async close(): Promise<void> {
    this.#unhookStatus?.()
    const bus = this.#bus
    if (bus && 'connect' in this.#opts.bus) {
      await bus.flush().catch(() => undefined)
      await bus.drain()
    }
    this.lifecycle.stop()
  }

  #publishState(state: LifecycleState, previous: LifecycleState | null, reason: string | undefined): void {
    const bus = this.#bus
    if (!bus) return
    try {
      bus.publish(
        stateEventOf(this.def.name),
        { node: this.node, actor: this.def.name, state, previous, at: Date.now(), pid: process.pid, ...(reason ? { reason: reason.slice(0, 500) } : {}) },
      )
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not publish state')
    }
  }
}

function parseConfig<Config>(def: ActorDefinition<Config>, raw: unknown): Config {
  const parsed = def.config.safeParse(raw ?? {})
  if (parsed.success) return parsed.data
  const first = parsed.error.issues[0]
  const key = first?.path.map(String).join('.') || '(root)'
  throw new ActorConfigError(`invalid config for actor ${def.name}: ${key}: ${first?.message ?? 'invalid'}`)
}
