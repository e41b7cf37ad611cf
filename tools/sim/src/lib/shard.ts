/**
 * Worker threads that each hold a share of the simulated nodes. One event loop runs out of CPU long before memory
 * runs out (100 nodes' libp2p hosts, Noise and Ed25519 on one thread); shards put every core to work. Nodes talk
 * to each other exactly as before (TCP on loopback, one nats-server); only start/stop/addresses cross threads.
 */
import { type ChildProcess, fork } from 'node:child_process'
import type { EventEmitter } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { NodeStartError, ShardError } from './errors.ts'
import type { NodeState, ShardInit, ShardReply, ShardRequest, ShardStats } from './shard-protocol.ts'

/** What the scenario needs of a node, wherever it runs (SimNode in this thread, RemoteSimNode in a shard). */
export interface SimNodeHandle {
  readonly name: string
  readonly accountId: string
  readonly online: boolean
  readonly startMs: readonly number[]
  readonly stopMs: readonly number[]
  readonly actorStartMs: Readonly<Record<string, readonly number[]>>
  start(bootstrap: string[]): Promise<void>
  stop(): Promise<void>
  dhtAddrs(): Promise<string[]>
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never

/** How a shard runs: a worker thread (default) or a child process of its own, which `kill()` ends with SIGKILL. */
export interface ShardOptions {
  process?: boolean
}

export class Shard {
  readonly index: number
  #worker: Worker | undefined
  #child: ChildProcess | undefined
  #exited: Promise<void>
  #next = 1
  #pending = new Map<number, { resolve: (r: ShardReply) => void; reject: (e: Error) => void }>()
  #dead: Error | undefined

  constructor(index: number, init: ShardInit, opts: ShardOptions = {}) {
    this.index = index
    const script = new URL('./shard-worker.ts', import.meta.url)
    // The source condition lets the worker load the workspace's TypeScript, as the main thread does.
    const execArgv = ['--conditions=@baran/source']
    if (opts.process) {
      this.#child = fork(fileURLToPath(script), [], { execArgv, serialization: 'advanced', env: { ...process.env, BARAN_SIM_SHARD: JSON.stringify(init) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    } else this.#worker = new Worker(script, { workerData: init, execArgv })
    const channel = (this.#child ?? this.#worker) as EventEmitter
    const onMessage = (reply: ShardReply) => {
      const p = this.#pending.get(reply.id)
      this.#pending.delete(reply.id)
      p?.resolve(reply)
    }
    channel.on('message', onMessage)
    const die = (e: Error) => {
      this.#dead ??= e
      for (const p of this.#pending.values()) p.reject(e)
      this.#pending.clear()
    }
    this.#exited = new Promise((resolve) => {
      channel.on('exit', (code: number | null, signal?: NodeJS.Signals | null) => {
        die(new ShardError(`shard ${index} exited (${signal ? `signal ${signal}` : `code ${code}`})`))
        resolve()
      })
    })
    channel.on('error', (e: Error) => die(new ShardError(`shard ${index} failed: ${e.message}`, { cause: e })))
  }

  request(req: DistributiveOmit<ShardRequest, 'id'>): Promise<ShardReply> {
    if (this.#dead) return Promise.reject(this.#dead)
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      if (this.#child) this.#child.send({ ...req, id })
      else this.#worker?.postMessage({ ...req, id })
    })
  }

  async stats(): Promise<ShardStats> {
    const r = await this.request({ op: 'stats' })
    if (!r.ok) throw new ShardError(`shard ${this.index}: ${r.error.message}`)
    return r.value as ShardStats
  }

  /** Abrupt end: SIGKILL for a child process (no shutdown code runs, as a crash); a thread is terminated. */
  async kill(): Promise<void> {
    if (this.#child) {
      if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL')
      await this.#exited
    } else await this.#worker?.terminate()
  }

  async terminate(): Promise<void> {
    await this.kill()
  }
}

/** A node that lives in a shard: the same handle as SimNode, mirrored from the shard's replies. */
export class RemoteSimNode implements SimNodeHandle {
  readonly name: string
  #shard: Shard
  #state: NodeState = { accountId: '', online: false, startMs: [], stopMs: [], actorStartMs: {} }

  constructor(name: string, shard: Shard) {
    this.name = name
    this.#shard = shard
  }

  get accountId(): string {
    return this.#state.accountId
  }
  get online(): boolean {
    return this.#state.online
  }
  get startMs(): readonly number[] {
    return this.#state.startMs
  }
  get stopMs(): readonly number[] {
    return this.#state.stopMs
  }
  get actorStartMs(): Readonly<Record<string, readonly number[]>> {
    return this.#state.actorStartMs
  }

  start(bootstrap: string[]): Promise<void> {
    return this.#call({ op: 'start', name: this.name, bootstrap }).then(() => undefined)
  }

  stop(): Promise<void> {
    return this.#call({ op: 'stop', name: this.name }).then(() => undefined)
  }

  dhtAddrs(): Promise<string[]> {
    return this.#call({ op: 'dhtAddrs', name: this.name }) as Promise<string[]>
  }

  async #call(req: DistributiveOmit<ShardRequest, 'id'>): Promise<unknown> {
    const reply = await this.#shard.request(req)
    if (reply.node) this.#state = reply.node
    if (reply.ok) return reply.value
    // The error crossed a thread as name + message: keep its kind for the scenario's messages.
    throw reply.error.name === 'NodeStartError' ? new NodeStartError(reply.error.message) : new ShardError(`${this.name}: ${reply.error.message}`)
  }
}
