/**
 * An embedded development chain without ethers: anvil from its npm package (never downloaded), on loopback, with the
 * registry deployed by anvil's first dev account (unlocked: plain JSON-RPC `eth_sendTransaction`, no signing here).
 * This is what the supervisor of the node that owns the local network loads (`@baran/naming/dev-chain`); it must
 * not import ethers (test/dev-chain.test.ts checks). `startDevnet` (devnet.ts) adds an ethers provider on top.
 */
import { dieWithParent, killOnExit, stopChild } from '@baran/launch'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { registryBytecode } from '../generated/registry-artifact.ts'
import {
  ANVIL_MNEMONIC,
  DEFAULT_MAX_COMMIT_AGE,
  DEFAULT_TX_TIMEOUT_MS,
  DEVNET_ACCOUNTS,
  DEVNET_START_TIMEOUT_MS,
  DEVNET_STATE_INTERVAL_SEC,
  DEVNET_STOP_TIMEOUT_MS,
} from './constants.ts'
import { DEVNET_DEV_ACCOUNTS, DEVNET_FIRST_REGISTRY } from './dev-accounts.ts'
import { DevnetError } from './errors.ts'
import { type JsonRpc, jsonRpc } from './json-rpc.ts'
import { checksumAddress } from './keccak.ts'
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

/** A running dev chain, reached over plain JSON-RPC. */
export interface DevChain {
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

/** The registry's creation code with its constructor argument (`maxCommitAge`, one uint256 word) appended. */
export function registryDeployData(maxCommitAge: number): string {
  if (!Number.isSafeInteger(maxCommitAge) || maxCommitAge < 0) throw new DevnetError(`invalid maxCommitAge: ${maxCommitAge}`)
  return registryBytecode + maxCommitAge.toString(16).padStart(64, '0')
}

/** A JSON-RPC quantity: `0x` and hex without leading zeros. */
function quantity(n: bigint | number): string {
  return `0x${n.toString(16)}`
}

/** Starts anvil on 127.0.0.1, waits until its JSON-RPC answers, and deploys the registry (or finds it in the saved state). */
export async function startDevChain(opts: DevnetOptions = {}): Promise<DevChain> {
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
    stopped ??= stopChild(child, DEVNET_STOP_TIMEOUT_MS)
    return stopped
  }

  let rpc: JsonRpc | undefined
  try {
    const port = await listeningPort(child, startTimeoutMs, opts.log)
    const rpcUrl = `http://127.0.0.1:${port}`
    rpc = jsonRpc(rpcUrl)
    const chainId = await waitForRpc(rpc, deadline)

    const accounts: DevnetAccount[] = DEVNET_DEV_ACCOUNTS.slice(0, DEVNET_ACCOUNTS).map((a) => ({ ...a }))
    const deployer = accounts[0]!
    const maxCommitAge = opts.maxCommitAge ?? DEFAULT_MAX_COMMIT_AGE
    const candidate = opts.stateFile === undefined ? undefined : (opts.registry ?? DEVNET_FIRST_REGISTRY)
    const reused = candidate !== undefined && (await isRegistryAt(rpc, candidate, maxCommitAge))
    const registry = reused ? checksumAddress(candidate) : await deployFrom(rpc, deployer.address, maxCommitAge)
    if (candidate !== undefined && !reused) opts.log?.warn({ candidate, registry }, 'no registry in the saved chain state: deployed a new one')
    opts.log?.info({ rpcUrl, registry, reused, pid: child.pid }, 'devnet ready')

    const r = rpc
    return {
      rpcUrl,
      chainId,
      registry,
      reusedRegistry: reused,
      deployerKey: deployer.privateKey,
      accounts,
      pid: child.pid!,
      async fund(address, wei) {
        const balance = BigInt(await r.call<string>('eth_getBalance', [checksumAddress(address), 'latest']))
        await r.call('anvil_setBalance', [address, quantity(balance + wei)])
      },
      async mine(blocks = 1) {
        await r.call('anvil_mine', [quantity(blocks)])
      },
      async setAutomine(on) {
        await r.call('evm_setAutomine', [on])
      },
      async stop() {
        r.close()
        await stop()
      },
    }
  } catch (cause) {
    rpc?.close()
    await stop()
    if (cause instanceof DevnetError) throw cause
    throw new DevnetError(`dev chain failed to start: ${(cause as Error).message}`, { cause })
  }
}

/** Deploys the registry from `from` (an unlocked dev account) and waits for its receipt; returns its address. */
async function deployFrom(rpc: JsonRpc, from: string, maxCommitAge: number): Promise<string> {
  const hash = await rpc.call<string>('eth_sendTransaction', [{ from, data: registryDeployData(maxCommitAge) }])
  for (const until = Date.now() + DEFAULT_TX_TIMEOUT_MS; Date.now() < until; ) {
    const receipt = await rpc.call<{ status?: string; contractAddress?: string | null } | null>('eth_getTransactionReceipt', [hash])
    if (receipt) {
      if (receipt.status !== '0x1') throw new DevnetError(`registry deployment ${hash} reverted`)
      if (!receipt.contractAddress) throw new DevnetError(`registry deployment ${hash} created no contract`)
      return checksumAddress(receipt.contractAddress)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new DevnetError(`registry deployment ${hash} not mined within ${DEFAULT_TX_TIMEOUT_MS} ms`)
}

/**
 * True when the code at `address` is exactly what deploying the registry (with this maxCommitAge) would
 * leave there: the creation code run as a call returns the runtime code, immutables included.
 */
async function isRegistryAt(rpc: JsonRpc, address: string, maxCommitAge: number): Promise<boolean> {
  const code = await rpc.call<string>('eth_getCode', [checksumAddress(address), 'latest'])
  if (code === '0x') return false
  const runtime = await rpc.call<string>('eth_call', [{ data: registryDeployData(maxCommitAge) }, 'latest'])
  return runtime.toLowerCase() === code.toLowerCase()
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
async function waitForRpc(rpc: JsonRpc, deadline: number): Promise<bigint> {
  let last: unknown
  for (let attempt = 0; Date.now() < deadline && attempt < 1000; attempt++) {
    try {
      return BigInt(await rpc.call<string>('eth_chainId', [], Math.max(100, deadline - Date.now())))
    } catch (e) {
      last = e
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  throw new DevnetError('anvil JSON-RPC did not answer in time', { cause: last })
}

