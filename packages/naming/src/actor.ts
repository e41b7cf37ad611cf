import { ActorConfigError, defineActor } from '@baran/actor'
import {
  EthAddressSchema,
  identitySignNameClaim,
  identityStatus,
  namingContracts,
  namingInfo,
  namingRegister,
  namingRegistered,
  namingRegistration,
  type RegistrationPhase,
} from '@baran/bus'
import { getAddress, Wallet } from 'ethers'
import { z } from 'zod'
import { BusSigner } from './bus-signer.ts'
import { CachedResolver } from './lib/cached-resolver.ts'
import { ChainMonitor } from './lib/chain-monitor.ts'
import { ACTOR_RPC_TIMEOUT_MS, DEFAULT_CACHE_TTL_MS, DEFAULT_CHAIN_CHECK_TIMEOUT_MS, DEFAULT_NEGATIVE_TTL_MS } from './lib/constants.ts'
import { createProvider } from './lib/devnet.ts'
import { NoAccountError } from './lib/errors.ts'
import { ensureFunds } from './lib/faucet.ts'
import { assertValidName, RegistryClient } from './lib/registry-client.ts'
import { serveResolution } from './serve-resolution.ts'

/** secp256k1's group order n: a private key is in [1, n). */
const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/**
 * rpcUrl and registry are needed, but optional in the schema: the supervisor checks `actors.naming.config`
 * on its own before it merges in the node's `naming` section and the local network, which bring them.
 */
const ConfigSchema = z
  .object({
    /** The chain's JSON-RPC URL. */
    rpcUrl: z.url().optional(),
    /** The registry's 0x address. */
    registry: EthAddressSchema.optional(),
    /** The chain id name claims are bound to. @default asked from the RPC */
    chainId: z.union([z.number().int().positive(), z.string().regex(/^\d{1,30}$/)]).optional(),
    /** A Jami-compatible name server (not used for lookups yet: they go to the chain). */
    nameServer: z.url().optional(),
    /** Dev chains only: a funded key that tops up this account's Ethereum address before it registers. */
    faucetKey: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, 'a 0x 32-byte private key')
      .refine((k) => BigInt(k) > 0n && BigInt(k) < SECP256K1_ORDER, 'a secp256k1 private key (not zero, below the curve order)')
      .optional(),
    /** How long a found name is cached. @default 60000 */
    cacheTtlMs: z.number().int().min(0).max(86_400_000).optional(),
    /** Chain health check period. @default 1000 */
    chainCheckMs: z.number().int().min(50).max(60_000).optional(),
  })
  .strict()
export type NamingActorConfig = z.infer<typeof ConfigSchema>

/** The degrade/recover reason while the chain does not answer. */
const CHAIN = 'chain'

/**
 * The naming actor: registers this node's account name on an EVM registry and resolves names for the other
 * actors. It holds no key: transactions are signed by identity over the bus (BusSigner), and so is the account's
 * name claim. While the chain does not answer it is `degraded` and requests fail fast with `unavailable`.
 */
export const namingActor = defineActor({
  name: 'naming',
  version: '0.1.0',
  implementation: '@baran/naming',
  contracts: namingContracts,
  config: ConfigSchema,
  async start(ctx) {
    const { rpcUrl, registry, faucetKey } = ctx.config
    if (!rpcUrl || !registry) {
      throw new ActorConfigError('naming needs a chain: set naming.rpcUrl and naming.registry, or leave both unset to use the local network')
    }
    const chainId = ctx.config.chainId === undefined ? undefined : BigInt(ctx.config.chainId)
    const provider = createProvider(rpcUrl, { ...(chainId === undefined ? {} : { chainId }), timeoutMs: ACTOR_RPC_TIMEOUT_MS })
    // Health probes get their own short-timeout provider, so a hung RPC does not pile up requests.
    const probes = createProvider(rpcUrl, { ...(chainId === undefined ? {} : { chainId }), timeoutMs: DEFAULT_CHAIN_CHECK_TIMEOUT_MS })
    const signer = new BusSigner(ctx.bus, provider)
    const client = new RegistryClient({
      provider,
      registry,
      signer,
      rpcTimeoutMs: ACTOR_RPC_TIMEOUT_MS,
      log: ctx.log,
      ...(chainId === undefined ? {} : { chainId }),
    })
    const ttlMs = ctx.config.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS
    const resolver = new CachedResolver(client, { ttlMs, negativeTtlMs: Math.min(ttlMs, DEFAULT_NEGATIVE_TTL_MS) })
    // Made on first use: a Wallet derives its address at once (ethers' pure-JS curve: ~40 ms of a start's CPU).
    let faucetWallet: Wallet | undefined
    const faucet = (): Wallet | undefined => {
      if (faucetKey && faucetWallet === undefined) faucetWallet = new Wallet(faucetKey, provider)
      return faucetWallet
    }

    const monitor = new ChainMonitor({
      probe: () => probes.getBlockNumber(),
      ...(ctx.config.chainCheckMs === undefined ? {} : { intervalMs: ctx.config.chainCheckMs }),
      onChange: (up) => (up ? ctx.recover(CHAIN) : ctx.degrade(CHAIN)),
      log: ctx.log,
    })
    const watch = serveResolution(ctx, resolver, monitor)

    ctx.serve(namingRegister, async ({ name }) => {
      // The client rule first: a bad name costs no bus round trip and no transaction.
      assertValidName(name)
      const progress = (phase: RegistrationPhase, extra: { txHash?: string; error?: { code: string; message: string } } = {}) =>
        ctx.publish(namingRegistration, { name, phase, ...extra })
      try {
        const status = await ctx.bus.request(identityStatus, {})
        if (!status.account) throw new NoAccountError()
        const { accountId, accountKey, ethAddress } = status.account
        const owner = getAddress(ethAddress)
        const funder = faucet()
        if (funder) await watch(ensureFunds({ faucet: funder, address: owner, log: ctx.log }))
        const result = await watch(
          client.register(name, {
            accountId,
            publicKey: accountKey,
            owner,
            signClaim: async () => {
              const claim = { name, owner, chainId: String(await client.chainId()), registry: client.registry }
              return (await ctx.bus.request(identitySignNameClaim, claim)).signature
            },
            onProgress: (p) => progress(p.phase, p.txHash ? { txHash: p.txHash } : {}),
          }),
        )
        // A "not found" cached before the registration would hide it for a while.
        resolver.invalidate()
        progress('registered', { txHash: result.txHashes.at(-1)! })
        ctx.publish(namingRegistered, { name, accountId, owner, blockNumber: result.blockNumber })
        return { name, accountId, owner, txHashes: result.txHashes, blockNumber: result.blockNumber }
      } catch (e) {
        const err = e as Error & { code?: unknown }
        progress('failed', { error: { code: typeof err.code === 'string' ? err.code : 'internal', message: String(err.message).slice(0, 1000) } })
        throw e
      }
    })

    // Diagnostics: served while degraded too, with nulls for what the chain cannot tell.
    ctx.serve(
      namingInfo,
      async () => {
        const ethAddress = await ctx.bus
          .request(identityStatus, {})
          .then((s) => (s.account ? getAddress(s.account.ethAddress) : null))
          .catch(() => null)
        const blockNumber = (await monitor.checkNow()) ? (monitor.blockNumber ?? null) : null
        const balanceWei =
          ethAddress && blockNumber !== null
            ? await provider
                .getBalance(ethAddress)
                .then(String)
                .catch(() => null)
            : null
        return { rpcUrl, chainId: String(await client.chainId()), registry: client.registry, blockNumber, ethAddress, balanceWei }
      },
      { whenDegraded: 'serve' },
    )

    // The first probe decides whether we start ready or degraded.
    await monitor.start()
    ctx.log.info({ rpcUrl, registry: client.registry, chain: monitor.up ? 'up' : 'down', faucet: faucetKey !== undefined }, 'naming started')
    return {
      stop() {
        monitor.stop()
        provider.destroy()
        probes.destroy()
      },
      health: () => ({
        rpcUrl,
        registry: client.registry,
        chain: monitor.up ? 'up' : 'down',
        ...(monitor.blockNumber === undefined ? {} : { blockNumber: monitor.blockNumber }),
        cache: resolver.stats(),
      }),
    }
  },
})

/** The name every actor module exports its actor under (what `baran`'s actor entry runs). */
export const actor = namingActor
