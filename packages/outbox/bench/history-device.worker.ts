/**
 * The new device of the history bench, in a thread of its own (as a second device is a second machine): its own bus
 * connection and store; it pulls over the sync protocol (`remoteOver`, every answer checked against the bus
 * contract's schema as the transport's would be), the requests going to the main thread, which answers them from the
 * source device's history (`answerSync`). Messages: `{ op: 'pull', bucket }` → `{ ok, fetched, ms }`, the clock
 * around `pullHistory` alone.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { Bus, type SyncAnswer, SyncAnswerSchema, type SyncRequest } from '@baran/bus'
import { HistoryStore } from '../src/lib/history.ts'
import { pullHistory } from '../src/lib/history-pull.ts'
import { remoteOver } from '../src/lib/sync-wire.ts'

const { servers } = workerData as { servers: string }
const port = parentPort!
const bus = await Bus.connect({ servers, node: 'n2' })
const waiting = new Map<number, { resolve(a: SyncAnswer): void; reject(e: Error): void }>()
let nextId = 1

const ask = (request: SyncRequest): Promise<SyncAnswer> =>
  new Promise((resolve, reject) => {
    const id = nextId++
    waiting.set(id, { resolve: (a) => resolve(SyncAnswerSchema.parse(a)), reject })
    port.postMessage({ id, request })
  })

port.on('message', async (m: { op: 'pull'; bucket: string } | { op: 'stop' } | { id: number; answer?: SyncAnswer; error?: string }) => {
  if ('id' in m) {
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    if (m.answer) w?.resolve(m.answer)
    else w?.reject(new Error(m.error))
    return
  }
  if (m.op === 'stop') {
    await bus.close()
    port.close()
    return
  }
  try {
    const store = new HistoryStore({ kv: await bus.kv(m.bucket) })
    const t = performance.now()
    const r = await pullHistory(store, remoteOver(ask))
    port.postMessage({ op: 'pulled', ok: true, fetched: r.fetched, ms: performance.now() - t })
  } catch (e) {
    port.postMessage({ op: 'pulled', ok: false, error: String(e) })
  }
})
port.postMessage({ op: 'ready' })
