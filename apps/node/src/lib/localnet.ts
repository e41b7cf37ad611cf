/**
 * The machine's local network, what `npm start` uses when no network is configured: a dev EVM chain (anvil)
 * with the registry deployed, described in `$BARAN_HOME/localnet.json`. The first node starts it and owns it
 * (stops it when it stops); later nodes join it. Its state lives in `$BARAN_HOME/localnet/chain.json`, so names
 * survive a restart; a restarted chain takes the same port when it can, so joined nodes find it again.
 */
import type { DevChain } from '@baran/naming/dev-chain'
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { ConfigError, type NodeConfig } from './config.ts'
import { pidAlive } from './node-info.ts'

const EthAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/)

export const LocalnetSchema = z.object({
  /** The node that started the chain and stops it. */
  owner: z.object({ node: z.string().min(1), pid: z.number().int().positive() }),
  chain: z.object({
    rpcUrl: z.url(),
    chainId: z.number().int().positive(),
    registry: EthAddress,
    /** A funded dev key (anvil's well-known account 1): tops up accounts so they can register. */
    faucetKey: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
    pid: z.number().int().positive(),
    stateFile: z.string().min(1),
  }),
  /** DHT bootstrap multiaddrs of the local network (filled by the node that hosts them). */
  bootstrap: z.array(z.string()),
  relays: z.array(z.string()),
  /** When the owner wrote its DHT and relay addresses (joiners wait for it). */
  announcedAt: z.number().int().optional(),
})
export type Localnet = z.infer<typeof LocalnetSchema>

/** What the naming actor needs to use the local chain. */
export interface LocalChainConfig {
  rpcUrl: string
  registry: string
  chainId: number
  faucetKey: string
}

/** Thrown when the local network can be neither joined nor started (anvil fails, the lock is held too long). */
export class LocalnetError extends Error {
  override name = 'LocalnetError'
  readonly code = 'localnet_error'
}

export interface LocalnetLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export function localnetPaths(home: string) {
  return {
    file: join(home, 'localnet.json'),
    lock: join(home, 'localnet.lock'),
    dir: join(home, 'localnet'),
    stateFile: join(home, 'localnet', 'chain.json'),
    /** Where the last chain listened and its registry: the next one takes the same port, so joined nodes find it again. */
    last: join(home, 'localnet', 'last.json'),
  }
}

export interface LocalnetHandle {
  readonly info: Localnet
  /** True when this process runs the chain (started or adopted it) and stops it in stop(). */
  readonly owner: boolean
  /** The naming actor's config for this chain. */
  namingConfig(): LocalChainConfig
  /**
   * The network's DHT bootstrap and relay addresses. A node that joined waits (bounded) until the owner has
   * announced them; the owner gets empty lists: it is the bootstrap and the relay.
   */
  network(timeoutMs?: number): Promise<{ bootstrap: string[]; relays: string[] }>
  /** The owner publishes its own discovery and transport addresses for the nodes that join. */
  announce(addrs: { bootstrap: string[]; relays: string[] }): Promise<void>
  /** The owner stops the chain and removes localnet.json; a node that joined leaves it running. */
  stop(): Promise<void>
}

export interface LocalnetOptions {
  home: string
  node: string
  log?: LocalnetLogger
  /** How long to wait for another node that is starting the network. @default 30000 */
  lockTimeoutMs?: number
  /** Bound on the RPC check of an existing chain. @default 1000 */
  probeTimeoutMs?: number
}

const silent: LocalnetLogger = { debug() {}, info() {}, warn() {}, error() {} }

/**
 * The supervisor's step: the local network when the node runs a naming actor and its config names no chain;
 * undefined otherwise. A chain half-configured (an RPC URL without a registry, or the reverse) is a config error.
 */
export async function localnetFor(config: NodeConfig, actors: readonly string[], opts: LocalnetOptions): Promise<LocalnetHandle | undefined> {
  if (!actors.includes('naming')) return undefined
  const { rpcUrl, registry } = config.naming
  if (rpcUrl && !registry) throw new ConfigError('invalid config: naming.registry: required with naming.rpcUrl (the 0x address of the registry on that chain)')
  if (registry && !rpcUrl) throw new ConfigError('invalid config: naming.rpcUrl: required with naming.registry (unset both to use the local network)')
  if (rpcUrl) return undefined
  return joinOrStartLocalnet(opts)
}

/** Reads localnet.json; undefined when it is missing or not valid. */
export async function readLocalnet(home: string): Promise<Localnet | undefined> {
  try {
    const parsed = LocalnetSchema.safeParse(JSON.parse(await readFile(localnetPaths(home).file, 'utf8')))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

/** Writes localnet.json atomically (a reader sees the old file or the new one, never half of one). */
export async function writeLocalnet(home: string, info: Localnet): Promise<void> {
  const file = localnetPaths(home).file
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(LocalnetSchema.parse(info), null, 2)}\n`, { mode: 0o644 })
  await rename(tmp, file)
}

/** True when the chain answers on its RPC URL with its chain id. */
export async function chainAnswers(chain: Localnet['chain'], timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(chain.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const body = (await res.json()) as { result?: string }
    return typeof body.result === 'string' && BigInt(body.result) === BigInt(chain.chainId)
  } catch {
    return false
  }
}

/** Joins the machine's local network, or starts it (then this process owns it). Two nodes at once: one starts, one joins. */
export async function joinOrStartLocalnet(opts: LocalnetOptions): Promise<LocalnetHandle> {
  const log = opts.log ?? silent
  const paths = localnetPaths(opts.home)
  await mkdir(opts.home, { recursive: true, mode: 0o700 })
  return withLock(paths.lock, opts.lockTimeoutMs ?? 30_000, async () => {
    const known = await readLocalnet(opts.home)
    if (known && pidAlive(known.chain.pid) && (await chainAnswers(known.chain, opts.probeTimeoutMs))) {
      if (pidAlive(known.owner.pid)) {
        log.info({ rpcUrl: known.chain.rpcUrl, owner: known.owner }, 'joined the local network')
        return joined(opts.home, known)
      }
      // Its owner died without stopping it (kill -9): take it over, so that someone stops it.
      const info = { ...known, owner: { node: opts.node, pid: process.pid }, bootstrap: [], relays: [], announcedAt: undefined }
      await writeLocalnet(opts.home, info)
      log.warn({ rpcUrl: known.chain.rpcUrl, previousOwner: known.owner }, 'adopted the local network of a node that is gone')
      return owned(opts.home, info, () => killPid(known.chain.pid))
    }
    const devnet = await startChain(paths, known, log)
    const info: Localnet = {
      owner: { node: opts.node, pid: process.pid },
      chain: {
        rpcUrl: devnet.rpcUrl,
        chainId: Number(devnet.chainId),
        registry: devnet.registry,
        faucetKey: devnet.accounts[1]!.privateKey,
        pid: devnet.pid,
        stateFile: paths.stateFile,
      },
      bootstrap: [],
      relays: [],
    }
    try {
      await writeLocalnet(opts.home, info)
      await writeFile(paths.last, `${JSON.stringify({ rpcUrl: info.chain.rpcUrl, registry: info.chain.registry })}\n`, { mode: 0o644 })
    } catch (e) {
      await devnet.stop()
      throw new LocalnetError(`cannot write ${paths.file}: ${(e as Error).message}`, { cause: e })
    }
    log.info({ rpcUrl: devnet.rpcUrl, registry: devnet.registry, reused: devnet.reusedRegistry, pid: devnet.pid }, 'started the local network')
    return owned(opts.home, info, () => devnet.stop())
  })
}

const LastChainSchema = z.object({ rpcUrl: z.url(), registry: EthAddress })

/** anvil on the previous port and state; another port if that one is taken; a fresh state if the saved one is unreadable. */
async function startChain(paths: ReturnType<typeof localnetPaths>, known: Localnet | undefined, log: LocalnetLogger): Promise<DevChain> {
  const previous =
    known?.chain ??
    (await readFile(paths.last, 'utf8')
      .then((t) => LastChainSchema.parse(JSON.parse(t)))
      .catch(() => undefined))
  const previousPort = previous ? Number(new URL(previous.rpcUrl).port) || 0 : 0
  const base = { stateFile: paths.stateFile, log, ...(previous ? { registry: previous.registry } : {}) }
  const attempts = previousPort ? [previousPort, 0] : [0]
  // Loaded only by the node that runs the chain, and only the dev-chain module: the whole naming package (its actor,
  // clients and signer) would stay in the supervisor for the node's life (~17 MiB more resident memory), and ethers
  // alone (the devnet module's provider) ~11 MiB.
  const { startDevChain } = await import('@baran/naming/dev-chain')
  let last: unknown
  for (const port of attempts) {
    try {
      return await startDevChain({ ...base, port })
    } catch (e) {
      last = e
      log.warn({ port, err: (e as Error).message }, 'local chain did not start')
    }
  }
  const saved = await stat(paths.stateFile).catch(() => undefined)
  if (saved) {
    const aside = `${paths.stateFile}.unreadable-${Date.now()}`
    await rename(paths.stateFile, aside)
    log.error({ moved: aside }, 'the saved chain state could not be loaded: starting a fresh chain')
    try {
      return await startDevChain({ ...base, port: 0 })
    } catch (e) {
      last = e
    }
  }
  throw new LocalnetError(`cannot start the local chain: ${(last as Error)?.message ?? last}`, { cause: last })
}

function handle(home: string, info: Localnet, owner: boolean, stop: () => Promise<void>): LocalnetHandle {
  return {
    info,
    owner,
    namingConfig: () => ({ rpcUrl: info.chain.rpcUrl, registry: info.chain.registry, chainId: info.chain.chainId, faucetKey: info.chain.faucetKey }),
    async network(timeoutMs = 30_000) {
      if (owner) return { bootstrap: [], relays: [] }
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const now = await readLocalnet(home)
        if (now?.announcedAt !== undefined) return { bootstrap: now.bootstrap, relays: now.relays }
        // The owner is gone, or slow: run on our own rather than hang (the DHT fills as nodes meet).
        if (!now || !pidAlive(now.owner.pid) || Date.now() > deadline) return { bootstrap: [], relays: [] }
        await sleep(100)
      }
    },
    async announce(addrs) {
      if (!owner) return
      await withLock(localnetPaths(home).lock, 10_000, async () => {
        const now = await readLocalnet(home)
        if (now && now.owner.pid === process.pid) await writeLocalnet(home, { ...now, ...addrs, announcedAt: Date.now() })
      })
    },
    stop,
  }
}

function joined(home: string, info: Localnet): LocalnetHandle {
  return handle(home, info, false, async () => {})
}

function owned(home: string, info: Localnet, stopChain: () => Promise<void>): LocalnetHandle {
  let stopped: Promise<void> | undefined
  const stop = async () => {
    // Under the lock, so that a node joining right now never takes a chain that is going away for a live one.
    await withLock(localnetPaths(home).lock, 10_000, async () => {
      await stopChain()
      const now = await readLocalnet(home)
      if (now && now.owner.pid === process.pid) await rm(localnetPaths(home).file, { force: true })
    }).catch(async () => {
      await stopChain()
    })
  }
  return handle(home, info, true, () => {
    stopped ??= stop()
    return stopped
  })
}

/** SIGTERM (anvil saves its state), SIGKILL after 5 s; resolves once the process is gone. */
async function killPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return
  }
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(50)
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL')
  for (let i = 0; i < 40 && pidAlive(pid); i++) await sleep(50)
}

/**
 * Runs `fn` holding an exclusive lock file (created with 'wx', holding our pid). A lock whose pid is dead is
 * stale and removed; an empty one (its writer died between create and write) is stale after a few seconds.
 */
export async function withLock<T>(lockFile: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(lockFile, 'wx', 0o644)
      try {
        await fh.writeFile(String(process.pid))
      } finally {
        await fh.close()
      }
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LocalnetError(`cannot create ${lockFile}: ${(e as Error).message}`, { cause: e })
    }
    const text = await readFile(lockFile, 'utf8').catch(() => '')
    const holder = Number.parseInt(text, 10)
    const age = Date.now() - ((await stat(lockFile).catch(() => undefined))?.mtimeMs ?? Date.now())
    if ((Number.isSafeInteger(holder) && holder > 0 && !pidAlive(holder)) || (!text && age > 5000)) {
      await rm(lockFile, { force: true })
      continue
    }
    if (Date.now() > deadline) throw new LocalnetError(`the local network is locked by pid ${text || '?'} (${lockFile}); is another node stuck starting?`)
    await sleep(50 + Math.min(attempt, 10) * 10)
  }
  try {
    return await fn()
  } finally {
    const text = await readFile(lockFile, 'utf8').catch(() => '')
    if (text === String(process.pid)) await rm(lockFile, { force: true })
  }
}
