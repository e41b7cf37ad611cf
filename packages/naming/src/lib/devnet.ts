/**
 * The embedded development chain with an ethers provider on it (`startDevnet`, for tests, the CLI and tools), and
 * `deployRegistry` for any chain. The chain itself is started by dev-chain.ts, which does without ethers: the node's
 * supervisor imports only that one (`@baran/naming/dev-chain`).
 */
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { ContractFactory, FetchRequest, JsonRpcProvider, Network, type Signer } from 'ethers'
import { registryAbi, registryBytecode } from '../generated/registry-artifact.ts'
import { DEFAULT_MAX_COMMIT_AGE, DEFAULT_RPC_TIMEOUT_MS } from './constants.ts'
import { type DevChain, type DevnetOptions, startDevChain } from './dev-chain.ts'
import { DevnetError } from './errors.ts'

export type { DevChain, DevnetAccount, DevnetOptions } from './dev-chain.ts'
export { anvilBinaryPath, startDevChain } from './dev-chain.ts'

export interface Devnet extends DevChain {
  /** A provider on the devnet (fast polling, no batching); destroyed by stop(). */
  provider: JsonRpcProvider
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

/** Starts the dev chain (startDevChain) with an ethers provider on it; stop() destroys the provider, then stops anvil. */
export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const chain = await startDevChain(opts)
  const provider = createProvider(chain.rpcUrl, { chainId: chain.chainId })
  return {
    ...chain,
    provider,
    async stop() {
      provider.destroy()
      await chain.stop()
    },
  }
}
