import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Backoff } from '@baran/actor/recurring'
import { exitsWithin } from '@baran/launch'
import type { ActorStatus, LifecycleState } from '@baran/bus'
import type { Logger } from 'pino'
import { conditionFlags } from './conditions.ts'
import type { HostProcess, ThreadChild } from './host-process.ts'
import { LogFile } from './log-file.ts'

/** The reason a ready actor shows while the supervisor is cut from the bus, until it answers its health again. */
export const BUS_LOST = 'the bus restarted: waiting for the actor to answer on it again'

/** The generic process entry: imports the implementation module and runs its `actor` (.ts from the sources, .js from the build). */
export const ACTOR_ENTRY = fileURLToPath(new URL(`../actor-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

/** This repository's packages (the same depth from src/lib and from dist/lib). */
const PACKAGES_URL = new URL('../../../../packages/', import.meta.url).href

/**
 * The file to run for an implementation module: one of this repository's built packages' bundle
 * (`dist/actor.bundle.js`, written by tools/bundle-actors.mjs next to its `dist/index.js`: one module to load
 * instead of hundreds) when there is one, else the generic entry, which imports the module.
 */
export function actorEntryFor(moduleUrl: string, packagesUrl = PACKAGES_URL): string {
  if (moduleUrl.startsWith(packagesUrl) && moduleUrl.endsWith('/dist/index.js')) {
    const bundle = fileURLToPath(new URL('actor.bundle.js', moduleUrl))
    if (existsSync(bundle)) return bundle
  }
  return ACTOR_ENTRY
}

/**
 * V8 flags of every actor process. A young generation of 1 MiB semi-spaces (V8's default grows them to 16 MiB)
 * costs an actor a few more scavenges and saves it ~25 MiB of resident memory: measured on the default node,
 * the five actors went from 628 to 526 MiB (apps/node/bench/node.bench.ts). One V8 background thread instead of
 * four (concurrent GC and compile work: an actor is mostly idle, and the machine may have 2 cores for 6 processes)
 * and at most two glibc malloc arenas (each thread that allocates may otherwise get its own) save ~5-14 MiB per
 * actor (transport 134 → 120 MiB, outbox 82 → 77 MiB, measured after importing each actor's module).
 */
export const ACTOR_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1']
/**
 * V8 flags by actor, after ACTOR_NODE_FLAGS: when TurboFan optimizes. An actor compiles much of its code with TurboFan
 * while it starts (functions its module set-up calls thousands of times), and keeps that code and the compiler's
 * pages resident. Naming does no per-message work and answers few requests: no TurboFan at all. The others tier up
 * after 5× V8's invocation counts (3000 → 15000, OSR 800 → 4000), so a start's code stays in Sparkplug/Ignition while
 * a busy pipeline, or a discovery node serving a busy DHT (little work per message here, much when the network
 * queries it), still gets optimized code. Default node, 3 starts each against a control, interleaved
 * (apps/node/bench/MEMORY.md): the five actors 394 → 374 MiB RSS with discovery also without TurboFan; pipeline
 * bench CPU per message and msgs/s unchanged.
 */
const LATE_TURBOFAN = ['--invocation-count-for-turbofan=15000', '--invocation-count-for-osr=4000']
export const ACTOR_TIERING_FLAGS: Record<string, readonly string[]> = {
  naming: ['--no-opt'],
  discovery: LATE_TURBOFAN,
  identity: LATE_TURBOFAN,
  transport: LATE_TURBOFAN,
  outbox: LATE_TURBOFAN,
}
/** The V8 flags of a process shared by several actors (each a thread): V8's flags are per process. */
export const SHARED_PROCESS_FLAGS: readonly string[] = [...ACTOR_NODE_FLAGS, ...LATE_TURBOFAN]
/** The V8 flags an actor process runs with (its name is its role: identity, naming, …). */
export function actorNodeFlags(name: string): string[] {
  return [...ACTOR_NODE_FLAGS, ...(Object.hasOwn(ACTOR_TIERING_FLAGS, name) ? (ACTOR_TIERING_FLAGS[name] ?? []) : [])]
}
/** Children get the parent's environment minus anything that could point them at another node's bus. */
export function inheritedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('BARAN_BUS_') && k !== 'BARAN_ACTOR_MODULE') out[k] = v
  return out
}
/** Environment defaults of every actor process (see ACTOR_NODE_FLAGS); a value set by the user wins. */
export const ACTOR_ENV_DEFAULTS: NodeJS.ProcessEnv = { MALLOC_ARENA_MAX: '2' }

export interface RestartPolicy {
  initialMs: number
  maxMs: number
  crashLoopCount: number
  crashLoopWindowMs: number
}

export interface ChildSpec {
  name: string
  implementation: string
  moduleUrl: string
  env: NodeJS.ProcessEnv
  logFile: string
  restart: RestartPolicy
  stopDeadlineMs: number
  /** The shared process it runs in as a thread (config `actors.<name>.process`); none: a process of its own. */
  host?: HostProcess
}

type ChildState = ActorStatus['state']
export type ChildListener = (child: ChildActor, what: 'spawned' | 'exited' | 'restarting' | 'gave-up') => void

/**
 * One supervised actor process: spawns it, restarts it after a crash with exponential back-off, gives up
 * on a crash loop (or a config error, exit 78), and stops it with SIGTERM, then SIGKILL after the deadline.
 */
export class ChildActor {
  readonly spec: ChildSpec
  state: ChildState = 'spawning'
  restarts = 0
  lastExit: ActorStatus['lastExit'] = null
  /**
   * Why the actor is not ready: the reason of its last failed or degraded state event, kept across restarts (a
   * crash loop still says why) until it is ready again.
   */
  reason: string | undefined
  #child: ChildProcess | ThreadChild | undefined
  #spawnedAt = 0
  #crashes: number[] = []
  #timer: NodeJS.Timeout | undefined
  #stopping = false
  #exited: Promise<void> = Promise.resolve()
  #log: Logger
  #out: LogFile
  #onChange: ChildListener

  constructor(spec: ChildSpec, log: Logger, onChange: ChildListener) {
    this.spec = spec
    this.#log = log.child({ child: spec.name })
    this.#onChange = onChange
    // A full or read-only disk drops log lines (and says so once), never the supervisor.
    this.#out = new LogFile(spec.logFile, { onTrouble: (err) => this.#log.warn({ err: err.message, file: spec.logFile }, 'cannot write the actor log: dropping lines until it works again') })
  }

  get pid(): number | null {
    return this.#child?.pid ?? null
  }
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
  }

  status(): ActorStatus {
    return {
      state: this.state,
      pid: this.running ? this.pid : null,
      uptime: this.running ? Date.now() - this.#spawnedAt : 0,
      restarts: this.restarts,
      implementation: this.spec.implementation,
      lastExit: this.lastExit,
      ...(this.spec.host ? { process: this.spec.host.name } : {}),
      ...(this.reason && this.state !== 'ready' ? { reason: this.reason } : {}),
    }
  }

  /**
   * The supervisor lost the bus: a ready actor's state events of the outage cannot reach it, and the actor is
   * unreachable too. Degraded with BUS_LOST until it answers again (the supervisor asks its health).
   */
  noteBusLost(): void {
    if (!this.running || this.state !== 'ready') return
    this.state = 'degraded'
    this.reason = BUS_LOST
  }

  /** A state event from the bus: only the current process's events count. */
  noteState(state: LifecycleState, pid: number, reason?: string): void {
    if (pid !== this.pid || !this.running) return
    this.state = state
    if (state === 'ready') this.reason = undefined
    else if (reason && (state === 'failed' || state === 'degraded')) this.reason = reason
  }

  spawn(): void {
    if (this.#stopping) return
    const entry = actorEntryFor(this.spec.moduleUrl)
    const env = { ...ACTOR_ENV_DEFAULTS, ...this.spec.env, BARAN_ACTOR_MODULE: this.spec.moduleUrl }
    const child: ChildProcess | ThreadChild = this.spec.host
      ? this.spec.host.startThread(this.spec.name, entry, env)
      : spawn(process.execPath, [...conditionFlags(), ...actorNodeFlags(this.spec.name), entry], {
          env,
          // The IPC channel makes the actor exit by itself if this supervisor dies.
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        })
    this.#child = child
    this.#spawnedAt = Date.now()
    this.state = 'spawning'
    child.stdout?.pipe(this.#out, { end: false })
    child.stderr?.pipe(this.#out, { end: false })
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#onExit(code, signal)
        resolve()
      })
    })
    child.once('error', (err: Error) => this.#log.error({ err }, 'could not spawn actor'))
    this.#log.info({ pid: child.pid, ...(this.spec.host ? { process: this.spec.host.name } : {}) }, 'spawned')
    this.#onChange(this, 'spawned')
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.lastExit = { code, signal, at: Date.now() }
    if (this.#stopping) {
      this.state = 'stopped'
      this.#onChange(this, 'exited')
      return
    }
    const now = Date.now()
    this.#crashes = [...this.#crashes.filter((t) => now - t < this.spec.restart.crashLoopWindowMs), now]
    this.#log.warn({ code, signal }, 'actor exited')
    if (code === 78) {
      this.state = 'gave-up'
      this.#log.error('actor refused its configuration (exit 78): not restarting; fix the config and restart the node')
      this.#onChange(this, 'gave-up')
      return
    }
    if (this.#crashes.length >= this.spec.restart.crashLoopCount) {
      this.state = 'gave-up'
      this.#log.error({ crashes: this.#crashes.length, windowMs: this.spec.restart.crashLoopWindowMs }, 'crash loop: not restarting')
      this.#onChange(this, 'gave-up')
      return
    }
    // The crashes in the window are the failures in a row: the delay doubles with each (an initialMs above maxMs is maxMs).
    const { initialMs, maxMs } = this.spec.restart
    const delay = new Backoff({ initialMs: Math.min(initialMs, maxMs), maxMs }).after(this.#crashes.length)
    this.state = 'backoff'
    this.#onChange(this, 'exited')
    this.#timer = setTimeout(() => {
      this.restarts++
      this.spawn()
      this.#onChange(this, 'restarting')
    }, delay)
  }

  /** SIGTERM, wait for the deadline, then SIGKILL. */
  async stop(): Promise<void> {
    this.#stopping = true
    clearTimeout(this.#timer)
    const child = this.#child
    if (child && this.running) {
      this.state = 'stopping'
      child.kill('SIGTERM')
      if (!(await exitsWithin(this.#exited, this.spec.stopDeadlineMs + 1000))) {
        this.#log.warn('did not stop in time: SIGKILL')
        child.kill('SIGKILL')
        await this.#exited
      }
    }
    this.state = 'stopped'
    await new Promise<void>((r) => this.#out.end(r))
  }

  /** Kill -9 the whole thing now (the supervisor itself is dying). */
  killNow(): void {
    this.#stopping = true
    clearTimeout(this.#timer)
    if (this.running) this.#child?.kill('SIGKILL')
  }
}
