/**
 * N local discovery nodes behind one interface, for opendht.bench.ts: either all in this thread
 * (`inProcessCluster`: every node's work serialized on one event loop) or one worker thread per
 * node (`threadedCluster`: each node has its own event loop, as each Baran node runs discovery in
 * its own process, and as each OpenDHT node runs on its own thread). Operations are timed in the
 * node's own thread; cross-thread times use process.hrtime (one monotonic clock for all threads).
 */
import { Worker } from 'node:worker_threads'
import type { DiscoveryNode, DiscoveryNodeInit } from '../src/index.ts'
import { startQuietNetwork } from './lib.ts'

/** ms since an arbitrary origin, the same for every thread of this process. */
export const clock = (): number => Number(process.hrtime.bigint()) / 1e6

/** What a watcher saw: when (clock()) and how. */
export interface Seen {
  at: number
  via: string
}

export interface Cluster {
  readonly peerIds: string[]
  readonly setup: Record<string, number>
  /**
   * Put an opaque value from node i; `start` is clock() when the put began. `waitForLookup`: done only once
   * the network lookup and its PUTs are (as OpenDHT's put), not when the first peers answered.
   */
  put(i: number, key: string, value: Uint8Array, opts?: { waitForLookup?: boolean }): Promise<{ ms: number; start: number }>
  /** Publish a signed presence bundle from node i. */
  publish(i: number, bundle: Uint8Array): Promise<{ ms: number; start: number }>
  /** A get from node i: `ms` until it returned, `firstMs` until its first valid record arrived (as OpenDHT's first get callback). */
  get(i: number, key: string, quorum?: number): Promise<Got>
  hasLocal(i: number, key: string): Promise<boolean>
  /** Subscriptions node i keeps for watchers. */
  subscriptions(i: number): Promise<number>
  /** Watch a key on node i: `seen` settles with the first record it hears of. */
  watch(i: number, key: string): Promise<{ seen: Promise<Seen>; stop(): Promise<void> }>
  stop(): Promise<void>
}

export interface Got {
  ms: number
  firstMs?: number
  found: boolean
}

/** One get, both clocks started at the call: the first valid record's arrival and the get's end. */
export async function timedGet(node: DiscoveryNode, key: string, quorum?: number): Promise<Got> {
  let firstMs: number | undefined
  const start = clock()
  const opts = { ...(quorum ? { quorum } : {}), onEntry: () => { firstMs ??= clock() - start } }
  const v = key.startsWith('/baran-value/') ? await node.getValue(key, opts) : await node.lookupPresence(key.slice('/baran-presence/'.length), opts)
  return { ms: clock() - start, firstMs, found: v !== undefined }
}

/** Every node in this thread. */
export async function inProcessCluster(n: number, init: DiscoveryNodeInit): Promise<Cluster> {
  const nodes: DiscoveryNode[] = []
  try {
    const setup = await startQuietNetwork(n, init, nodes)
    const node = (i: number) => nodes[i] as DiscoveryNode
    const timed = async (fn: () => Promise<unknown>) => {
      const start = clock()
      await fn()
      return { ms: clock() - start, start }
    }
    return {
      peerIds: nodes.map((x) => x.peerId),
      setup,
      put: (i, key, value, opts) => timed(() => node(i).putValue(key, value, { ttlMs: 600_000, waitForLookup: opts?.waitForLookup === true })),
      publish: (i, bundle) => timed(() => node(i).publishPresence(bundle)),
      get: (i, key, quorum) => timedGet(node(i), key, quorum),
      hasLocal: async (i, key) => node(i).getLocalRecord(key) !== undefined,
      subscriptions: async (i) => node(i).stats().subscriptions,
      async watch(i, key) {
        let resolve: (s: Seen) => void = () => {}
        const seen = new Promise<Seen>((r) => {
          resolve = r
        })
        const stop = node(i).watch(key, (e) => resolve({ at: clock(), via: e.via }), { requeryMinMs: 60_000, requeryMaxMs: 60_000 })
        return { seen, stop: async () => stop() }
      },
      async stop() {
        await Promise.allSettled(nodes.map((x) => x.stop()))
      },
    }
  } catch (err) {
    await Promise.allSettled(nodes.map((x) => x.stop()))
    throw err
  }
}

type Reply = { id: number; ok: boolean; value?: unknown; error?: string }

/** One worker thread per node (bench/node.worker.ts). */
export async function threadedCluster(n: number, init: DiscoveryNodeInit): Promise<Cluster> {
  const workers: Worker[] = []
  const pending = new Map<number, (r: Reply) => void>()
  const seenBy = new Map<string, (s: Seen) => void>()
  let nextId = 1
  const call = <T>(w: Worker, op: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`worker ${op} timed out`))
      }, 60_000)
      pending.set(id, (r) => {
        clearTimeout(timer)
        if (r.ok) resolve(r.value as T)
        else reject(new Error(r.error))
      })
      w.postMessage({ id, op, ...args })
    })
  const spawn = async (bootstrap: string[]): Promise<{ peerId: string; addrs: string[] }> => {
    const w = new Worker(new URL('./node.worker.ts', import.meta.url), { workerData: { init: { ...init, bootstrap } }, execArgv: ['--conditions=@baran/source'] })
    workers.push(w)
    w.on('message', (m: Reply | { event: string; key: string; at: number; via: string }) => {
      if ('event' in m) seenBy.get(m.key)?.({ at: m.at, via: m.via })
      else pending.get(m.id)?.(m)
    })
    w.on('error', (err) => {
      for (const p of pending.values()) p({ id: 0, ok: false, error: String(err) })
    })
    return new Promise((resolve, reject) => {
      w.once('message', (m: Reply) => (m.ok ? resolve(m.value as { peerId: string; addrs: string[] }) : reject(new Error(m.error))))
    })
  }
  const stopAll = async () => {
    await Promise.allSettled(workers.map((w) => call(w, 'stop').catch(() => undefined)))
    await Promise.allSettled(workers.map((w) => w.terminate()))
  }
  try {
    const t0 = performance.now()
    const first = await spawn([])
    const rest = await Promise.all(Array.from({ length: n - 1 }, () => spawn([first.addrs[0] as string])))
    const startMs = Math.round(performance.now() - t0)
    const peerIds = [first.peerId, ...rest.map((r) => r.peerId)]
    const w = (i: number) => workers[i] as Worker
    const tables = () => Promise.all(workers.map((x) => call<number>(x, 'routingTableSize')))
    for (let i = 0; i < 600 && Math.min(...(await tables())) < Math.min(n - 1, 8); i++) await new Promise((r) => setTimeout(r, 50))
    const tablesReadyMs = Math.round(performance.now() - t0)
    // Joining nodes look themselves up for ~15 s: wait until the whole process is quiet.
    const quietFrom = performance.now()
    for (let i = 0; i < 60; i++) {
      const c0 = process.cpuUsage()
      await new Promise((r) => setTimeout(r, 500))
      const c = process.cpuUsage(c0)
      if ((c.user + c.system) / 1000 / 500 < 0.1) break
    }
    const setup = { startMs, tablesReadyMs, quietAfterMs: Math.round(performance.now() - quietFrom), minRoutingTable: Math.min(...(await tables())) }
    return {
      peerIds,
      setup,
      put: (i, key, value, opts) => call(w(i), 'put', { key, value, waitForLookup: opts?.waitForLookup === true }),
      publish: (i, bundle) => call(w(i), 'publish', { bundle }),
      get: (i, key, quorum) => call(w(i), 'get', { key, quorum }),
      hasLocal: (i, key) => call(w(i), 'hasLocal', { key }),
      subscriptions: (i) => call(w(i), 'subscriptions'),
      async watch(i, key) {
        const seen = new Promise<Seen>((resolve) => seenBy.set(key, resolve))
        await call(w(i), 'watch', { key })
        return {
          seen,
          stop: async () => {
            seenBy.delete(key)
            await call(w(i), 'unwatch', { key })
          },
        }
      },
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}

