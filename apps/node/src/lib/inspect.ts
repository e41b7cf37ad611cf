import type { RequestContract } from '@baran/bus'
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { conditionFlags } from './conditions.ts'
import type { ActorEntry } from './config.ts'
import { BUILD_CACHE, CachedInspector } from './inspect-cache.ts'
import { checkActorConfig, ImplementationError, type LoadedActor, loadActor } from './implementations.ts'

/** What the supervisor needs of an implementation: its bus permissions and where the actor process loads it from. */
export interface ActorDescription {
  name: string
  /** What the config said (package name or path). */
  spec: string
  /** The module URL the actor process imports. */
  url: string
  config: unknown
  contractVersion: number
  jetstream?: boolean
  contracts: Array<Pick<RequestContract, 'actor' | 'verb' | 'callers'>>
}

export type InspectRequest =
  | { type: 'load'; actors: Array<{ name: string; entry: ActorEntry }>; baseDir: string }
  | { type: 'check'; configs: Record<string, unknown> }
export type InspectReply = { ok: true; actors: ActorDescription[] } | { ok: false; message: string; code?: string }

/** The description of a loaded implementation (plain data: it crosses the process boundary). */
export function describeLoaded({ name, spec, url, config, def }: LoadedActor): ActorDescription {
  return {
    name,
    spec,
    url,
    config,
    contractVersion: def.contractVersion,
    ...(def.jetstream ? { jetstream: true } : {}),
    contracts: def.contracts.map(({ actor, verb, callers }) => ({ actor, verb, callers: [...callers] })),
  }
}

/** Loads and checks the configured implementations for the supervisor. */
export interface Inspector {
  /** Imports each implementation; refuses one that does not export `actor`, implements another role or contract version. */
  load(actors: Array<{ name: string; entry: ActorEntry }>, baseDir: string): Promise<ActorDescription[]>
  /** Checks each actor's final config against its schema. */
  check(configs: Record<string, unknown>): Promise<void>
  close(): Promise<void>
}

const FROM_SOURCES = import.meta.url.endsWith('.ts')

/**
 * The built node (bin/baran, npm start) inspects in a short-lived process, and remembers the answer for the same
 * build and config (inspect-cache.ts: a warm start skips that process). From the TypeScript sources (tests, the
 * demo) it inspects in this process, as before: there every extra process pays Node's type stripper (~1 s of CPU
 * at start), which would slow each test's node start more than the memory matters.
 */
export function openInspector(): Inspector {
  return FROM_SOURCES ? new InlineInspector() : new CachedInspector({ ...BUILD_CACHE, open: () => new ImplementationInspector() })
}

/** Loads the implementations into this process (see openInspector). */
export class InlineInspector implements Inspector {
  #loaded = new Map<string, LoadedActor>()

  async load(actors: Array<{ name: string; entry: ActorEntry }>, baseDir: string): Promise<ActorDescription[]> {
    for (const { name, entry } of actors) this.#loaded.set(name, await loadActor(name, entry, baseDir))
    return [...this.#loaded.values()].map(describeLoaded)
  }

  async check(configs: Record<string, unknown>): Promise<void> {
    for (const [name, merged] of Object.entries(configs)) {
      const a = this.#loaded.get(name)
      if (a) checkActorConfig(a, merged)
    }
  }

  async close(): Promise<void> {
    this.#loaded.clear()
  }
}

// The worker file next to this one: inspect-worker.ts from the sources, inspect-worker.js from the build.
const WORKER = fileURLToPath(new URL(`./inspect-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

/**
 * Loads and checks actor implementations in a short-lived child process (loadActor, checkActorConfig), then ends
 * it: the modules an implementation imports live only as long as the check, not in the supervisor for the node's
 * life (they cost it ~100 MB; a worker thread gave back only half of that). Errors come back as
 * ImplementationError with the child's message.
 */
export class ImplementationInspector implements Inspector {
  #worker: ChildProcess
  #exited: Promise<void>
  #failure: Error | undefined

  constructor() {
    // The same conditions as this process: sources or build, like the actors it checks for.
    this.#worker = fork(WORKER, [], { execArgv: conditionFlags(), stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()))
    this.#worker.once('error', (e) => {
      this.#failure = e
    })
  }

  /** The inspecting process (gone after close). */
  get pid(): number | undefined {
    return this.#worker.pid
  }

  async #ask(req: InspectRequest): Promise<ActorDescription[]> {
    const reply = await new Promise<InspectReply>((resolve, reject) => {
      const onExit = () => reject(this.#failure ?? new ImplementationError('the implementation inspector stopped unexpectedly'))
      this.#worker.once('message', (m: InspectReply) => {
        this.#worker.off('exit', onExit)
        resolve(m)
      })
      this.#worker.once('exit', onExit)
      this.#worker.send(req)
    })
    if (!reply.ok) throw new ImplementationError(reply.message)
    return reply.actors
  }

  /** Imports each implementation; refuses one that does not export `actor`, implements another role or contract version. */
  load(actors: Array<{ name: string; entry: ActorEntry }>, baseDir: string): Promise<ActorDescription[]> {
    return this.#ask({ type: 'load', actors, baseDir })
  }

  /** Checks each actor's final config against its schema. */
  async check(configs: Record<string, unknown>): Promise<void> {
    await this.#ask({ type: 'check', configs })
  }

  async close(): Promise<void> {
    if (this.#worker.exitCode === null && this.#worker.signalCode === null) this.#worker.kill('SIGKILL')
    await this.#exited
  }
}
