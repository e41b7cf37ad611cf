/**
 * Username commands: `register`, `lookup`, `whois` talk to a running node's naming actor; `devnet` and
 * `nameserver` run a dev chain or a Jami-compatible name server in the foreground (no node needed).
 */
import { type Bus, errorCodeOf, isBusError, namingInfo, namingLookup, namingRegister, namingRegistration, namingReverse } from '@baran/bus'
import { CachedResolver, createProvider, type Devnet, NAME_RULES, RegistryClient, startDevnet, startNameServer } from '@baran/naming'
import { Wallet } from 'ethers'
import { readFile } from 'node:fs/promises'
import { localnetPaths, readLocalnet } from '../lib/localnet.ts'
import { baranHome } from '../lib/paths.ts'
import { type NodeSelection, withCliBus } from './connect.ts'
import { CliError, Exit, paint, printJson } from './output.ts'

type Opts = NodeSelection & { json?: boolean }

const RULE = `names are ${NAME_RULES.minLength}-${NAME_RULES.maxLength} characters of a-z, 0-9, _ and -, not starting or ending with -`

const withBus = <T>(opts: NodeSelection, fn: (bus: Bus) => Promise<T>): Promise<T> => withCliBus(opts, fn)

/** Turns the naming actor's error codes into what the user should know and do. */
function explain(e: unknown, what: string, hint?: string): CliError {
  if (!isBusError(e)) return e instanceof CliError ? e : new CliError((e as Error).message ?? String(e), { cause: e })
  const make = (message: string, exitCode: number, h?: string) => new CliError(message, { exitCode, cause: e, ...(h ? { hint: h } : {}) })
  switch (errorCodeOf(e, namingRegister, namingLookup, namingReverse)) {
    case 'invalid_name':
      return make(`invalid name: ${e.message}`, Exit.Usage, RULE)
    case 'name_taken':
      return make(`${what} is already registered`, Exit.Error, 'a name is never re-registered by someone else: pick another one')
    case 'not_found':
      return make(`${what} is not registered`, Exit.Error)
    case 'forged_record':
      return make(`the registry record of ${what} does not verify: ${e.message}`, Exit.Error, 'its account key never signed it: do not trust it')
    case 'no_account':
      return make('this node holds no account yet', Exit.Error, 'create one with `baran account create` (or import one)')
    case 'insufficient_funds':
      return make(`the account cannot pay for gas: ${e.message}`, Exit.Error, hint)
    case 'commit_expired':
    case 'commitment_unknown':
      return make(`the registration did not complete: ${e.message}`, Exit.Error, 'nothing was registered: run the command again')
    case 'unavailable':
      return make(`naming is unavailable: ${e.message}`, Exit.Unavailable, 'the chain does not answer: see `baran status` and the naming.rpcUrl setting')
    case 'no_responder':
      return make('the naming actor is not running on this node', Exit.Unavailable, 'see `baran status`; naming runs by default, or when `actors.naming` is configured')
    case 'timeout':
      return make(`no answer from the naming actor: ${e.message}`, Exit.Unavailable, 'the chain may be slow or stuck: try again, or see `baran status`')
    default:
      return make(`${e.code}: ${e.message}`, Exit.Error)
  }
}

/** `baran register <name>`: commit, then reveal, with a line per step. */
export async function registerCommand(name: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const say = (line: string) => {
      if (!opts.json) process.stdout.write(`${line}\n`)
    }
    const progress = await bus.subscribe(namingRegistration, (e) => {
      if (e.name !== name) return
      if (e.phase === 'committing') say(`committing to ${paint('bold', name)} (a hash only, so nobody can take the name first)…`)
      else if (e.phase === 'committed') say(`  committed in ${e.txHash}`)
      else if (e.phase === 'revealing') say(`revealing ${name}…`)
      else if (e.phase === 'registered') say(`  revealed in ${e.txHash}`)
    })
    try {
      const r = await bus.request(namingRegister, { name }, { timeoutMs: 180_000 })
      if (opts.json) printJson(r)
      else say(`${paint('green', '✓')} ${paint('bold', r.name)} is registered to account ${r.accountId} (owner ${r.owner}, block ${r.blockNumber})`)
      return Exit.Ok
    } catch (e) {
      let hint: string | undefined
      if (errorCodeOf(e, namingRegister) === 'insufficient_funds') {
        const info = await bus.request(namingInfo, {}).catch(() => undefined)
        if (info?.ethAddress) hint = `send some ether to ${info.ethAddress} on chain ${info.chainId} (${info.rpcUrl}), then try again`
      }
      throw explain(e, name, hint)
    } finally {
      progress.unsubscribe()
    }
  })
}

/** `baran lookup <name>`: the verified record. */
export async function lookupCommand(name: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const r = await bus.request(namingLookup, { name }, { timeoutMs: 15_000 }).catch((e: unknown) => {
      throw explain(e, name)
    })
    if (opts.json) {
      printJson({ name: r.name, accountId: r.accountId, publicKey: r.publicKey, owner: r.owner })
      return Exit.Ok
    }
    process.stdout.write(`${paint('bold', r.name)}\n  account  ${r.accountId}\n  key      ${r.publicKey}\n  owner    ${r.owner}\n`)
    return Exit.Ok
  })
}

/** `baran whois <accountId>`: the account's name. */
export async function whoisCommand(accountId: string, opts: Opts): Promise<number> {
  const id = accountId.toLowerCase().replace(/^0x/, '')
  if (!/^[0-9a-f]{40}$/.test(id)) {
    throw new CliError(`not an account ID: ${accountId}`, { exitCode: Exit.Usage, hint: 'an account ID is 40 hex characters (baran account show)' })
  }
  return withBus(opts, async (bus) => {
    const r = await bus.request(namingReverse, { accountId: id }, { timeoutMs: 15_000 }).catch((e: unknown) => {
      throw explain(e, `account ${id}`)
    })
    if (opts.json) printJson({ accountId: id, name: r.name })
    else process.stdout.write(`${r.name}\n`)
    return Exit.Ok
  })
}

/** Resolves on the first Ctrl-C / SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}

/** `baran devnet`: a dev chain with the registry, in the foreground. */
export async function devnetCommand(opts: { port?: number; state?: string; json?: boolean }): Promise<number> {
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port < 65536)) {
    throw new CliError('--port must be a TCP port number', { exitCode: Exit.Usage })
  }
  let devnet: Devnet
  try {
    devnet = await startDevnet({ ...(opts.port === undefined ? {} : { port: opts.port }), ...(opts.state ? { stateFile: opts.state } : {}) })
  } catch (e) {
    throw new CliError(`cannot start the dev chain: ${(e as Error).message}`, { cause: e, hint: opts.port ? `is port ${opts.port} free?` : undefined })
  }
  const faucetKey = devnet.accounts[1]!.privateKey
  try {
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ rpcUrl: devnet.rpcUrl, chainId: String(devnet.chainId), registry: devnet.registry, faucetKey, pid: devnet.pid })}\n`)
    } else {
      process.stdout.write(`${paint('green', '✓')} dev chain ready${devnet.reusedRegistry ? ' (state loaded)' : ''}\n`)
      process.stdout.write(`  rpcUrl    ${devnet.rpcUrl}\n  chainId   ${devnet.chainId}\n  registry  ${devnet.registry}\n`)
      process.stdout.write(`  faucet    ${faucetKey}  ${paint('gray', "(anvil's public dev account 1: dev chains only)")}\n`)
      process.stdout.write(`  use it:   BARAN_NAMING_RPC_URL=${devnet.rpcUrl} BARAN_NAMING_REGISTRY=${devnet.registry} baran start\n`)
      process.stdout.write(paint('gray', 'Ctrl-C stops it\n'))
    }
    await untilSignal()
  } finally {
    await devnet.stop()
  }
  return Exit.Ok
}

export interface NameServerOptions {
  port?: number
  host?: string
  rpcUrl?: string
  registry?: string
  keyFile?: string
  /** Pay gas for anyone's valid claim (with the --key-file wallet, or the local network's faucet). */
  sponsor?: boolean
  json?: boolean
}

/** `baran nameserver`: Jami's name-server protocol over the registry, in the foreground. */
export async function nameserverCommand(opts: NameServerOptions): Promise<number> {
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port < 65536)) {
    throw new CliError('--port must be a TCP port number', { exitCode: Exit.Usage })
  }
  let rpcUrl = opts.rpcUrl
  let registry = opts.registry
  let key: string | undefined
  if (opts.keyFile) {
    key = (
      await readFile(opts.keyFile, 'utf8').catch((e: unknown) => {
        throw new CliError(`cannot read the key file ${opts.keyFile}: ${(e as Error).message}`, { exitCode: Exit.Usage })
      })
    ).trim()
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) throw new CliError(`${opts.keyFile} does not hold a hex private key`, { exitCode: Exit.Usage })
    if (!key.startsWith('0x')) key = `0x${key}`
    if (!opts.sponsor) throw new CliError('--key-file pays gas for other people\'s registrations: add --sponsor to say so', { exitCode: Exit.Usage })
  }
  if (rpcUrl || registry) {
    if (!rpcUrl || !registry) throw new CliError('--rpc-url and --registry go together', { exitCode: Exit.Usage })
    if (!/^0x[0-9a-fA-F]{40}$/.test(registry)) throw new CliError('--registry must be a 0x address', { exitCode: Exit.Usage })
  } else {
    const local = await readLocalnet(baranHome())
    if (!local) {
      throw new CliError(`no local network is running (no ${localnetPaths(baranHome()).file})`, {
        exitCode: Exit.NotRunning,
        hint: 'start a node first (npm start), or pass --rpc-url and --registry (and --key-file to pay for registrations)',
      })
    }
    rpcUrl = local.chain.rpcUrl
    registry = local.chain.registry
    if (opts.sponsor) key ??= local.chain.faucetKey
  }
  if (opts.sponsor && key === undefined) throw new CliError('--sponsor needs a wallet that pays the gas: --key-file <file>', { exitCode: Exit.Usage })
  const provider = createProvider(rpcUrl)
  try {
    const client = new RegistryClient({ provider, registry, ...(key ? { signer: new Wallet(key, provider) } : {}) })
    const chainId = await client.chainId().catch((e: unknown) => {
      throw new CliError(`the chain at ${rpcUrl} does not answer: ${(e as Error).message}`, { exitCode: Exit.Unavailable, cause: e })
    })
    const server = await startNameServer({
      client,
      resolver: new CachedResolver(client),
      sponsor: key !== undefined,
      ...(opts.host ? { host: opts.host } : {}),
      ...(opts.port === undefined ? {} : { port: opts.port }),
    }).catch((e: unknown) => {
      throw new CliError(`cannot listen: ${(e as Error).message}`, { cause: e, hint: opts.port ? `is port ${opts.port} free?` : undefined })
    })
    try {
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ url: server.url, rpcUrl, chainId: String(chainId), registry: client.registry, registers: key !== undefined })}\n`)
      } else {
        process.stdout.write(`${paint('green', '✓')} name server on ${paint('bold', server.url)}  (chain ${chainId} at ${rpcUrl}, registry ${client.registry})\n`)
        process.stdout.write(`  GET /name/<name>  GET /addr/<accountId>  ${key ? 'POST /name/<name> (this server pays gas)' : paint('gray', 'read-only: pass --sponsor (and --key-file off the local network) to pay for registrations')}\n`)
        process.stdout.write(paint('gray', 'Ctrl-C stops it\n'))
      }
      await untilSignal()
    } finally {
      await server.close()
    }
  } finally {
    provider.destroy()
  }
  return Exit.Ok
}
