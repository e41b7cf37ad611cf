/**
 * A lab peer: one transport host (throwaway account + device) that stays up and takes commands as
 * JSON lines on stdin, printing JSON lines like packages/transport/scripts/host.ts ("ready",
 * "addresses", "connection", "envelope", "sent", "send-failed"). The NAT lab uses it where a host
 * must send, then stay up to see what DCUtR does, then send again.
 *
 *   npx node --conditions=@baran/source src/peer.ts [--listen <ma>]... [--relay <ma>]...
 *   stdin: {"cmd":"send","peerId":"12D3…","addrs":["/ip4/…"],"count":10,"bytes":16}
 *          {"cmd":"connections"}   → {"event":"connections","list":[…]}
 *          {"cmd":"stop"}
 */
import { createInterface } from 'node:readline'
import { createTransportHost, throwawayCredentials } from '@baran/transport'

const argv = process.argv.slice(2)
const listen: string[] = []
const relays: string[] = []
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--listen') listen.push(argv[++i] ?? '')
  else if (a === '--relay') relays.push(argv[++i] ?? '')
  else throw new Error(`unknown argument: ${a}`)
}

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const host = await createTransportHost({ listen: listen.length > 0 ? listen : undefined, relays })

const throwaway = throwawayCredentials(host.peerId, { name: 'natlab-peer' })
host.setCredentials(throwaway)
const now = Date.now()
host.onAddresses((addrs) => print({ event: 'addresses', addrs }))
host.onConnection((evt) => print({ event: 'connection', ...evt }))
host.onEnvelope(async (env, from) => {
  print({ event: 'envelope', id: env.id, bytes: env.payload.length, from: from.peerId, connection: from.connection })
  return 'stored'
})
print({ event: 'ready', peerId: host.peerId, accountId: throwaway.accountId, addrs: host.multiaddrs() })

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await host.stop()
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

interface Command {
  cmd?: string
  peerId?: string
  addrs?: string[]
  count?: number
  bytes?: number
}

let seq = 0
async function handle(c: Command): Promise<void> {
  if (c.cmd === 'send') {
    const count = Math.min(Math.max(1, Number(c.count ?? 1)), 100_000)
    const payload = new Uint8Array(Math.min(Math.max(1, Number(c.bytes ?? 16)), 65_536)).fill(0x61)
    for (let i = 0; i < count; i++) {
      try {
        const r = await host.send({ peerId: String(c.peerId), addrs: c.addrs ?? [] }, { id: `peer-${now}-${seq++}`, payload })
        print({ event: 'sent', i, ...r })
      } catch (err) {
        print({ event: 'send-failed', i, code: (err as { code?: string }).code, message: (err as Error).message })
      }
    }
    print({ event: 'send-done', count })
  } else if (c.cmd === 'connections') {
    print({ event: 'connections', list: host.connections() })
  } else if (c.cmd === 'stop') {
    await stop()
  } else {
    print({ event: 'error', message: `unknown command: ${String(c.cmd)}` })
  }
}

// one command at a time, in order
let queue = Promise.resolve()
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return
  queue = queue.then(async () => {
    let c: Command
    try {
      c = JSON.parse(line) as Command
    } catch {
      print({ event: 'error', message: 'not JSON' })
      return
    }
    await handle(c)
  })
})
