/**
 * Wire paths of discovery's operations: 20 nodes in this process on 127.0.0.1, one operation at
 * a time. For put, get (from a node that does not hold the record) and watch (publish to push),
 * prints latency p50/p95 and the messages the whole network sent per operation: Baran rpc
 * requests and kad-dht messages (DiscoveryNode.wireCounts). Run from packages/discovery:
 *   npx node --conditions=@baran/source bench/wire.bench.ts [--nodes 20] [--iterations 30]
 * (docs/discovery-kademlia.md has the figures behind the one-wire-path decision.)
 */
import { randomBytes } from 'node:crypto'
import { type DiscoveryNode, encodeBundle, presenceKey, valueKey, type WatchEvent } from '../src/index.ts'
import { makeAccount, makeDevice, presenceBundle, stopAll } from '../test/helpers.ts'
import { far, numberArg, sleep, type Stats, startQuietNetwork, stats, storingSet } from './lib.ts'

const NODES = numberArg('nodes', 20)
const ITER = numberArg('iterations', 30)
/** Pause after a put: its Kademlia lookup and late PUTs go on in the background. */
const PUT_GAP_MS = 250

interface OpFigures {
  latency: Stats | undefined
  /** Operations that threw (a timeout on a loaded machine): left out of the latency. */
  failed: number
  rpcPerOp: number
  kadPerOp: number
}

function sent(nodes: DiscoveryNode[]): { rpc: number; kad: number } {
  let rpc = 0
  let kad = 0
  for (const n of nodes) {
    const w = n.wireCounts()
    rpc += w.rpcRequests
    kad += w.kadMessages
  }
  return { rpc, kad }
}

/** Run `op` ITER times; messages are counted from before the first to after the last one settled. */
async function measure(nodes: DiscoveryNode[], op: (i: number) => Promise<unknown>, gapMs = 0): Promise<OpFigures> {
  const ms: number[] = []
  let failed = 0
  const before = sent(nodes)
  for (let i = 0; i < ITER; i++) {
    const t = performance.now()
    try {
      await op(i)
      ms.push(performance.now() - t)
    } catch {
      failed++
    }
    if (gapMs > 0) await sleep(gapMs)
  }
  await sleep(500) // background PUTs of the last put
  const after = sent(nodes)
  return { latency: stats(ms), failed, rpcPerOp: (after.rpc - before.rpc) / ITER, kadPerOp: (after.kad - before.kad) / ITER }
}

async function main(): Promise<void> {
  const nodes: DiscoveryNode[] = []
  const out: Record<string, unknown> = { bench: 'discovery-wire', node: process.version, nodes: NODES, iterations: ITER }
  try {
    out.setup = await startQuietNetwork(NODES, {}, nodes)
    const publisher = nodes[1] as DiscoveryNode
    const keys = Array.from({ length: ITER }, () => valueKey(randomBytes(20).toString('hex')))
    out['put.value'] = await measure(nodes, (i) => publisher.putValue(keys[i] as string, randomBytes(256), { ttlMs: 600_000 }), PUT_GAP_MS)
    out['get.value'] = await measure(nodes, async (i) => {
      const key = keys[i] as string
      if ((await far(nodes, key, publisher).getValue(key)) === undefined) throw new Error('get found no value')
    })
    out['get.missing'] = await measure(nodes, (i) => (nodes[i % NODES] as DiscoveryNode).getValue(valueKey(randomBytes(20).toString('hex'))))
    // watch: a watcher subscribed before the publish; time from publish start to the push
    const account = makeAccount()
    const pushMs: number[] = []
    let failed = 0
    const before = sent(nodes)
    for (let i = 0; i < ITER; i++) {
      const d = makeDevice(account)
      const key = presenceKey(d.deviceId)
      const storing = storingSet(nodes, key, 8)
      const watcher = nodes.find((n) => n !== publisher && !storing.includes(n)) as DiscoveryNode
      let arrived: (e: WatchEvent) => void = () => {}
      const got = new Promise<number>((resolve) => {
        arrived = () => resolve(performance.now())
      })
      const stop = watcher.watch(key, (e) => arrived(e), { requeryMinMs: 60_000, requeryMaxMs: 60_000 })
      const subs = (): number => nodes.reduce((sum, n) => sum + n.stats().subscriptions, 0)
      for (let w = 0; w < 100 && subs() < 7; w++) await sleep(20)
      const t = performance.now()
      const published = await publisher.publishPresence(encodeBundle(presenceBundle(d))).then(
        () => true,
        () => false,
      )
      const at = published ? await Promise.race([got, sleep(10_000).then(() => undefined)]) : undefined
      if (at !== undefined) pushMs.push(at - t)
      else failed++
      stop()
      for (let w = 0; w < 100 && subs() > 0; w++) await sleep(20)
    }
    const after = sent(nodes)
    out['watch.subscribe+publish+push'] = { latency: stats(pushMs), failed, rpcPerOp: (after.rpc - before.rpc) / ITER, kadPerOp: (after.kad - before.kad) / ITER }
  } finally {
    await stopAll(nodes)
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

await main()
