/**
 * The `baran` command line: runs a node (`start`) and talks to a running one over its bus as the `cli` user.
 */
import { Command, CommanderError, Option } from 'commander'
import { CliError, Exit, paint } from './cli/output.ts'

// Each command loads only its own module (and what it imports): `baran status` does not load the supervisor,
// libp2p or ethers.
const accountCmd = () => import('./cli/account.ts')
const contactsCmd = () => import('./cli/contacts.ts')
const conversationsCmd = () => import('./cli/conversations.ts')
const linkCmd = () => import('./cli/link.ts')
const messagesCmd = () => import('./cli/messages.ts')
const namingCmd = () => import('./cli/naming.ts')
const startCmd = () => import('./cli/start.ts')
const statusCmd = () => import('./cli/status.ts')
const stopCmd = () => import('./cli/stop.ts')
const uiCmd = () => import('./cli/ui.ts')

const program = new Command('baran')
  .description('Baran: a fully distributed communication node')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')

const nodeOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('--data-dir <dir>', "the node's data directory (default: $BARAN_HOME/<node>)").env('BARAN_DATA_DIR'))
    .addOption(new Option('--node <name>', 'node name (default: the data dir name, or "default")'))

let exitCode: number = Exit.Ok

/**
 * `baran outbox | head`: the reader went away. Stop quietly instead of dying on EPIPE with a stack trace: a
 * command that runs until a signal (start, watch, devnet…) stops as on Ctrl-C, any other one exits now.
 */
function onOutputClosed(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE') throw e
  if (outputClosed) return
  outputClosed = true
  if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM')
  else process.exit(exitCode)
}
let outputClosed = false
process.stdout.on('error', onOutputClosed)
process.stderr.on('error', onOutputClosed)
// commander passes positional arguments first, then the options object.
const run =
  <A extends unknown[]>(action: (...args: A) => Promise<number>) =>
  async (...args: unknown[]) => {
    const cmdArgs = args.slice(0, -1) // the last one is the Command itself
    exitCode = await action(...(cmdArgs as A))
  }

nodeOptions(program.command('start').description('run the node in the foreground (Ctrl-C stops it)'))
  .option('--config <file>', 'config file (default: <data-dir>/config.json)')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--create-account', 'create an account if the node holds none (the first-run path of npm start)')
  .option('--ui', 'also serve the web UI on 127.0.0.1 (prints its URL with a per-start token)')
  .option('--ui-port <port>', 'TCP port of the web UI (default: a free one)', (v) => (/^\d+$/.test(v) ? Number(v) : Number.NaN))
  .action(run(async (o: object) => (await startCmd()).startCommand(o)))

nodeOptions(program.command('ui').description('serve the web UI of a running node on 127.0.0.1 (prints its URL with a per-start token)'))
  .option('--ui-port <port>', 'TCP port (default: a free one)', (v) => (/^\d+$/.test(v) ? Number(v) : Number.NaN))
  .action(run(async (o: object) => (await uiCmd()).uiCommand(o)))

nodeOptions(program.command('status').description("show every actor's state, pid, uptime and restarts"))
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await statusCmd()).statusCommand(o)))

nodeOptions(program.command('stop').description('stop a running node'))
  .option('--timeout <ms>', 'how long to wait', (v) => Number.parseInt(v, 10))
  .action(run(async (o: object) => (await stopCmd()).stopCommand(o)))

const account = program.command('account').description('the account this node holds')
nodeOptions(account.command('create').description('create an account (keys, first device, Ethereum key)'))
  .option('--device-name <name>', 'name of this device')
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await accountCmd()).accountCreate(o)))
nodeOptions(account.command('show').description('account ID, this device, the devices'))
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await accountCmd()).accountShow(o)))
nodeOptions(account.command('export <file>').description('write the encrypted account archive to <file>'))
  .option('--password-file <file>', 'read the password from a file (else $BARAN_PASSWORD, else a prompt)')
  .option('--json', 'machine-readable output')
  .action(run(async (file: string, o: object) => (await accountCmd()).accountExport(file, o)))
nodeOptions(account.command('import <file>').description('restore the account from an archive, as a new device'))
  .option('--password-file <file>', 'read the password from a file (else $BARAN_PASSWORD, else a prompt)')
  .option('--device-name <name>', 'name of this device')
  .option('--json', 'machine-readable output')
  .action(run(async (file: string, o: object) => (await accountCmd()).accountImport(file, o)))

const devices = program.command('devices').description('the devices of the account')
nodeOptions(devices.command('list').description('devices and revoked devices'))
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await accountCmd()).devicesList(o)))
nodeOptions(devices.command('revoke <deviceId>').description('revoke a device: its certificate and bindings are refused from now on'))
  .option('--json', 'machine-readable output')
  .action(run(async (id: string, o: object) => (await accountCmd()).devicesRevoke(id, o)))

const ms = (v: string) => (/^\d+$/.test(v) ? Number(v) : Number.NaN)
nodeOptions(devices.command('link').description('link another device: prints a PIN here; then run `baran devices link --pin <PIN>` on the new device'))
  .option('--pin <PIN>', 'on the NEW device: the PIN the existing device printed')
  .option('--device-name <name>', 'name of this (new) device')
  .addOption(new Option('--ttl-ms <ms>', 'life of the offer on the DHT (tests)').argParser(ms).hideHelp())
  .addOption(new Option('--wait-ms <ms>', 'how long the new device looks for the offer').argParser(ms).hideHelp())
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await linkCmd()).devicesLink(o)))

const port = (v: string) => (/^\d+$/.test(v) ? Number(v) : Number.NaN)
nodeOptions(program.command('register <name>').description("register a username for this node's account (commit, then reveal)"))
  .option('--json', 'machine-readable output')
  .action(run(async (name: string, o: object) => (await namingCmd()).registerCommand(name, o)))
nodeOptions(program.command('lookup <name>').description("a username's verified record: account ID, public key, owner"))
  .option('--json', 'machine-readable output')
  .action(run(async (name: string, o: object) => (await namingCmd()).lookupCommand(name, o)))
nodeOptions(program.command('whois <accountId>').description("an account's username"))
  .option('--json', 'machine-readable output')
  .action(run(async (id: string, o: object) => (await namingCmd()).whoisCommand(id, o)))
program
  .command('devnet')
  .description('run a dev EVM chain with the registry deployed, in the foreground (Ctrl-C stops it)')
  .option('--port <port>', 'TCP port on 127.0.0.1 (default: a free one)', port)
  .option('--state <file>', 'keep the chain in this file across restarts')
  .option('--json', 'print one JSON line once ready')
  .action(run(async (o: object) => (await namingCmd()).devnetCommand(o)))
program
  .command('nameserver')
  .description("serve Jami's name-server HTTP protocol over the registry, in the foreground (default: the local network)")
  .option('--port <port>', 'TCP port (default: a free one)', port)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--rpc-url <url>', "the chain's JSON-RPC URL (with --registry)")
  .option('--registry <address>', "the registry's 0x address")
  .option('--key-file <file>', 'a file with the 0x private key that pays gas for registrations (default on the local network: its faucet)')
  .option('--sponsor', "pay gas for anyone's valid claim (rate-limited per key and per network); without it, registrations get 403")
  .option('--json', 'print one JSON line once listening')
  .action(run(async (o: object) => (await namingCmd()).nameserverCommand(o)))

// The public helper node (@baran/relay): circuit relay v2 + DHT bootstrap (+ name server), in the foreground.
const repeat = (v: string, prev: string[] = []) => [...prev, v]
program
  .command('relay')
  .description('run a public helper node (circuit relay + DHT bootstrap); prints "relay <multiaddr>" and "dht <multiaddr>" lines once ready')
  .option('--data-dir <dir>', 'its keys and log (default: $BARAN_HOME/relay)')
  .option('--listen <multiaddr>', 'relay address, repeatable (default: 127.0.0.1, TCP and WebSockets, free ports)', repeat)
  .option('--dht-listen <multiaddr>', 'DHT address, repeatable (default: each TCP --listen address on the next port)', repeat)
  .option('--bootstrap <multiaddr>', 'another DHT node to join (…/p2p/<id>), repeatable', repeat)
  .option('--max-reservations <n>', 'reservations held at once (default 256)')
  .option('--data-limit <size>', 'bytes per relayed connection, e.g. 64MiB (the default)')
  .option('--duration-limit <time>', 'lifetime of a relayed connection, e.g. 30m (the default)')
  .option('--unlimited', 'no per-connection limits')
  .option('--name-server', "also serve Jami's name-server HTTP protocol (with --rpc-url and --registry)")
  .option('--rpc-url <url>', "the name server's chain JSON-RPC URL")
  .option('--registry <address>', "the registry's 0x address")
  .option('--key-file <file>', 'a file with the 0x private key that pays gas for registrations (else read-only)')
  .option('--name-server-host <host>', 'name server address (default 127.0.0.1)')
  .option('--name-server-port <port>', 'name server TCP port (default: a free one)')
  .option('--stun-port <port>', "UDP port of its STUN server (default 3478; a free one when the relay's port is free)")
  .option('--no-stun', 'no STUN server')
  .option('--json', 'print one JSON line once ready')
  // The command module alone: it validates the flags before it loads the relay itself.
  .action(run(async (o: object) => (await import('@baran/relay/command')).relayCommand(o)))

// Messages (the outbox actor).
nodeOptions(program.command('send <to> <text...>').description('send a message to a name or account ID; prints its ID once persisted'))
  .option('--ttl <duration>', 'give up after this long (e.g. 12h, 7d; default 30d)')
  .option('--json', 'machine-readable output')
  .action(run(async (to: string, text: string[], o: object) => (await messagesCmd()).sendCommand(to, text.join(' '), o)))
nodeOptions(program.command('inbox').description('received messages, in arrival order'))
  .option('--unread', 'only unread messages')
  .option('--mark-read', 'mark them read (sends read receipts)')
  .option('--json', 'machine-readable output: [{ id, from, body, receivedAt }]')
  .action(run(async (o: object) => (await messagesCmd()).inboxCommand(o)))
nodeOptions(program.command('history <peer>').description('one conversation with a name or account ID, both directions, in order, with delivery and read state'))
  .option('--json', 'machine-readable output: { peer, name?, messages: [{ id, direction, from, to, body, sentAt, prev, state, read, devices }], gaps }')
  .action(run(async (peer: string, o: object) => (await messagesCmd()).historyCommand(peer, o)))
nodeOptions(program.command('watch').description('print messages, delivery states and receipts as they happen (Ctrl-C stops)'))
  .option('--json', 'one JSON object per line')
  .action(run(async (o: object) => (await messagesCmd()).watchCommand(o)))
nodeOptions(program.command('outbox').description('messages not yet delivered, with the state of each device'))
  .option('--all', 'also the finished ones')
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await messagesCmd()).outboxCommand(o)))

// Contacts and blocks (the identity actor: they follow the account to its other devices).
const contacts = program.command('contacts').description("the account's contacts (a peer is a name or an account ID)")
nodeOptions(contacts.command('list').description('the contacts'))
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await contactsCmd()).contactsCommand(o)))
nodeOptions(contacts.command('add <peer>').description('add a contact, or rename one'))
  .option('--as <name>', 'the name to show (default: the name given)')
  .option('--json', 'machine-readable output')
  .action(run(async (peer: string, o: object) => (await contactsCmd()).addContactCommand(peer, o)))
nodeOptions(contacts.command('remove <peer>').description('remove a contact'))
  .option('--json', 'machine-readable output')
  .action(run(async (peer: string, o: object) => (await contactsCmd()).removeContactCommand(peer, o)))
nodeOptions(program.command('block <peer>').description('block an account: nothing more from it reaches any device of this account'))
  .option('--json', 'machine-readable output')
  .action(run(async (peer: string, o: object) => (await contactsCmd()).blockCommand(peer, o)))
nodeOptions(program.command('unblock <peer>').description('lift a block'))
  .option('--json', 'machine-readable output')
  .action(run(async (peer: string, o: object) => (await contactsCmd()).unblockCommand(peer, o)))
nodeOptions(program.command('blocks').description('the blocked accounts'))
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await contactsCmd()).blocksCommand(o)))
// Conversation names (the identity actor, like contacts: they follow the account to its other devices).
const conversations = program.command('conversations').description("the account's conversation names (a peer is a name or an account ID)")
nodeOptions(conversations.command('list', { isDefault: true }).description('the named conversations (the default)'))
  .option('--json', 'machine-readable output: [{ peer, name, at }]')
  .action(run(async (o: object) => (await conversationsCmd()).conversationsCommand(o)))
nodeOptions(conversations.command('name <peer> [name]').description("name a conversation on all of the account's devices, or clear its name"))
  .option('--clear', 'clear the name')
  .option('--json', 'machine-readable output')
  .action(run(async (peer: string, name: string | undefined, o: object) => (await conversationsCmd()).nameConversationCommand(peer, name, o)))
const requests = program.command('requests').description('contact requests: conversations started by accounts that are not contacts')
nodeOptions(requests.command('list').description('the pending requests, newest first'))
  .option('--json', 'machine-readable output')
  .action(run(async (o: object) => (await contactsCmd()).requestsCommand(o)))
for (const [answer, what] of [
  ['accept', 'add the account to the contacts'],
  ['decline', 'hide the request (a later message asks again)'],
  ['block', 'block the account and hide the request'],
] as const) {
  nodeOptions(requests.command(`${answer} <peer>`).description(what))
    .option('--json', 'machine-readable output')
    .action(run(async (peer: string, o: object) => (await contactsCmd()).answerRequestCommand(answer, peer, o)))
}

try {
  await program.parseAsync(process.argv)
} catch (e) {
  if (e instanceof CommanderError) {
    exitCode = e.exitCode === 0 ? Exit.Ok : Exit.Usage
  } else if (e instanceof CliError) {
    process.stderr.write(`${paint('red', 'error:')} ${e.message}\n`)
    if (e.hint) process.stderr.write(`${paint('gray', 'hint:')} ${e.hint}\n`)
    exitCode = e.exitCode
  } else {
    const err = e as Error & { code?: string }
    process.stderr.write(`${paint('red', 'error:')} ${err.message}\n`)
    exitCode = err.code === 'invalid_config' ? Exit.Config : Exit.Error
  }
}
process.exitCode = exitCode
