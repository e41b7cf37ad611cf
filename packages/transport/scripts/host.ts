/**
 * Starts one transport host from the command line and prints JSON lines (for the NAT lab and
 * manual checks). It makes a throwaway account + device so it can handshake; it stores nothing.
 *
 *   npx node --conditions=@baran/source scripts/host.ts [--listen <ma>]... [--relay <ma>]...
 *     [--relay-server] [--upnp] [--no-autonat] [--send <peerId> [--to <ma>]... [--count N]]
 *
 * Prints {"event":"ready",...} with its multiaddrs, then "addresses", "connection", "envelope"
 * events; with --send, one "sent" (or "send-failed") line per envelope, then exits. Stops on
 * SIGINT/SIGTERM.
 */
import { createTransportHost, throwawayCredentials } from '../src/index.ts'

function args(argv: string[]) {
  const out = { listen: [] as string[], relays: [] as string[], to: [] as string[], relayServer: false, upnp: false, autonat: true, send: '', count: 1 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => argv[++i] ?? ''
    if (a === '--listen') out.listen.push(next())
    else if (a === '--relay') out.relays.push(next())
    else if (a === '--to') out.to.push(next())
    else if (a === '--send') out.send = next()
    else if (a === '--count') out.count = Number(next())
    else if (a === '--relay-server') out.relayServer = true
    else if (a === '--upnp') out.upnp = true
    else if (a === '--no-autonat') out.autonat = false
    else throw new Error(`unknown argument: ${a}`)
  }
  return out
}

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const opts = args(process.argv.slice(2))

const host = await createTransportHost({
  listen: opts.listen.length > 0 || opts.relays.length > 0 ? opts.listen : undefined,
  relays: opts.relays,
  relayServer: opts.relayServer,
  upnp: opts.upnp,
  autonat: opts.autonat,
})

const throwaway = throwawayCredentials(host.peerId, { name: 'script' })
host.setCredentials(throwaway)
const now = Date.now()
host.onAddresses((addrs) => print({ event: 'addresses', addrs }))
host.onConnection((evt) => print({ event: 'connection', ...evt }))
host.onEnvelope(async (env, from) => {
  print({ event: 'envelope', id: env.id, bytes: env.payload.length, from: from.peerId, account: from.accountId, connection: from.connection })
  return 'stored'
})
print({ event: 'ready', peerId: host.peerId, accountId: throwaway.accountId, addrs: host.multiaddrs() })

const stop = async () => {
  await host.stop()
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

if (opts.send !== '') {
  for (let i = 0; i < opts.count; i++) {
    try {
      const r = await host.send({ peerId: opts.send, addrs: opts.to }, { id: `script-${now}-${i}`, payload: new TextEncoder().encode(`hello ${i}`) })
      print({ event: 'sent', i, ...r })
    } catch (err) {
      print({ event: 'send-failed', i, code: (err as { code?: string }).code, message: (err as Error).message })
    }
  }
  await stop()
}
