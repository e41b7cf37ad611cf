/**
 * `baran relay` / `npm run relay`: turns command-line options into a RelayInit, runs the relay in the
 * foreground, prints each full multiaddr on its own line once it is ready (`relay <ma>`, `dht <ma>`,
 * `nameserver <url>`; or one JSON line with `--json`), and stops cleanly on SIGINT/SIGTERM.
 */
import { createLogger } from '@baran/actor'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { RELAY_INFO_FILE, RELAY_LOG_FILE, STATS_INTERVAL_MS } from './constants.ts'
import { InvalidRelayOptionError, RelayAlreadyRunningError, RelayError } from './errors.ts'
import { parseByteSize, parseDuration, parseInteger, parseListenAddr, parsePeerAddr, parsePort } from './options.ts'
import type { Relay, RelayInit } from './relay.ts'

/** The options as a command-line parser hands them over (strings; repeatable ones as arrays). */
export interface RelayCommandOptions {
  dataDir?: string
  listen?: string[]
  dhtListen?: string[]
  bootstrap?: string[]
  maxReservations?: string | number
  dataLimit?: string
  durationLimit?: string
  unlimited?: boolean
  nameServer?: boolean
  nameServerHost?: string
  nameServerPort?: string | number
  rpcUrl?: string
  registry?: string
  keyFile?: string
  json?: boolean
  /** UDP port of the STUN server (default 3478; a free one when the relay's port is free). */
  stunPort?: string | number
  /** `false` (commander's `--no-stun`) or `noStun` (parseArgs): no STUN server. */
  stun?: boolean
  noStun?: boolean
}

export interface RelayCommandIo {
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
  env?: NodeJS.ProcessEnv
  /** Resolves when the relay should stop. @default the first SIGINT or SIGTERM (a second one exits at once) */
  until?: Promise<unknown>
}

/** Exit codes, the same as the `baran` CLI's. */
export const RelayExit = { Ok: 0, Error: 1, Usage: 2 } as const

/** `$BARAN_HOME/relay` (BARAN_HOME defaults to ~/.baran). */
export function defaultRelayDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(resolve(env.BARAN_HOME || join(homedir(), '.baran')), 'relay')
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

/** Validates the command-line options (InvalidRelayOptionError names the bad one); reads --key-file. */
export async function relayInitFrom(opts: RelayCommandOptions, env: NodeJS.ProcessEnv = process.env): Promise<RelayInit> {
  const init: RelayInit = { dataDir: resolve(opts.dataDir || defaultRelayDataDir(env)) }
  const listen = list(opts.listen).map((a) => parseListenAddr(a, '--listen'))
  if (listen.length > 0) init.listen = listen
  const dhtListen = list(opts.dhtListen).map((a) => parseListenAddr(a, '--dht-listen'))
  if (dhtListen.length > 0) init.dhtListen = dhtListen
  const bootstrap = list(opts.bootstrap).map((a) => parsePeerAddr(a, '--bootstrap'))
  if (bootstrap.length > 0) init.bootstrap = bootstrap
  if (opts.maxReservations !== undefined) init.maxReservations = parseInteger(opts.maxReservations, '--max-reservations', 1, 1_000_000)
  if (opts.unlimited) {
    if (opts.dataLimit !== undefined || opts.durationLimit !== undefined) {
      throw new InvalidRelayOptionError('--unlimited: cannot go with --data-limit or --duration-limit')
    }
    init.limits = false
  } else if (opts.dataLimit !== undefined || opts.durationLimit !== undefined) {
    init.limits = {
      ...(opts.dataLimit === undefined ? {} : { dataBytes: parseByteSize(opts.dataLimit, '--data-limit') }),
      ...(opts.durationLimit === undefined ? {} : { durationMs: parseDuration(opts.durationLimit, '--duration-limit') }),
    }
  }
  if (opts.stun === false || opts.noStun === true) {
    if (opts.stunPort !== undefined) throw new InvalidRelayOptionError('--stun-port: cannot go with --no-stun')
    init.stun = false
  } else if (opts.stunPort !== undefined) {
    init.stun = { port: parsePort(opts.stunPort, '--stun-port') }
  }
  const nsOptions = [opts.rpcUrl, opts.registry, opts.keyFile, opts.nameServerHost, opts.nameServerPort].some((v) => v !== undefined)
  if (nsOptions && !opts.nameServer) throw new InvalidRelayOptionError('--rpc-url, --registry, --key-file and --name-server-* go with --name-server')
  if (opts.nameServer) {
    if (!opts.rpcUrl || !opts.registry) throw new InvalidRelayOptionError('--name-server needs --rpc-url and --registry (the chain and its registry)')
    if (!/^0x[0-9a-fA-F]{40}$/.test(opts.registry)) throw new InvalidRelayOptionError(`--registry: ${JSON.stringify(opts.registry)} is not a 0x address`)
    try {
      const u = new URL(opts.rpcUrl)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
    } catch (e) {
      throw new InvalidRelayOptionError(`--rpc-url: ${JSON.stringify(opts.rpcUrl)} is not an http(s) URL`, { cause: e })
    }
    init.nameServer = { rpcUrl: opts.rpcUrl, registry: opts.registry }
    if (opts.nameServerHost) init.nameServer.host = opts.nameServerHost
    if (opts.nameServerPort !== undefined) init.nameServer.port = parsePort(opts.nameServerPort, '--name-server-port')
    if (opts.keyFile) init.nameServer.privateKey = await readKeyFile(opts.keyFile)
  }
  return init
}

async function readKeyFile(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((e: unknown) => {
    throw new InvalidRelayOptionError(`--key-file: cannot read ${file}: ${(e as Error).message}`, { cause: e })
  })
  const key = text.trim()
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) throw new InvalidRelayOptionError(`--key-file: ${file} does not hold a hex private key`)
  return key.startsWith('0x') ? key : `0x${key}`
}

const size = (b: number) => (b >= 1024 ** 2 ? `${+(b / 1024 ** 2).toFixed(1)} MiB` : `${+(b / 1024).toFixed(1)} KiB`)
const span = (ms: number) => (ms >= 3_600_000 ? `${+(ms / 3_600_000).toFixed(1)} h` : ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)} min` : `${+(ms / 1000).toFixed(1)} s`)

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A relay that is still alive on this data dir would share our PeerIds: refuse to start beside it. */
async function assertNotRunning(dataDir: string): Promise<void> {
  const info = await readFile(join(dataDir, RELAY_INFO_FILE), 'utf8')
    .then((t) => JSON.parse(t) as { pid?: unknown })
    .catch(() => undefined)
  if (typeof info?.pid === 'number' && info.pid !== process.pid && pidAlive(info.pid)) {
    throw new RelayAlreadyRunningError(`a relay (pid ${info.pid}) already runs on ${dataDir}`)
  }
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    let count = 0
    const on = (sig: string) => {
      count++
      if (count > 1) process.exit(RelayExit.Error)
      resolve(sig)
    }
    process.on('SIGINT', () => on('SIGINT'))
    process.on('SIGTERM', () => on('SIGTERM'))
  })
}

/** Runs the relay until `io.until` (default: SIGINT/SIGTERM); returns the exit code. Never throws. */
export async function relayCommand(opts: RelayCommandOptions, io: RelayCommandIo = {}): Promise<number> {
  const out = io.stdout ?? process.stdout
  const err = io.stderr ?? process.stderr
  const fail = (e: unknown): number => {
    const usage = e instanceof InvalidRelayOptionError
    err.write(`error: ${(e as Error).message}\n`)
    if (usage) err.write('hint: see `baran relay --help`\n')
    else if (e instanceof RelayError && e.code === 'listen_failed') err.write('hint: is the port free? (--listen, --dht-listen)\n')
    return usage ? RelayExit.Usage : RelayExit.Error
  }
  let init: RelayInit
  try {
    init = await relayInitFrom(opts, io.env ?? process.env)
    await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
    await assertNotRunning(init.dataDir)
  } catch (e) {
    return fail(e)
  }
  const logStream = createWriteStream(join(init.dataDir, RELAY_LOG_FILE), { flags: 'a', mode: 0o600 })
  const log = createLogger({ node: 'relay', actor: 'relay', destination: logStream })
  const until = io.until ?? untilSignal()
  let relay: Relay
  try {
    // Loaded once the options are valid: libp2p and the chain client take seconds to load on a busy machine, and a
    // usage error needs none of it.
    const { startRelay } = await import('./relay.ts')
    relay = await startRelay({ ...init, log })
  } catch (e) {
    log.error({ err: (e as Error).message }, 'relay did not start')
    await new Promise((r) => logStream.end(r))
    return fail(e)
  }
  const infoFile = join(init.dataDir, RELAY_INFO_FILE)
  try {
    const { addrs, peerIds, nameServer, stun, stunError, limits, maxReservations } = relay
    const info = {
      pid: process.pid,
      peerIds,
      relay: addrs.relay,
      dht: addrs.dht,
      ...(nameServer ? { nameServer: nameServer.url } : {}),
      ...(stun ? { stun: stun.url } : {}),
      ...(stunError ? { stunError } : {}),
      limits,
      maxReservations,
    }
    await writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 })
    log.info(info, 'relay ready')
    if (opts.json) {
      out.write(`${JSON.stringify(info)}\n`)
    } else {
      for (const a of addrs.relay) out.write(`relay ${a}\n`)
      for (const a of addrs.dht) out.write(`dht ${a}\n`)
      if (nameServer) out.write(`nameserver ${nameServer.url}\n`)
      if (stun) out.write(`stun ${stun.url}\n`)
      if (stunError) err.write(`warning: no STUN server (${stunError}); pass --stun-port <port> or --no-stun\n`)
      const lim = limits ? `${size(limits.dataBytes)} and ${span(limits.durationMs)} per relayed connection` : 'no per-connection limits'
      err.write(`relay ready: up to ${maxReservations} reservations, ${lim}; data ${init.dataDir}\n`)
      err.write('  nodes use it with transport.relays = [a relay address] and discovery.bootstrap = [a dht address]; Ctrl-C stops it\n')
    }
    const stats = setInterval(() => log.info({ ...relay.stats() }, 'stats'), STATS_INTERVAL_MS)
    stats.unref()
    const reason = await until
    clearInterval(stats)
    log.info({ reason: String(reason ?? 'stop') }, 'relay stopping')
    return RelayExit.Ok
  } catch (e) {
    return fail(e)
  } finally {
    await relay.stop()
    await rm(infoFile, { force: true })
    log.info('relay stopped')
    await new Promise((r) => logStream.end(r))
  }
}
