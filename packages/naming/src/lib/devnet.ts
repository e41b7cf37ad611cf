/**
 * An embedded development chain: anvil from its npm package (never downloaded), on loopback,
 * with the registry deployed by anvil's first dev account. Also `deployRegistry` for any chain.
 */
import { dieWithParent, killOnExit } from '@baran/launch'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import {
  ContractFactory,
  FetchRequest,
  getAddress,
  getCreateAddress,
  HDNodeWallet,
  JsonRpcProvider,
  Network,
  type Signer,
  toQuantity,
  Wallet,
} from 'ethers'
import { registryAbi, registryBytecode } from '../generated/registry-artifact.ts'
import {
  ANVIL_MNEMONIC,
  DEFAULT_MAX_COMMIT_AGE,
  DEFAULT_RPC_TIMEOUT_MS,
  DEVNET_ACCOUNTS,
  DEVNET_START_TIMEOUT_MS,
  DEVNET_STATE_INTERVAL_SEC,
  DEVNET_STOP_TIMEOUT_MS,
} from './constants.ts'
import { DevnetError } from './errors.ts'
import type { Logger } from './logger.ts'

export interface DevnetOptions {
  /** TCP port on 127.0.0.1. @default a free port chosen by anvil */
  port?: number
  /** maxCommitAge of the deployed registry, in blocks. @default 256 */
  maxCommitAge?: number
  log?: Logger
  /** Bound on start-up. @default 15000 */
  startTimeoutMs?: number
  /**
   * Keep the chain in this file (anvil's `--state`): loaded at start when it exists, written on a clean stop
   * and every `stateIntervalSec`, so registrations survive a restart. @default none (the chain lives in memory)
   */
  stateFile?: string
  /** How often anvil writes `stateFile`, in seconds (a killed anvil loses at most this much). @default 2 */
  stateIntervalSec?: number
  /**
   * With a `stateFile`: where the registry was deployed before. Reused when the code there is the registry's,
   * else deployed again. @default the address of the deployer's first deployment
   */
  registry?: string
  /**
   * Have the kernel stop anvil (SIGTERM) when this process dies, even by SIGKILL (Linux, with util-linux's
   * setpriv); elsewhere anvil is only killed on a normal exit. @default true
   */
  dieWithParent?: boolean
}

export interface DevnetAccount {
  address: string
  privateKey: string
}

export interface Devnet {
  rpcUrl: string
  chainId: bigint
  /** Address of the deployed registry. */
  registry: string
  /** True when the registry was found in the loaded state instead of being deployed. */
  reusedRegistry: boolean
  /** Private key of the deployer (anvil's account 0). */
  deployerKey: string
  /** anvil's funded dev accounts (account 0 is the deployer). */
  accounts: DevnetAccount[]
  /** A provider on the devnet (fast polling, no batching); destroyed by stop(). */
  provider: JsonRpcProvider
  /** PID of the anvil process. */
  pid: number
  /** Adds `wei` to the balance of `address`. */
  fund(address: string, wei: bigint): Promise<void>
  /** Mines `blocks` blocks at once. @default 1 */
  mine(blocks?: number): Promise<void>
  /** Turns automatic mining of each transaction on or off (off: transactions wait in the mempool). */
  setAutomine(on: boolean): Promise<void>
  /** Kills anvil by PID and waits until it has exited. Safe to call twice. */
  stop(): Promise<void>
}

/** A JSON-RPC provider tuned for a local chain: bounded request time, fast polling, no batching delay. */
export function createProvider(
  rpcUrl: string,
  opts: { chainId?: bigint | number; timeoutMs?: number; pollingInterval?: number } = {},
): JsonRpcProvider {
  const request = new FetchRequest(rpcUrl)
  request.timeout = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
  // Reuse connections: ethers' default opens a new one per request (~1 ms more on loopback).
  // Idle keep-alive sockets are unref'd by Node, so they never hold the process open.
  const agent = rpcUrl.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
  request.getUrlFunc = FetchRequest.createGetUrlFunc({ agent })
  const provider = new JsonRpcProvider(request, undefined, {
    // A known chain id skips ethers' network detection, which retries and logs while a chain is down.
    staticNetwork: opts.chainId === undefined ? true : Network.from(opts.chainId),
    pollingInterval: opts.pollingInterval ?? 50,
    // Send each request at once instead of waiting 10 ms to batch it.
    batchMaxCount: 1,
    // ethers reuses identical answers for 250 ms by default: a lookup right after a
    // registration would see the old, empty record.
    cacheTimeout: -1,
  })
  const destroy = provider.destroy.bind(provider)
  provider.destroy = () => {
    destroy()
    agent.destroy()
  }
  return provider
}

export interface DeployedRegistry {
  address: string
  txHash: string
  blockNumber: number
}

/** Deploys the compiled registry with `signer` on whatever chain it is connected to. */
export async function deployRegistry(
  signer: Signer,
  opts: { maxCommitAge?: number } = {},
): Promise<DeployedRegistry> {
  const factory = new ContractFactory(registryAbi, registryBytecode, signer)
  const contract = await factory.deploy(opts.maxCommitAge ?? DEFAULT_MAX_COMMIT_AGE)
  const receipt = await contract.deploymentTransaction()?.wait()
  if (!receipt) throw new DevnetError('registry deployment produced no receipt')
  return { address: await contract.getAddress(), txHash: receipt.hash, blockNumber: receipt.blockNumber }
}

/** Path of the anvil binary shipped in @foundry-rs/anvil-<platform>-<arch>. */
export function anvilBinaryPath(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`
  try {
    const require = createRequire(import.meta.url)
    const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
    return join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', exe)
  } catch (cause) {
    throw new DevnetError(`anvil binary package ${pkg} is not installed`, { cause })
  }
}

/** Starts anvil on 127.0.0.1, waits until its JSON-RPC answers, and deploys the registry. */
export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const startTimeoutMs = opts.startTimeoutMs ?? DEVNET_START_TIMEOUT_MS
  const deadline = Date.now() + startTimeoutMs
  const args = ['--host', '127.0.0.1', '--port', String(opts.port ?? 0), '--mnemonic', ANVIL_MNEMONIC, '--accounts', String(DEVNET_ACCOUNTS)]
  if (opts.stateFile !== undefined) {
    mkdirSync(dirname(opts.stateFile), { recursive: true })
    args.push('--state', opts.stateFile, '--state-interval', String(opts.stateIntervalSec ?? DEVNET_STATE_INTERVAL_SEC))
  }
  const [cmd, argv] = opts.dieWithParent === false ? [anvilBinaryPath(), args] : dieWithParent(anvilBinaryPath(), args)
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  killOnExit(child)
  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= killAndWait(child)
    return stopped
  }

  let provider: JsonRpcProvider | undefined
  try {
    const port = await listeningPort(child, startTimeoutMs, opts.log)
    const rpcUrl = `http://127.0.0.1:${port}`
    const chainId = await waitForRpc(rpcUrl, deadline)
    provider = createProvider(rpcUrl, { chainId })

    const root = HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, "m/44'/60'/0'/0")
    const accounts: DevnetAccount[] = []
    for (let i = 0; i < DEVNET_ACCOUNTS; i++) {
      const w = root.deriveChild(i)
      accounts.push({ address: w.address, privateKey: w.privateKey })
    }
    const deployerKey = accounts[0]!.privateKey
    const maxCommitAge = opts.maxCommitAge ?? DEFAULT_MAX_COMMIT_AGE
    const candidate = opts.stateFile === undefined ? undefined : (opts.registry ?? getCreateAddress({ from: accounts[0]!.address, nonce: 0 }))
    const reused = candidate !== undefined && (await isRegistryAt(provider, candidate, maxCommitAge))
    const registry = reused ? getAddress(candidate) : (await deployRegistry(new Wallet(deployerKey, provider), { maxCommitAge })).address
    if (candidate !== undefined && !reused) opts.log?.warn({ candidate, registry }, 'no registry in the saved chain state: deployed a new one')
    opts.log?.info({ rpcUrl, registry, reused, pid: child.pid }, 'devnet ready')

    const p = provider
    return {
      rpcUrl,
      chainId,
      registry,
      reusedRegistry: reused,
      deployerKey,
      accounts,
      provider: p,
      pid: child.pid!,
      async fund(address, wei) {
        const balance = await p.getBalance(address)
        await p.send('anvil_setBalance', [address, toQuantity(balance + wei)])
      },
      async mine(blocks = 1) {
        await p.send('anvil_mine', [toQuantity(blocks)])
      },
      async setAutomine(on) {
        await p.send('evm_setAutomine', [on])
      },
      async stop() {
        p.destroy()
        await stop()
      },
    }
  } catch (cause) {
    provider?.destroy()
    await stop()
    if (cause instanceof DevnetError) throw cause
    throw new DevnetError(`dev chain failed to start: ${(cause as Error).message}`, { cause })
  }
}

/**
 * True when the code at `address` is exactly what deploying the registry (with this maxCommitAge) would
 * leave there: the creation code run as a call returns the runtime code, immutables included.
 */
async function isRegistryAt(provider: JsonRpcProvider, address: string, maxCommitAge: number): Promise<boolean> {
  const code = await provider.getCode(address)
  if (code === '0x') return false
  const deploy = await new ContractFactory(registryAbi, registryBytecode).getDeployTransaction(maxCommitAge)
  return (await provider.call({ data: deploy.data })) === code
}

/** Reads anvil's stdout until "Listening on 127.0.0.1:<port>", then keeps draining it. */
function listeningPort(child: ChildProcess, timeoutMs: number, log?: Logger): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    let found = false
    const timer = setTimeout(() => finish(new DevnetError(`anvil did not start within ${timeoutMs} ms`)), timeoutMs)
    const finish = (result: number | Error): void => {
      if (found) return
      found = true
      clearTimeout(timer)
      child.off('exit', onExit)
      child.off('error', onError)
      if (typeof result === 'number') resolve(result)
      else reject(result)
    }
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new DevnetError(`anvil exited (code ${code}, signal ${signal}): ${err.slice(-500)}`))
    const onError = (cause: Error): void => finish(new DevnetError(`anvil failed to spawn: ${cause.message}`, { cause }))
    child.once('exit', onExit)
    child.once('error', onError)
    // anvil logs every RPC call: keep reading so that a full pipe never blocks it.
    child.stdout!.on('data', (chunk: Buffer) => {
      if (found) return
      out += chunk.toString('utf8')
      const m = /Listening on [\d.]+:(\d+)/.exec(out)
      if (m) {
        finish(Number(m[1]))
        out = ''
      }
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      if (!found) err = (err + text).slice(-4000)
      else log?.warn({ stderr: text.trim() }, 'anvil stderr')
    })
  })
}

/** Asks for the chain id until the RPC answers or the deadline passes. */
async function waitForRpc(rpcUrl: string, deadline: number): Promise<bigint> {
  let last: unknown
  for (let attempt = 0; Date.now() < deadline && attempt < 1000; attempt++) {
    try {
      const req = new FetchRequest(rpcUrl)
      req.timeout = Math.max(100, deadline - Date.now())
      req.setHeader('content-type', 'application/json')
      req.body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] })
      const res = await req.send()
      return BigInt((res.bodyJson as { result: string }).result)
    } catch (e) {
      last = e
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  throw new DevnetError('anvil JSON-RPC did not answer in time', { cause: last })
}

/** SIGTERM, then SIGKILL after a deadline; resolves once the process has exited. */
function killAndWait(child: ChildProcess): Promise<void> {
  // No pid: the spawn itself failed and no 'exit' will follow.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), DEVNET_STOP_TIMEOUT_MS)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
