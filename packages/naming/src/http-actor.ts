/**
 * The naming actor over HTTP (`@baran/naming/http`): the same contract as the chain implementation, served by a
 * client of any Jami-compatible name server (GET /name/:name, GET /addr/:addr, POST /name/:name) instead of an
 * EVM RPC. Lookups still verify every record with @baran/trust; register has identity sign the claim and POSTs
 * it (the server pays gas). While the server does not answer the actor is `degraded`.
 *
 * Plug it in: `{ "naming": { "nameServer": "http://…" }, "actors": { "naming": "@baran/naming/http" } }`.
 */
import { ActorConfigError, defineActor } from '@baran/actor'
import { identitySignNameClaim, identityStatus, namingContracts, namingInfo, namingRegister, namingRegistered, namingRegistration } from '@baran/bus'
import { getAddress } from 'ethers'
import { z } from 'zod'
import { ChainMonitor } from './lib/chain-monitor.ts'
import { isNamingError, NameTakenError, NoAccountError } from './lib/errors.ts'
import { NameServerClient } from './lib/name-server-client.ts'
import { assertValidName } from './lib/registry-client.ts'
import { serveResolution } from './serve-resolution.ts'

// Not strict: the node hands every naming actor its whole `naming` section (rpcUrl, registry…), unused here.
const ConfigSchema = z.object({
  /** The name server's base URL (the node's `naming.nameServer`). Needed; optional here for the same reason as the chain actor's rpcUrl. */
  nameServer: z.url().optional(),
  /** Bound on one lookup. @default 5000 */
  timeoutMs: z.number().int().min(100).max(60_000).optional(),
  /** Name-server health check period. @default 1000 */
  checkMs: z.number().int().min(50).max(60_000).optional(),
})
export type HttpNamingConfig = z.infer<typeof ConfigSchema>

/** The degrade/recover reason while the name server does not answer. */
const SERVER = 'name-server'

export const httpNamingActor = defineActor({
  name: 'naming',
  version: '0.1.0',
  implementation: '@baran/naming/http',
  contractVersion: 1,
  contracts: namingContracts,
  config: ConfigSchema,
  async start(ctx) {
    const url = ctx.config.nameServer
    if (!url) throw new ActorConfigError('naming over HTTP needs a name server: set naming.nameServer')
    const client = new NameServerClient({ url, ...(ctx.config.timeoutMs === undefined ? {} : { timeoutMs: ctx.config.timeoutMs }) })
    const monitor = new ChainMonitor({
      // GET /registry: cheap, and it is what every claim is verified against.
      probe: async () => {
        await client.domain(true)
        return 0 // no block number over HTTP
      },
      ...(ctx.config.checkMs === undefined ? {} : { intervalMs: ctx.config.checkMs }),
      timeoutMs: ctx.config.timeoutMs ?? 1500,
      onChange: (up) => (up ? ctx.recover(SERVER) : ctx.degrade(SERVER)),
      log: ctx.log,
    })
    const watch = serveResolution(ctx, client, monitor)

    ctx.serve(namingRegister, async ({ name }) => {
      assertValidName(name)
      try {
        const status = await ctx.bus.request(identityStatus, {})
        if (!status.account) throw new NoAccountError()
        const { accountId, accountKey, ethAddress } = status.account
        const owner = getAddress(ethAddress)
        // A name that resolves (even to this account) is taken, as on the chain; the server's own idempotent
        // answer to a repeated POST only covers a retry whose first reply was lost.
        const held = await watch(client.lookup(name)).then(
          () => true,
          (e: unknown) => {
            if (isNamingError(e, 'not_found')) return false
            if (isNamingError(e, 'forged_record')) return true
            throw e
          },
        )
        if (held) throw new NameTakenError(`${name} is taken`)
        const domain = await watch(client.domain())
        const { signature } = await ctx.bus.request(identitySignNameClaim, { name, owner, chainId: domain.chainId, registry: domain.registry })
        const r = await watch(client.register(name, { accountId, publicKey: accountKey, owner, signature }))
        // A server that does not report its block: 0 means "not told".
        const blockNumber = r.blockNumber ?? 0
        ctx.publish(namingRegistration, { name, phase: 'registered', ...(r.txHashes.length > 0 ? { txHash: r.txHashes.at(-1)! } : {}) })
        ctx.publish(namingRegistered, { name, accountId, owner, blockNumber })
        return { name, accountId, owner, txHashes: r.txHashes, blockNumber }
      } catch (e) {
        const err = e as Error & { code?: unknown }
        ctx.publish(namingRegistration, { name, phase: 'failed', error: { code: typeof err.code === 'string' ? err.code : 'internal', message: String(err.message).slice(0, 1000) } })
        throw e
      }
    })

    // Diagnostics, served while degraded too (null for what the server cannot tell).
    ctx.serve(
      namingInfo,
      async () => {
        const ethAddress = await ctx.bus
          .request(identityStatus, {})
          .then((s) => (s.account ? getAddress(s.account.ethAddress) : null))
          .catch(() => null)
        const domain = await client.domain()
        return { rpcUrl: client.url, chainId: domain.chainId, registry: domain.registry, blockNumber: null, ethAddress, balanceWei: null }
      },
      { whenDegraded: 'serve' },
    )

    await monitor.start()
    ctx.log.info({ nameServer: client.url, server: monitor.up ? 'up' : 'down' }, 'naming over HTTP started')
    return {
      stop: () => monitor.stop(),
      health: () => ({ nameServer: client.url, server: monitor.up ? 'up' : 'down' }),
    }
  },
})

/** The name the supervisor looks for. */
export const actor = httpNamingActor
