/** One discovery node in its own worker thread, driven by bench/cluster.ts (threadedCluster). */
import { parentPort, workerData } from 'node:worker_threads'
import { createDiscoveryNode, type DiscoveryNodeInit } from '../src/index.ts'
import { clock, timedGet } from './cluster.ts'

const port = parentPort
if (port === null) throw new Error('node.worker.ts runs as a worker thread')
const node = await createDiscoveryNode((workerData as { init: DiscoveryNodeInit }).init)
const watches = new Map<string, () => void>()
port.postMessage({ id: 0, ok: true, value: { peerId: node.peerId, addrs: node.multiaddrs() } })

type Msg = { id: number; op: string; key?: string; value?: Uint8Array; bundle?: Uint8Array; quorum?: number; waitForLookup?: boolean }

async function run(m: Msg): Promise<unknown> {
  const key = m.key as string
  switch (m.op) {
    case 'routingTableSize':
      return node.stats().routingTableSize
    case 'subscriptions':
      return node.stats().subscriptions
    case 'hasLocal':
      return node.getLocalRecord(key) !== undefined
    case 'put': {
      const start = clock()
      await node.putValue(key, m.value as Uint8Array, { ttlMs: 600_000, waitForLookup: m.waitForLookup === true })
      return { ms: clock() - start, start }
    }
    case 'publish': {
      const start = clock()
      await node.publishPresence(m.bundle as Uint8Array)
      return { ms: clock() - start, start }
    }
    case 'get':
      return timedGet(node, key, m.quorum)
    case 'watch': {
      let sent = false
      const stop = node.watch(key, (e) => {
        if (sent) return
        sent = true
        port?.postMessage({ event: 'seen', key, at: clock(), via: e.via })
      }, { requeryMinMs: 60_000, requeryMaxMs: 60_000 })
      watches.set(key, stop)
      return true
    }
    case 'unwatch':
      watches.get(key)?.()
      watches.delete(key)
      return true
    case 'stop':
      await node.stop()
      return true
    default:
      throw new Error(`unknown op ${m.op}`)
  }
}

port.on('message', (m: Msg) => {
  run(m).then(
    (value) => port.postMessage({ id: m.id, ok: true, value }),
    (err: unknown) => port.postMessage({ id: m.id, ok: false, error: String(err) }),
  )
})
