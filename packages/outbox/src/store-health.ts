import { BusErrorCode, type KvBucket } from '@baran/bus'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DiskGuard } from './lib/disk.ts'
import type { KvStore, OrderedKvStore } from './lib/kv.ts'

interface HealthDeps {
  degrade(reason: string): void
  recover(reason: string): void
  log: { warn(obj: object, msg: string): void; info(msg: string): void }
  /** Undefined for memory storage (no disk to watch). */
  disk: DiskGuard | undefined
  /** JetStream answers again: retry what waited. */
  onBack(): void
}

/**
 * Whether the outbox can persist: degraded with the reason ("JetStream unavailable: <why>") while JetStream fails or
 * the disk is below its reserve, and ready again by itself once a probe read answers and the disk has room.
 */
export class StoreHealth {
  #deps: HealthDeps
  #down: string | undefined
  #stopped = false

  constructor(deps: HealthDeps) {
    this.#deps = deps
  }

  /** The current reason, undefined while healthy. */
  get reason(): string | undefined {
    return this.#down
  }

  markDown(why: string): void {
    if (this.#stopped) return
    const reason = (why.startsWith('JetStream unavailable') ? why : `JetStream unavailable: ${why}`).slice(0, 400)
    if (this.#down === reason) return
    if (!this.#down) this.#deps.log.warn({ reason }, 'degraded until JetStream can persist again')
    // Degrade with the new reason before dropping the old one: no flicker through ready.
    this.#deps.degrade(reason)
    if (this.#down) this.#deps.recover(this.#down)
    this.#down = reason
  }

  /** A store failure: `unavailable` (JetStream down, disk full) degrades. */
  onStoreError(e: unknown): void {
    if ((e as { code?: unknown }).code === BusErrorCode.Unavailable) this.markDown((e as Error).message)
  }

  /** One check: the disk's reserve, then (while down) a read that proves JetStream answers. */
  async check(probe: KvBucket | undefined): Promise<void> {
    try {
      // check() asks the filesystem itself (a fresh statfs, which also refreshes lastFree for the health report).
      await this.#deps.disk?.check()
      if (this.#down && probe) await probe.get('probe')
      if (this.#down) this.#markUp()
    } catch (e) {
      this.markDown((e as Error).message)
    }
  }

  /** Checks every 2 s while healthy (a full disk shows before a write fails), every 0.5 s while down. */
  async watch(signal: AbortSignal, probe: () => KvBucket | undefined): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.#down ? 500 : 2000, undefined, { signal }).catch(() => undefined)
      const bucket = probe()
      if (signal.aborted || !bucket) continue
      await this.check(bucket)
    }
  }

  stop(): void {
    this.#stopped = true
  }

  #markUp(): void {
    const down = this.#down
    if (!down) return
    this.#deps.recover(down)
    this.#down = undefined
    this.#deps.log.info('JetStream is back')
    this.#deps.onBack()
  }
}

/**
 * The bucket, reporting every failure (so an unavailable JetStream degrades the actor), and refusing writes while
 * the disk is below its reserve (a write that hits ENOSPC would hang nats-server).
 */
export function monitored(kv: KvBucket, onError: (e: unknown) => void, disk: DiskGuard | undefined): KvStore {
  const watch = watcher(onError)
  const write = <T>(op: () => Promise<T>): Promise<T> => watch((disk ? disk.check() : Promise.resolve()).then(op))
  return {
    get: (k) => watch(kv.get(k)),
    create: (k, v) => write(() => kv.create(k, v)),
    update: (k, v, r) => write(() => kv.update(k, v, r)),
    put: (k, v) => write(() => kv.put(k, v)),
    delete: (k) => write(() => kv.delete(k)),
    keys: (f) => watch(kv.keys(f)),
    entries: () => watch(kv.entries()),
    getMany: (keys) => watch(kv.getMany(keys)),
    // One disk check for the lot; each entry's failure is its own result, and the first that is not a lost race
    // reports like a thrown one.
    createMany: (entries) =>
      write(() => kv.createMany(entries)).then((results) => {
        const failed = results.find((r) => typeof r !== 'number' && r.code !== BusErrorCode.Conflict)
        if (failed !== undefined) onError(failed)
        return results
      }),
  }
}

/** `monitored`, for a bucket read in revision order too (the inbox log). */
export function monitoredOrdered(kv: KvBucket, onError: (e: unknown) => void, disk: DiskGuard | undefined): OrderedKvStore {
  const watch = watcher(onError)
  return {
    ...monitored(kv, onError, disk),
    state: () => watch(kv.state()),
    range: (from, max, until) => watch(kv.range(from, max, until)),
  }
}

function watcher(onError: (e: unknown) => void): <T>(p: Promise<T>) => Promise<T> {
  return (p) =>
    p.catch((e: unknown) => {
      onError(e)
      throw e
    })
}
