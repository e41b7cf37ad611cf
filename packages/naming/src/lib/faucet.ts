/**
 * Dev chains only: tops up an address from a funded key so that a fresh account can pay for its
 * registration. Several nodes may share one faucet key, so a send that loses a nonce race is retried.
 */
import type { Signer } from 'ethers'
import { toNamingError, withTimeout } from './chain-errors.ts'
import { ACTOR_RPC_TIMEOUT_MS, DEFAULT_TX_TIMEOUT_MS, FAUCET_AMOUNT_WEI, FAUCET_ATTEMPTS, FAUCET_MIN_BALANCE_WEI } from './constants.ts'
import { RegistryError } from './errors.ts'
import type { Logger } from './logger.ts'

export interface EnsureFundsInit {
  /** The funded key, connected to the chain's provider. */
  faucet: Signer
  /** Who needs the funds. */
  address: string
  /** Below this balance the address is topped up. @default 0.01 ether */
  minWei?: bigint
  /** What a top-up sends. @default 1 ether */
  amountWei?: bigint
  /** Bound on each read and on waiting for the transfer. @default 5000 / 120000 */
  rpcTimeoutMs?: number
  txTimeoutMs?: number
  log?: Logger
}

// ethers codes of a send that raced another sender of the same key.
const NONCE_RACE = new Set(['NONCE_EXPIRED', 'REPLACEMENT_UNDERPRICED'])

/**
 * A race lost after the send: another sender's transfer with the same nonce (and a higher fee) replaced ours in the
 * pool, so ours never happened (ethers: TRANSACTION_REPLACED, cancelled). A repriced copy of our own is not that.
 */
function lostRace(e: unknown): boolean {
  const { code, cancelled } = e as { code?: unknown; cancelled?: unknown }
  return (typeof code === 'string' && NONCE_RACE.has(code)) || (code === 'TRANSACTION_REPLACED' && cancelled === true)
}

/** Funds `address` when its balance is below the minimum; resolves with the transfer's hash, or undefined. */
export async function ensureFunds(init: EnsureFundsInit): Promise<string | undefined> {
  const provider = init.faucet.provider
  if (!provider) throw new RegistryError('the faucet signer has no provider')
  const rpcTimeout = init.rpcTimeoutMs ?? ACTOR_RPC_TIMEOUT_MS
  const min = init.minWei ?? FAUCET_MIN_BALANCE_WEI
  let balance: bigint
  try {
    balance = await withTimeout(provider.getBalance(init.address), rpcTimeout, 'balance')
  } catch (e) {
    throw toNamingError(e, 'balance')
  }
  if (balance >= min) return undefined
  const value = init.amountWei ?? FAUCET_AMOUNT_WEI
  for (let attempt = 1; ; attempt++) {
    try {
      const tx = await withTimeout(init.faucet.sendTransaction({ to: init.address, value }), rpcTimeout, 'fund')
      const receipt = await withTimeout(tx.wait(), init.txTimeoutMs ?? DEFAULT_TX_TIMEOUT_MS, 'fund receipt')
      init.log?.info({ address: init.address, wei: String(value), txHash: tx.hash, block: receipt?.blockNumber }, 'funded from the dev faucet')
      return tx.hash
    } catch (e) {
      if (attempt < FAUCET_ATTEMPTS && lostRace(e)) {
        init.log?.debug({ attempt, code: (e as { code?: unknown }).code }, 'faucet nonce race: retrying')
        await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 80)))
        continue
      }
      throw toNamingError(e, 'fund')
    }
  }
}
