/**
 * Worker threads that each hold a share of the simulated nodes. One event loop runs out of CPU long before memory
 * runs out (100 nodes' libp2p hosts, Noise and Ed25519 on one thread); shards put every core to work. Nodes talk
 * to each other exactly as before (TCP on loopback, one nats-server); only start/stop/addresses cross threads.
 */
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

export class Shard {
  readonly index: number
  #worker: Worker
  #next = 1
  #pending = new Map<number, { resolve: (r: ShardReply) => void; reject: (e: Error) => void }>()
  #dead: Error | undefined

  constructor(index: number, init: ShardInit) {
    this.index = index
    // The source condition lets the worker load the workspace's TypeScript, as the main thread does.
    this.#worker = new Worker(new URL('./shard-worker.ts', import.meta.url), { workerData: init, execArgv: ['--conditions=@baran/source'] })
    this.#worker.on('message', (reply: ShardReply) => {
      const p = this.#pending.get(reply.id)
      this.#pending.delete(reply.id)
      p?.resolve(reply)
    })
    const die = (e: Error) => {
      this.#dead ??= e
      for (const p of this.#pending.values()) p.reject(e)
      this.#pending.clear()
    }
    this.#worker.on('error', (e) => die(new ShardError(`shard ${index} failed: ${e.message}`, { cause: e })))
    this.#worker.on('exit', (code) => die(new ShardError(`shard ${index} exited (code ${code})`)))
  }

  request(req: DistributiveOmit<ShardRequest, 'id'>): Promise<ShardReply> {
    if (this.#dead) return Promise.reject(this.#dead)
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ ...req, id })
    })
  }

  async stats(): Promise<ShardStats> {
    const r = await this.request({ op: 'stats' })
    if (!r.ok) throw new ShardError(`shard ${this.index}: ${r.error.message}`)
    return r.value as ShardStats
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate()
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
