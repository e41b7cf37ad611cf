import { ALL_INTERFACES, defineActor, listenableAddrs, listensBeyondLoopback, loadOrCreateSecret, readAddressList, stableListen } from '@baran/actor'
import { discoveryContracts } from '@baran/bus'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { join } from 'node:path'
import { z } from 'zod'
import { createDiscoveryNode, type DiscoveryNode, type DiscoveryNodeInit } from './lib/dht-node.ts'
import { deviceListKey } from './lib/keys.ts'
import { serveDiscovery } from './serve.ts'
import { MailboxConfigSchema, StoreConfigSchema } from './store-config.ts'

const Multiaddr = z.string().min(1).max(512).regex(/^\//, 'a multiaddr starts with /')
const ConfigSchema = z
  .object({
    listen: z.array(Multiaddr).optional(),
    bootstrap: z.array(Multiaddr).optional(),
    /**
     * A JSON file whose `bootstrap` array names more bootstrap peers, read again whenever the node bootstraps:
     * the local network's `localnet.json`, so a node that joined finds the owner again after it moved.
     */
    bootstrapFile: z.string().min(1).optional(),
    /** Find peers on the LAN with mDNS (then dial them into the DHT). @default true when listening beyond loopback */
    mdns: z.boolean().optional(),
    /**
     * Use the DHT without serving it: for a node others cannot dial (behind a NAT without UPnP), which as a server
     * would only make every lookup wait for it to time out. @default false
     */
    clientMode: z.boolean().optional(),
    /**
     * Carry DHT requests to peers in UDP datagrams too (sessions agreed over the encrypted rpc stream); false keeps
     * them on libp2p streams only (a network that drops UDP costs only a probe per peer: the stream stays). @default true
     */
    udpRpc: z.boolean().optional(),
    /** Ping every connection each interval and close it when a ping fails; false turns it off (simulations). @default every 10 s */
    keepAlive: z
      .union([z.literal(false), z.object({ intervalMs: z.number().int().min(1000).max(3_600_000).optional(), closeOnFailure: z.boolean().optional() }).strict()])
      .optional(),
    /** How often the account's device list is published again (DHT storage is soft state). */
    deviceListRefreshMs: z.number().int().positive().optional(),
    /** Life of this device's presence record (identity's default when unset: 1 h); republished at half-life. */
    presenceTtlMs: z.number().int().min(1000).max(86_400_000).optional(),
    /** Bounds of the records kept for other peers (total, per uploading peer, per key); defaults in lib/constants.ts. */
    store: StoreConfigSchema.optional(),
    /** Bounds of the mailbox items kept for others, and the maintenance interval (docs/mailbox.md). */
    mailbox: MailboxConfigSchema.optional(),
  })
  .strict()

/** The node options of the config's `mailbox` section. */
function mailboxInit(config: z.infer<typeof MailboxConfigSchema> | undefined): Pick<DiscoveryNodeInit, 'mailboxLimits' | 'mailboxMaintenanceMs'> {
  if (config === undefined) return {}
  const { maintenanceMs, ...limits } = config
  return { mailboxLimits: limits, ...(maintenanceMs === undefined ? {} : { mailboxMaintenanceMs: maintenanceMs }) }
}

/**
 * The discovery actor: runs this node's DHT node (its own libp2p host and PeerId), publishes this device's
 * presence (signed by identity, for the transport's PeerId and addresses) and the account's device list,
 * and answers lookups and watches for the outbox: online, addressChanged and offline events (serve.ts).
 */
export const discoveryActor = defineActor({
  name: 'discovery',
  version: '0.1.0',
  implementation: '@baran/discovery',
  contracts: discoveryContracts,
  config: ConfigSchema,
  async start(ctx) {
    const keyBytes = await loadOrCreateSecret(join(ctx.dataDir, 'discovery', 'peer.key'), async () => privateKeyToProtobuf(await generateKeyPair('Ed25519')))
    const bootstrapFile = ctx.config.bootstrapFile
    // Every interface by default, so that LAN peers reach this node; mDNS with it, since a node on loopback only has no LAN.
    const listen = await listenableAddrs(ctx.config.listen ?? ALL_INTERFACES, ctx.log)
    const mdns = ctx.config.mdns ?? listensBeyondLoopback(listen)
    const init: DiscoveryNodeInit = {
      privateKey: privateKeyFromProtobuf(keyBytes),
      bootstrap: ctx.config.bootstrap ?? [],
      ...(bootstrapFile ? { bootstrapSource: () => readAddressList(bootstrapFile, 'bootstrap') } : {}),
      mdns,
      ...(ctx.config.clientMode ? { clientMode: true } : {}),
      ...(ctx.config.udpRpc === undefined ? {} : { udpRpc: ctx.config.udpRpc }),
      ...(ctx.config.keepAlive === undefined ? {} : { keepAlive: ctx.config.keepAlive }),
      ...(ctx.config.store ? { storeLimits: ctx.config.store } : {}),
      ...mailboxInit(ctx.config.mailbox),
      log: ctx.log,
    }
    // The ports of the last run, so that peers that bootstrap from this node find it again after a restart.
    const ports = await stableListen(join(ctx.dataDir, 'discovery', 'ports.json'), listen, ctx.log)
    let node: DiscoveryNode
    try {
      node = await createDiscoveryNode({ ...init, listen: ports.listen })
    } catch (e) {
      if (!ports.ownPorts) throw e
      ctx.log.warn({ err: (e as Error).message, ports: ports.listen }, 'cannot listen on the ports of the last run: listening on new ones')
      node = await createDiscoveryNode({ ...init, listen: ports.configured })
    }
    await ports.save(node.multiaddrs()).catch((e: unknown) => ctx.log.warn({ err: (e as Error).message }, 'cannot save the listen ports'))
    ctx.log.info({ peerId: node.peerId, addrs: node.multiaddrs(), bootstrap: ctx.config.bootstrap?.length ?? 0, mdns }, 'DHT node up')
    return serveDiscovery(ctx, {
      node,
      where: 'found on the DHT',
      // Listen: the storing nodes push each new record to this node.
      watchPresence: (accountId, onPresence) =>
        node.watch({ accountId }, (e) => {
          if (e.kind === 'presence' && e.presence.accountId === accountId) onPresence(e.presence)
        }),
      watchDeviceList: (accountId, onDeviceList) =>
        node.watch(deviceListKey(accountId), (e) => {
          if (e.kind === 'device-list') onDeviceList(e.deviceList, e.via)
        }),
      // `lookup` with `fresh`: no device list reused from the last seconds (dht-node.ts lookupDeviceList).
      lookupFresh: (accountId) => node.lookupAccount(accountId, { fresh: true }),
      // A DHT get always asks the network: nothing to make fresher.
      getValue: async (key) => {
        const data = await node.getValue(key)
        return data && { data, expiresAt: 0 }
      },
      // Deleted once a storing peer took the tombstone.
      deleteValue: async (key, token) => (await node.deleteValue(key, token)).stored > 0,
      mailbox: {
        put: (mailbox, envelope) => node.mailboxPut(mailbox, envelope),
        fetch: (mailbox, auth) => node.mailboxFetch(mailbox, auth),
        delete: (request) => node.mailboxDelete(request),
      },
    })
  },
})

/** The name every actor module exports its actor under (what `baran`'s actor entry runs). */
export const actor = discoveryActor
