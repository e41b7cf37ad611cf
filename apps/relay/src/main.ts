/**
 * The relay as a process of its own (`npm run relay`), without the `baran` CLI: the same options as
 * `baran relay`. Run it on Node 22 with the source condition:
 *   node --conditions=@baran/source apps/relay/src/main.ts [--data-dir <dir>] [--listen <multiaddr>]...
 */
import { parseArgs } from 'node:util'
import { type RelayCommandOptions, relayCommand, RelayExit } from './lib/command.ts'

const USAGE = `usage: relay [options]   (the same as \`baran relay\`)

A public helper node: circuit relay v2 and a DHT bootstrap node (+ an optional name server). Prints each
full multiaddr on its own line once ready ("relay <ma>", "dht <ma>", "nameserver <url>"); Ctrl-C stops it.

  --data-dir <dir>            keys and log (default: $BARAN_HOME/relay)
  --listen <multiaddr>        relay address, repeatable (default: 127.0.0.1, TCP and WebSockets, free ports)
  --dht-listen <multiaddr>    DHT address, repeatable (default: each TCP --listen address on the next port)
  --bootstrap <multiaddr>     another DHT node to join (/p2p/<id>), repeatable
  --max-reservations <n>      reservations held at once (default 256)
  --data-limit <size>         bytes per relayed connection, e.g. 64MiB (default 64MiB)
  --duration-limit <time>     lifetime of a relayed connection, e.g. 30m (default 30m)
  --unlimited                 no per-connection limits
  --name-server               also serve Jami's name-server protocol (needs --rpc-url and --registry)
  --rpc-url <url>  --registry <0x address>  --key-file <file>  --name-server-host <host>  --name-server-port <port>
  --stun-port <port>          UDP port of its STUN server (default 3478; free when the relay's port is free)
  --no-stun                   no STUN server
  --json                      print one JSON line once ready
`

let opts: RelayCommandOptions & { help?: boolean }
try {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    allowPositionals: false,
    options: {
      'data-dir': { type: 'string' },
      listen: { type: 'string', multiple: true },
      'dht-listen': { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      'max-reservations': { type: 'string' },
      'data-limit': { type: 'string' },
      'duration-limit': { type: 'string' },
      unlimited: { type: 'boolean' },
      'name-server': { type: 'boolean' },
      'name-server-host': { type: 'string' },
      'name-server-port': { type: 'string' },
      'rpc-url': { type: 'string' },
      registry: { type: 'string' },
      'key-file': { type: 'string' },
      json: { type: 'boolean' },
      'stun-port': { type: 'string' },
      'no-stun': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  // --kebab-case → camelCase, as commander hands them to `baran relay`
  opts = Object.fromEntries(Object.entries(values).map(([k, v]) => [k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), v]))
} catch (e) {
  process.stderr.write(`error: ${(e as Error).message}\n${USAGE}`)
  process.exit(RelayExit.Usage)
}
if (opts.help) {
  process.stdout.write(USAGE)
  process.exit(RelayExit.Ok)
}
const code = await relayCommand(opts)
// libp2p may leave idle sockets and timers behind for a moment: the relay is stopped, so leave now.
process.exit(code)
