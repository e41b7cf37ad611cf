import { defineActor, dependency, listenableAddrs, loadOrCreateSecret, periodic, readAddressList, stableListen } from '@baran/actor'
import {
  BusError,
  BusErrorCode,
  discoveryLookupDeviceList,
  identityAccountCreated,
  identityBlocks,
  identityBlocksChanged,
  identityDeviceRevoked,
  identityPeerBinding,
  outboxReceive,
  outboxSyncServe,
  transportAddresses,
  transportConnection,
  transportContracts,
  transportInfo,
  transportRevoked,
  transportSend,
  transportSyncRequest,
} from '@baran/bus'
import { join } from 'node:path'
import { z } from 'zod'
import { NODE_LISTEN, OUTBOX_WAIT } from './lib/constants.ts'
import { generateHostKey, hostKeyFromBytes, hostKeyToBytes } from './lib/host-keys.ts'
import { createTransportHost, type TransportHost, type TransportHostInit } from './lib/host.ts'
import { untilServed } from './lib/until-served.ts'

const Multiaddr = z.string().min(1).max(512).regex(/^\//, 'a multiaddr starts with /')
const WsMultiaddr = Multiaddr.regex(/\/wss?(\/|$)/, 'a WebSockets-only transport listens only on /ws (or /wss) multiaddrs')
const KeepAliveSchema = z.union([
  z.literal(false),
  z.object({ intervalMs: z.number().int().min(1000).max(3_600_000).optional(), closeOnFailure: z.boolean().optional() }).strict(),
])
const configSchema = (wsOnly: boolean) =>
  z
  .object({
    listen: z.array(wsOnly ? WsMultiaddr : Multiaddr).optional(),
    /** Circuit relay v2 servers (with /p2p/<id>) to reserve a slot on. */
    relays: z.array(Multiaddr).optional(),
    /** A JSON file whose `relays` array names more relays, read again while the actor runs (the local network's `localnet.json`). */
    relaysFile: z.string().min(1).optional(),
    upnp: z.boolean().optional(),
    /** Ask peers to dial back to learn which addresses are reachable (AutoNAT). @default true */
    autonat: z.boolean().optional(),
    /** Ping every connection each interval and close it when a ping fails; false turns it off (simulations). @default every 10 s */
    keepAlive: KeepAliveSchema.optional(),
    /** Also serve as a circuit relay for others (the localnet owner and apps/relay do). */
    relayServer: z.boolean().optional(),
    /** How long a remote's revocation list is trusted before asking discovery again. */
    revocationCacheMs: z.number().int().positive().optional(),
  })
  .strict()

/** Which transport: the default (TCP and WebSockets), or a WebSockets-only one. */
export interface TransportVariant {
  /** What health and `baran status` name. */
  implementation: string
  /** Direct transports. @default ['tcp', 'ws'] */
  transports?: Array<'tcp' | 'ws'>
}

/** Renew the peer binding well before its 30-day expiry. */
const RENEW_BINDING_MS = 24 * 3600_000

/**
 * The transport actor: owns the libp2p host (its own PeerId, persisted), presents the device's chain in every
 * handshake, hands each incoming envelope to the outbox (`outbox.receive`) and acks only with its answer, and
 * sends envelopes for the outbox, resolving only on the remote's ack.
 */
export const transportActor = defineTransportActor({ implementation: '@baran/transport' })

/** The transport actor for a variant (the same code; only its libp2p transports and allowed listen addresses differ). */
export function defineTransportActor(variant: TransportVariant) {
  const wsOnly = variant.transports !== undefined && !variant.transports.includes('tcp')
  return defineActor({
    name: 'transport',
    version: '0.1.0',
    implementation: variant.implementation,
    contracts: transportContracts,
    config: configSchema(wsOnly),
    async start(ctx) {
      const keyBytes = await loadOrCreateSecret(join(ctx.dataDir, 'transport', 'peer.key'), async () => hostKeyToBytes(await generateHostKey()))
      const revocationCacheMs = ctx.config.revocationCacheMs ?? 30_000
      const revokedCache = new Map<string, { revoked: Set<string>; at: number }>()

      // Is this device revoked by its account? Ask discovery for the account's latest signed revocations (cached): its
      // device list alone, not every device's presence.
      // If discovery cannot answer, the chain the peer presented (with its own revocations) is all we have.
      const isRevoked = async (accountId: string, deviceId: string): Promise<boolean> => {
        const hit = revokedCache.get(accountId)
        if (hit && Date.now() - hit.at < revocationCacheMs) return hit.revoked.has(deviceId)
        try {
          const r = await ctx.bus.request(discoveryLookupDeviceList, { accountId }, { timeoutMs: 3000 })
          revokedCache.set(accountId, { revoked: new Set(r.revoked), at: Date.now() })
          const revoked = r.revoked.includes(deviceId)
          // a revocation is final: the host keeps refusing this device even once this cache entry expires
          if (revoked) host?.revokeDevice(accountId, deviceId)
          return revoked
        } catch (e) {
          ctx.log.debug({ accountId, err: (e as Error).message }, 'no revocation list from discovery')
          return false
        }
      }

      const relaysFile = ctx.config.relaysFile
      const init: TransportHostInit = {
        privateKey: hostKeyFromBytes(keyBytes),
        ...(variant.transports ? { transports: variant.transports } : {}),
        relays: ctx.config.relays ?? [],
        ...(relaysFile ? { relaysSource: () => readAddressList(relaysFile, 'relays') } : {}),
        upnp: ctx.config.upnp ?? true,
        ...(ctx.config.autonat === undefined ? {} : { autonat: ctx.config.autonat }),
        ...(ctx.config.keepAlive === undefined ? {} : { keepAlive: ctx.config.keepAlive }),
        ...(ctx.config.relayServer ? { relayServer: { limits: false } } : {}),
        isRevoked,
        log: ctx.log,
      }
      // The ports of the last run, so that peers that know this host (as their relay) find it again after a restart.
      const kinds = variant.transports ?? ['tcp', 'ws']
      const defaultListen = NODE_LISTEN.filter((a) => kinds.includes(a.endsWith('/ws') ? 'ws' : 'tcp'))
      const listen = await listenableAddrs(ctx.config.listen ?? defaultListen, ctx.log)
      const ports = await stableListen(join(ctx.dataDir, 'transport', 'ports.json'), listen, ctx.log)
      let host: TransportHost
      try {
        host = await createTransportHost({ ...init, listen: ports.listen })
        // With relays configured a listen address may fail quietly: a saved port missed, take new ports for all.
        const bound = host.multiaddrs().join(' ')
        const missed = ports.saved.some((a) => !bound.includes(a.replace(/^\/(ip4|ip6)\/[^/]+/, '')))
        if (missed) {
          await host.stop()
          throw new Error(`not every saved port could be had: ${ports.listen.join(', ')}`)
        }
      } catch (e) {
        if (!ports.ownPorts) throw e
        ctx.log.warn({ err: (e as Error).message, ports: ports.listen }, 'cannot listen on the ports of the last run: listening on new ones')
        host = await createTransportHost({ ...init, listen: ports.configured })
      }
      await ports.save(host.multiaddrs()).catch((e: unknown) => ctx.log.warn({ err: (e as Error).message }, 'cannot save the listen ports'))
      ctx.log.info({ peerId: host.peerId, addrs: host.multiaddrs() }, 'libp2p host listening')

      // Credentials come from identity; without an account the host runs but cannot handshake (degraded, and asked
      // again with back-off: identity may still be starting).
      let credentialsAt = 0
      // Accounts this account blocked: their envelopes are refused here, before the outbox sees them.
      let blocked = new Set<string>()
      const credentials = dependency(ctx, {
        reason: 'credentials',
        initialMs: 250,
        maxMs: 10_000,
        connect: async () => {
          try {
            const chain = await ctx.bus.request(identityPeerBinding, { peerId: host.peerId }, { timeoutMs: 5000 })
            host.setCredentials({ deviceCert: chain.deviceCert, peerBinding: chain.peerBinding, revocations: chain.revocations })
            blocked = new Set((await ctx.bus.request(identityBlocks, {}, { timeoutMs: 5000 })).blocks.map((b) => b.accountId))
            credentialsAt = Date.now()
          } catch (e) {
            const code = e instanceof BusError ? e.code : 'error'
            ctx.log.info({ code }, code === 'no_account' ? 'no account yet: waiting for one' : 'identity not reachable yet')
            throw e
          }
        },
      })
      const refreshCredentials = () => credentials.check()
      await ctx.subscribe(identityBlocksChanged, (e) => {
        blocked = new Set(e.blocked)
      })
      await refreshCredentials()
      await ctx.subscribe(identityAccountCreated, () => void refreshCredentials())
      // Revocation is not only a handshake check: a device revoked later has its open streams cut (and is refused
      // from then on). This account's revocations come from identity (made here, or merged from another device);
      // other accounts' are looked up again, once per cache period, for each device with an open stream.
      const offRevoked = host.onRevoked((r) => {
        ctx.log.warn({ accountId: r.accountId, deviceId: r.deviceId, streams: r.closed, peerIds: r.peerIds }, 'closed the message streams of a revoked device')
        ctx.publish(transportRevoked, { accountId: r.accountId, deviceId: r.deviceId, streams: r.closed, peerIds: r.peerIds, at: Date.now() })
      })
      await ctx.subscribe(identityDeviceRevoked, (e) => {
        host.revokeDevice(e.accountId, e.deviceId)
        void refreshCredentials()
      })
      const recheck = periodic(
        () => {
          const accounts = new Map<string, string[]>()
          for (const r of host.remotes()) accounts.set(r.accountId, [...(accounts.get(r.accountId) ?? []), r.deviceId])
          for (const [accountId, devices] of accounts) {
            for (const d of devices) void isRevoked(accountId, d).then((revoked) => revoked && host.revokeDevice(accountId, d))
          }
        },
        revocationCacheMs,
        { signal: ctx.signal, log: ctx.log, name: 'revocation recheck' },
      )
      const renew = periodic(refreshCredentials, RENEW_BINDING_MS, { signal: ctx.signal, log: ctx.log, name: 'peer binding renewal' })

      // Every envelope goes to the outbox; its answer is the ack. No outbox, no ack: the sender will retry.
      host.onEnvelope(async (env, from) => {
        if (blocked.has(from.accountId)) {
          ctx.log.info({ accountId: from.accountId, id: env.id }, 'refused an envelope from a blocked account')
          return { rejected: 'refused by the recipient' }
        }
        const body = { id: env.id, payload: Buffer.from(env.payload).toString('base64'), from: { accountId: from.accountId, deviceId: from.deviceId, peerId: from.peerId } }
        const r = await untilServed(() => ctx.bus.request(outboxReceive, body, { timeoutMs: 10_000 }), { ...OUTBOX_WAIT, signal: ctx.signal })
        return r.status === 'rejected' ? { rejected: r.reason ?? 'rejected' } : r.status
      })

      // History sync between this account's devices: the transport proved the other device; the outbox answers.
      host.onSyncRequest((request, from) =>
        untilServed(() => ctx.bus.request(outboxSyncServe, { deviceId: from.deviceId, request }, { timeoutMs: 25_000 }), { ...OUTBOX_WAIT, signal: ctx.signal }),
      )
      ctx.serve(transportSyncRequest, async ({ deviceId, peerId, addrs, request, timeoutMs }) => {
        if (credentialsAt === 0) throw new BusError(BusErrorCode.Unavailable, 'this node has no account yet, so it cannot authenticate to its other devices')
        return host.syncRequest({ peerId, addrs, deviceId }, request, { timeoutMs: timeoutMs ?? 30_000, signal: ctx.signal })
      })

      // Each relayed → direct attempt, for the operator (and the NAT lab's checks): which peer, how long, why not.
      const offUpgrade = host.onUpgrade((e) => {
        if (e.result === 'direct') ctx.log.info({ ...e }, 'relayed connection upgraded to direct')
        else ctx.log.info({ ...e }, 'direct upgrade failed: staying relayed')
      })
      const publishAddresses = (addrs: string[]) => ctx.publish(transportAddresses, { peerId: host.peerId, addrs, at: Date.now() })
      const offAddrs = host.onAddresses(publishAddresses)
      const offConn = host.onConnection((c) => {
        ctx.publish(transportConnection, { peerId: c.peerId, kind: c.kind, state: c.type === 'open' ? 'open' : 'closed', at: Date.now() })
      })
      publishAddresses(host.multiaddrs())

      ctx.serve(
        transportInfo,
        () => {
          const addrs = host.multiaddrs()
          return {
            peerId: host.peerId,
            addrs,
            relayAddrs: addrs.filter((a) => a.includes('/p2p-circuit')),
            connections: host
              .connections()
              .filter((c) => c.type === 'open')
              .map((c) => ({ peerId: c.peerId, kind: c.kind === 'relayed' ? ('relayed' as const) : ('direct' as const), upgraded: c.kind === 'upgraded', remoteAddr: c.remoteAddr, path: c.path })),
            iceServers: [...host.iceServers],
            reachability: host.reachability(),
            upnp: host.upnp(),
          }
        },
        { whenDegraded: 'serve' },
      )

      ctx.serve(transportSend, async ({ peerId, addrs, id, payload, timeoutMs, accountId, deviceId }) => {
        if (credentialsAt === 0) throw new BusError(BusErrorCode.Unavailable, 'this node has no account yet, so it cannot authenticate to peers')
        const r = await host.send({ peerId, addrs, accountId, deviceId }, { id, payload: new Uint8Array(Buffer.from(payload, 'base64')) }, { timeoutMs: timeoutMs ?? 10_000, signal: ctx.signal })
        return { status: r.status, rttMs: r.rtt, connection: r.connection }
      })

      return {
        async stop() {
          renew.stop()
          recheck.stop()
          offRevoked()
          offUpgrade()
          offAddrs()
          offConn()
          await host.stop()
        },
        health: () => ({
          peerId: host.peerId,
          addrs: host.multiaddrs().length,
          relayAddrs: host.multiaddrs().filter((a) => a.includes('/p2p-circuit')).length,
          streams: host.streamCount,
          credentials: credentialsAt > 0,
        }),
      }
    },
  })
}

/** The name every actor module exports its actor under (what `baran`'s actor entry runs). */
export const actor = transportActor
