/**
 * A simulated node in a child process of its own, for `kill: 'sigkill'`: going offline is SIGKILL of that process
 * (no actor stops, no bus goodbye, in-flight work lost, sockets closed by the kernel), as a crash or the OOM killer
 * would end a real node; coming back forks a new process on the same data dir (same keys and account; the outbox
 * buckets live in the shared nats-server, as a real node's live on its disk).
 */
import { RemoteSimNode, Shard, type SimNodeHandle } from './shard.ts'
import type { ShardInit } from './shard-protocol.ts'

export class ProcessSimNode implements SimNodeHandle {
  readonly name: string
  accountId = ''
  online = false
  readonly startMs: number[] = []
  readonly stopMs: number[] = []
  readonly actorStartMs: Record<string, number[]> = {}
  /** Processes this node ran in (one per start after a kill). */
  incarnations = 0
  readonly #index: number
  readonly #init: ShardInit
  #shard: Shard | undefined
  #remote: RemoteSimNode | undefined
  /** Start/kill run one after the other, whatever order the scenario asks them in. */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(name: string, index: number, init: ShardInit) {
    this.name = name
    this.#index = index
    this.#init = init
  }

  start(bootstrap: string[]): Promise<void> {
    return this.#enqueue(async () => {
      if (this.online) return
      if (!this.#shard || !this.#remote) {
        this.incarnations++
        this.#shard = new Shard(this.#index, { ...this.#init, seed: this.#init.seed + this.incarnations }, { process: true })
        this.#remote = new RemoteSimNode(this.name, this.#shard)
      }
      const remote = this.#remote
      await remote.start(bootstrap)
      // Each process starts counting afresh: keep this incarnation's figures.
      this.accountId = remote.accountId
      this.online = true
      this.startMs.push(...remote.startMs.slice(-1))
      for (const [actor, times] of Object.entries(remote.actorStartMs)) {
        const mine = this.actorStartMs[actor] ?? []
        mine.push(...times.slice(-1))
        this.actorStartMs[actor] = mine
      }
    })
  }

  /** SIGKILL: the process ends at once; nothing of the node runs its shutdown. */
  stop(): Promise<void> {
    return this.#enqueue(async () => {
      const shard = this.#shard
      if (!shard) return
      const t0 = performance.now()
      this.online = false
      this.#shard = undefined
      this.#remote = undefined
      await shard.kill()
      this.stopMs.push(performance.now() - t0)
    })
  }

  dhtAddrs(): Promise<string[]> {
    if (!this.#remote) return Promise.resolve([])
    return this.#remote.dhtAddrs()
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(job)
    this.#queue = next.catch(() => undefined)
    return next
  }
}
