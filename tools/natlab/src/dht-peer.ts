/**
 * A lab DHT node: one discovery node (its own libp2p host, the rpc's datagram path on as by default) that stays up
 * and takes commands as JSON lines on stdin. The NAT lab uses it to see whether DHT requests cross the routers in
 * datagrams (test/dht-udp.test.ts).
 *
 *   npx node --conditions=@baran/source src/dht-peer.ts --listen <ma> [--bootstrap <ma>]... [--udp-retry-ms <ms>]
 *   stdin: {"cmd":"put","id":"<40 hex>","value":"text"} → {"event":"put","stored":n}
 *          {"cmd":"get","id":"<40 hex>"}                → {"event":"get","value":"text"|null}
 *          {"cmd":"stats"}                             → {"event":"stats","routingTableSize":n,"udp":{…}}
 *          {"cmd":"stop"}
 * A command that fails prints {"event":"error","cmd":…,"message":…}.
 */
import { createInterface } from 'node:readline'
import { createDiscoveryNode, valueKey } from '@baran/discovery'

const argv = process.argv.slice(2)
const listen: string[] = []
const bootstrap: string[] = []
let udpRetryMs: number | undefined
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--listen') listen.push(argv[++i] ?? '')
  else if (a === '--bootstrap') bootstrap.push(argv[++i] ?? '')
  else if (a === '--udp-retry-ms') udpRetryMs = Number(argv[++i])
  else throw new Error(`unknown argument: ${a}`)
}

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const node = await createDiscoveryNode({ listen, bootstrap, keepAlive: false, ...(udpRetryMs === undefined ? {} : { udpRetryMs }) })
print({ event: 'ready', peerId: node.peerId, addrs: node.multiaddrs() })

type Command = { cmd: string; id?: string; value?: string }
async function run(c: Command): Promise<object> {
  switch (c.cmd) {
    case 'put': {
      const r = await node.putValue(valueKey(c.id ?? ''), new TextEncoder().encode(c.value ?? ''), { waitForLookup: true })
      return { event: 'put', stored: r.stored }
    }
    case 'get': {
      const v = await node.getValue(valueKey(c.id ?? ''))
      return { event: 'get', value: v === undefined ? null : new TextDecoder().decode(v) }
    }
    case 'stats': {
      const s = node.stats()
      return { event: 'stats', routingTableSize: s.routingTableSize, udp: s.udp ?? null }
    }
    case 'stop':
      await node.stop()
      return process.exit(0)
  }
  throw new Error(`unknown command ${c.cmd}`)
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let c: Command
  try {
    c = JSON.parse(line) as Command
  } catch {
    print({ event: 'error', cmd: null, message: 'not JSON' })
    return
  }
  run(c).then(print, (err: unknown) => print({ event: 'error', cmd: c.cmd, message: String((err as Error).message ?? err) }))
})
process.on('SIGTERM', () => {
  void node.stop().finally(() => process.exit(0))
})
