/**
 * LAN-only discovery (`@baran/discovery/lan`): the discovery contract without a DHT, for air-gapped networks.
 * Peers are met directly — by mDNS on the local network, or from a static `peers` list — and gossip the signed
 * presence and device-list bundles (and opaque values) they hold over `/baran/lan/1.0.0` (LanNode). Each record
 * is verified with the same records code as the DHT's storing nodes; a lookup is answered from what this node
 * heard, asking its connected peers when it holds nothing (or when asked `fresh`); watched devices raise online /
 * addressChanged / offline events as their records arrive (serve.ts serves the contract).
 *
 * Plug it in: `{ "discovery": { "mdns": true }, "actors": { "discovery": "@baran/discovery/lan" } }`.
 */
import { ALL_INTERFACES, defineActor, listenableAddrs, loadOrCreateSecret, readAddressList } from '@baran/actor'
import { discoveryContracts } from '@baran/bus'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { join } from 'node:path'
import { z } from 'zod'
import { createLanNode } from './lib/lan-node.ts'
import type { VerifiedEntry } from './lib/policy.ts'
import { serveDiscovery } from './serve.ts'
import { StoreConfigSchema } from './store-config.ts'

const Multiaddr = z.string().min(1).max(512).regex(/^\//, 'a multiaddr starts with /')
const ConfigSchema = z
  .object({
    listen: z.array(Multiaddr).optional(),
    /** LAN peers met without mDNS (multiaddrs with /p2p/). */
    peers: z.array(Multiaddr).optional(),
    /** The node's `discovery.bootstrap` (and the local network's): taken as more LAN peers. */
    bootstrap: z.array(Multiaddr).optional(),
    /** A JSON file whose `bootstrap` array names more LAN peers (the local network's `localnet.json`), read at start. */
    bootstrapFile: z.string().min(1).optional(),
    /** Find peers on the local network with mDNS. @default true */
    mdns: z.boolean().optional(),
    /** How often the account's device list is published again. @default 600000 */
    deviceListRefreshMs: z.number().int().positive().optional(),
    /** Life of this device's presence record (identity's default when unset); republished at half-life. */
    presenceTtlMs: z.number().int().min(1000).max(86_400_000).optional(),
    /** Bounds of the records kept for other peers (total, per uploading peer, per key); defaults in lib/constants.ts. */
    store: StoreConfigSchema.optional(),
  })
  .strict()

export const lanDiscoveryActor = defineActor({
  name: 'discovery',
  version: '0.1.0',
  implementation: '@baran/discovery/lan',
  contractVersion: 1,
  contracts: discoveryContracts,
  config: ConfigSchema,
  async start(ctx) {
    const keyBytes = await loadOrCreateSecret(join(ctx.dataDir, 'discovery', 'peer.key'), async () => privateKeyToProtobuf(await generateKeyPair('Ed25519')))
    const fromFile = ctx.config.bootstrapFile ? await readAddressList(ctx.config.bootstrapFile, 'bootstrap').catch(() => []) : []
    const peers = [...new Set([...(ctx.config.peers ?? []), ...(ctx.config.bootstrap ?? []), ...fromFile])]
    const node = await createLanNode({
      privateKey: privateKeyFromProtobuf(keyBytes),
      // Every interface by default: LAN peers must reach this node.
      listen: await listenableAddrs(ctx.config.listen ?? ALL_INTERFACES, ctx.log),
      peers,
      mdns: ctx.config.mdns ?? true,
      ...(ctx.config.store ? { storeLimits: ctx.config.store } : {}),
      log: ctx.log,
    })
    ctx.log.info({ peerId: node.peerId, addrs: node.multiaddrs(), peers: peers.length, mdns: ctx.config.mdns ?? true }, 'LAN discovery up')
    return serveDiscovery(ctx, {
      node,
      where: 'heard on the LAN',
      // Every record this node newly holds, heard from a peer or published here, is a watch event candidate.
      watchPresence: (accountId, onPresence) =>
        node.onRecord((r) => {
          if (r.entry.kind === 'presence' && r.entry.presence.accountId === accountId) onPresence(r.entry.presence)
        }),
      // A list refused for holding another one with its seq goes to identity as well, which merges the two.
      watchDeviceList: (accountId, onDeviceList) => {
        const take = (r: { entry: VerifiedEntry }) => {
          if (r.entry.kind === 'device-list' && r.entry.deviceList.accountId === accountId) onDeviceList(r.entry.deviceList, 'lan')
        }
        const stops = [node.onRecord(take), node.onRival(take)]
        return () => {
          for (const stop of stops) stop()
        }
      },
      lookupFresh: (accountId) => node.lookupAccount(accountId, { fresh: true }),
      getValue: (key) => node.getValue(key),
      // The tombstone is held here (and pushed to every peer): deleted, whoever is connected.
      deleteValue: (key, token) => {
        node.deleteValue(key, token)
        return true
      },
    })
  },
})

/** The name the supervisor looks for. */
export const actor = lanDiscoveryActor
