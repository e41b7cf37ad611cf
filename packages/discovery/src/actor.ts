import { defineActor, loadOrCreateSecret } from '@baran/actor'
import { discoveryContracts } from '@baran/bus'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { join } from 'node:path'
import { z } from 'zod'
import { createDiscoveryNode } from './lib/dht-node.ts'
import { deviceListKey } from './lib/keys.ts'
import { serveDiscovery } from './serve.ts'
import { StoreConfigSchema } from './store-config.ts'

const Multiaddr = z.string().min(1).max(512).regex(/^\//, 'a multiaddr starts with /')
const ConfigSchema = z
  .object({
    listen: z.array(Multiaddr).optional(),
    bootstrap: z.array(Multiaddr).optional(),
    mdns: z.boolean().optional(),
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
  })
  .strict()

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
    const node = await createDiscoveryNode({
      privateKey: privateKeyFromProtobuf(keyBytes),
      ...(ctx.config.listen ? { listen: ctx.config.listen } : {}),
      bootstrap: ctx.config.bootstrap ?? [],
      mdns: ctx.config.mdns ?? false,
      ...(ctx.config.keepAlive === undefined ? {} : { keepAlive: ctx.config.keepAlive }),
      ...(ctx.config.store ? { storeLimits: ctx.config.store } : {}),
      log: ctx.log,
    })
    ctx.log.info({ peerId: node.peerId, addrs: node.multiaddrs(), bootstrap: ctx.config.bootstrap?.length ?? 0 }, 'DHT node up')
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
      // A DHT get always asks the network: nothing to make fresher.
      getValue: async (key) => {
        const data = await node.getValue(key)
        return data && { data, expiresAt: 0 }
      },
      // Deleted once a storing peer took the tombstone.
      deleteValue: async (key, token) => (await node.deleteValue(key, token)).stored > 0,
    })
  },
})
