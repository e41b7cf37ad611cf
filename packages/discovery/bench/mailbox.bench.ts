/**
 * The DHT mailbox: time from B's node ready (createDiscoveryNode resolved: started and joined through its bootstrap
 * peer) to a mailbox message fetched, B's two mailboxes (this epoch's and the previous one's) asked at once as a
 * device coming online would. Each iteration A deposits a fresh envelope to a fresh B, A's node stops for good, then
 * B's node starts. Also the deposit's latency. Nodes in this process on 127.0.0.1. Run from packages/discovery:
 *   node --conditions=@baran/source bench/mailbox.bench.ts [--nodes 12] [--iterations 10]
 */
import { createDiscoveryNode, type DiscoveryNode, mailboxesOf, mailboxEpoch, mailboxId } from '../src/index.ts'
import { stopAll } from '../test/helpers.ts'
import { fetchAuth, mailDevice, sealTo } from '../test/mailbox-fixtures.ts'
import { numberArg, sleep, startQuietNetwork, stats } from './lib.ts'

const NODES = numberArg('nodes', 12)
const ITER = numberArg('iterations', 10)
const INIT = { replication: 4 }

async function main(): Promise<void> {
  const nodes: DiscoveryNode[] = []
  const out: Record<string, unknown> = { bench: 'discovery-mailbox', node: process.version, nodes: NODES, iterations: ITER, replication: INIT.replication }
  const readyToFetched: number[] = []
  const startToFetched: number[] = []
  const put: number[] = []
  let failed = 0
  try {
    out.setup = await startQuietNetwork(NODES, INIT, nodes)
    const bootstrap = [nodes[0]?.multiaddrs()[0] as string]
    for (let i = 0; i < ITER; i++) {
      const [alice, bob] = await Promise.all([mailDevice(), mailDevice()])
      const envelope = await sealTo(alice, [bob], { bytes: 1024 })
      const aNode = await createDiscoveryNode({ ...INIT, bootstrap })
      nodes.push(aNode)
      const t0 = performance.now()
      const r = await aNode.mailboxPut(mailboxId(bob.deviceId, mailboxEpoch(Date.now())), envelope)
      put.push(performance.now() - t0)
      await aNode.stop()
      const started = performance.now()
      const bNode = await createDiscoveryNode({ ...INIT, bootstrap })
      nodes.push(bNode)
      const ready = performance.now()
      const found = (await Promise.all(mailboxesOf(bob.deviceId).map((box) => bNode.mailboxFetch(box, fetchAuth(bob, box))))).flat().some((item) => item.hash === r.hash)
      const done = performance.now()
      if (found) {
        readyToFetched.push(done - ready)
        startToFetched.push(done - started)
      } else failed++
      await bNode.stop()
      await sleep(200)
    }
    out['put (1 KiB payload)'] = stats(put)
    out['B ready → fetched'] = stats(readyToFetched)
    out['B start → fetched'] = stats(startToFetched)
    out.notFound = failed
  } finally {
    await stopAll(nodes)
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

await main()
