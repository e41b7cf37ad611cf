/**
 * A worker thread holding a share of the simulated nodes (see shard.ts): it runs each node's actors exactly as
 * the main thread would (SimNode), on its own event loop, so a simulation uses every core of the machine.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import { parentPort, workerData } from 'node:worker_threads'
import { SimNode } from './node.ts'
import { createRng } from './rng.ts'
import { type ShardInit, type ShardReply, type ShardRequest, type ShardStats, SURVIVABLE_ERRORS, stateOf } from './shard-protocol.ts'
import { LinkShaper } from './shaper.ts'
import { addCounts } from './stats.ts'

/** The channel to the scenario: a worker thread's parent port, or the IPC channel of a child process (Shard `process`). */
interface Port {
  postMessage(m: unknown): void
  on(event: 'message', fn: (req: ShardRequest) => void): void
}
const ipc: Port | null = process.send
  ? { postMessage: (m) => void process.send?.(m), on: (_event, fn) => void process.on('message', (m) => fn(m as ShardRequest)) }
  : null
const port: Port | null = parentPort ?? ipc
// A child process whose scenario went away ends with it (no orphan nodes).
if (!parentPort && ipc) process.on('disconnect', () => process.exit(0))
if (!port) throw new Error('shard-worker.ts runs as a worker thread or a forked child process')
const init = (parentPort ? workerData : JSON.parse(process.env.BARAN_SIM_SHARD ?? '{}')) as ShardInit

const shaper = new LinkShaper({ latencyMs: init.latencyMs, lossRate: init.lossRate }, createRng(init.seed))
const nodes = new Map<string, SimNode>()
const survived: Record<string, number> = {}
const loopDelay = monitorEventLoopDelay({ resolution: 20 })
loopDelay.enable()

// As in the main thread: a known libp2p error thrown from its own microtasks is counted, anything else ends the shard.
process.on('uncaughtException', (e: unknown) => {
  const name = (e as { name?: string } | undefined)?.name ?? 'unknown'
  if (!SURVIVABLE_ERRORS.has(name)) throw e
  survived[name] = (survived[name] ?? 0) + 1
})

function nodeOf(name: string): SimNode {
  let node = nodes.get(name)
  if (!node) {
    node = new SimNode({ name, natsUrl: init.natsUrl, root: init.root, shaper, ...(init.backoff ? { backoff: init.backoff } : {}) })
    nodes.set(name, node)
  }
  return node
}

async function handle(req: ShardRequest): Promise<unknown> {
  switch (req.op) {
    case 'start':
      return nodeOf(req.name).start(req.bootstrap)
    case 'stop':
      return nodeOf(req.name).stop()
    case 'dhtAddrs':
      return nodeOf(req.name).dhtAddrs()
    case 'stats': {
      // --expose-gc is a process-wide V8 flag: a collection first makes heap figures comparable.
      ;(globalThis as { gc?: () => void }).gc?.()
      const nsToMs = (ns: number) => Math.round(ns / 1e5) / 10
      return {
        // From V8, not process.memoryUsage(): that one opens /proc and fails when descriptors run out.
        heapUsed: getHeapStatistics().used_heap_size,
        shaper: { ...shaper.stats },
        survived: { ...survived },
        eventLoopDelayMs: { p50: nsToMs(loopDelay.percentile(50)), p99: nsToMs(loopDelay.percentile(99)), max: nsToMs(loopDelay.max) },
        rpcSent: [...nodes.values()].reduce((sum, n) => addCounts(sum, n.rpcSent()), {}),
        rpcUnread: [...nodes.values()].reduce((sum, n) => sum + n.rpcUnread, 0),
      } satisfies ShardStats
    }
  }
}

// Every reply about a node carries its state (account, online, timings): the main thread's proxy mirrors it.
port.on('message', (req: ShardRequest) => {
  const node = () => ('name' in req ? { node: stateOf(nodeOf(req.name)) } : {})
  handle(req).then(
    (value) => port.postMessage({ id: req.id, ok: true, value, ...node() } satisfies ShardReply),
    (e: unknown) =>
      port.postMessage({ id: req.id, ok: false, error: { name: (e as Error).name ?? 'Error', message: (e as Error).message ?? String(e) }, ...node() } satisfies ShardReply),
  )
})
