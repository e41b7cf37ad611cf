/**
 * LAN-only discovery (`@baran/discovery/lan`): the discovery contract without a DHT, for air-gapped networks.
 * Peers are met directly — by mDNS on the local network, or from a static `peers` list — and gossip the signed
 * presence and device-list bundles (and opaque values) they hold over `/baran/lan/1.0.0` (LanNode). Each record
 * is verified with the same records code as the DHT's storing nodes; a lookup is answered from what this node
 * heard, asking its connected peers when it holds nothing (or when asked `fresh`); watched devices raise online /
 * addressChanged / offline events as their records arrive.
 *
 * Plug it in: `{ "discovery": { "mdns": true }, "actors": { "discovery": "@baran/discovery/lan" } }`.
 */
import { defineActor, loadOrCreateSecret } from '@baran/actor'
import {
  BusError,
  BusErrorCode,
  type DevicePresence,
  discoveryAddressChanged,
  discoveryContracts,
  discoveryDeleteValue,
  discoveryDeviceList,
  discoveryGetValue,
  discoveryInfo,
  discoveryLookup,
  discoveryLookupDevice,
  discoveryOffline,
  discoveryOnline,
  discoveryPublish,
  discoveryPublished,
  discoveryPutValue,
  discoveryUnwatch,
  discoveryWatch,
  identityAccountCreated,
  identityDeviceAdded,
  identityDeviceRevoked,
  identityDevices,
  identityDevicesChanged,
  identitySignPresence,
  transportAddresses,
  transportInfo,
} from '@baran/bus'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { join } from 'node:path'
import { z } from 'zod'
import { valueKey } from './lib/keys.ts'
import { createLanNode } from './lib/lan-node.ts'
import type { DeviceListBundle, PresenceBundle, VerifiedDeviceList, VerifiedPresence } from './lib/records.ts'

const Multiaddr = z.string().min(1).max(512).regex(/^\//, 'a multiaddr starts with /')
const ConfigSchema = z
  .object({
    listen: z.array(Multiaddr).optional(),
    /** LAN peers met without mDNS (multiaddrs with /p2p/). */
    peers: z.array(Multiaddr).optional(),
    /** The node's `discovery.bootstrap` (and the local network's): taken as more LAN peers. */
    bootstrap: z.array(Multiaddr).optional(),
    /** Find peers on the local network with mDNS. @default true */
    mdns: z.boolean().optional(),
    /** How often the account's device list is published again. @default 600000 */
    deviceListRefreshMs: z.number().int().positive().optional(),
    /** Life of this device's presence record (identity's default when unset); republished at half-life. */
    presenceTtlMs: z.number().int().min(1000).max(86_400_000).optional(),
  })
  .strict()

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')
const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url')

function presenceOf(deviceId: string, name: string | undefined, p: VerifiedPresence | undefined): DevicePresence {
  return {
    deviceId,
    ...(name === undefined ? {} : { name }),
    online: p !== undefined,
    addrs: p?.addrs ?? [],
    ...(p ? { peerId: p.peerId, seq: p.seq, expiresAt: p.expiresAt } : {}),
  }
}

export const lanDiscoveryActor = defineActor({
  name: 'discovery',
  version: '0.1.0',
  implementation: '@baran/discovery/lan',
  contractVersion: 1,
  contracts: discoveryContracts,
  config: ConfigSchema,
  async start(ctx) {
    const keyBytes = await loadOrCreateSecret(join(ctx.dataDir, 'discovery', 'peer.key'), async () => privateKeyToProtobuf(await generateKeyPair('Ed25519')))
    const peers = [...(ctx.config.peers ?? []), ...(ctx.config.bootstrap ?? [])]
    const node = await createLanNode({
      privateKey: privateKeyFromProtobuf(keyBytes),
      ...(ctx.config.listen ? { listen: ctx.config.listen } : {}),
      peers,
      mdns: ctx.config.mdns ?? true,
      log: ctx.log,
    })
    ctx.log.info({ peerId: node.peerId, addrs: node.multiaddrs(), peers: peers.length, mdns: ctx.config.mdns ?? true }, 'LAN discovery up')

    // This node's own account: a device list other than the one identity gave us goes to identity to merge.
    let ownAccount: string | undefined
    let ownSigs = { deviceList: '', revocations: '' }
    const reportOwn = (list: VerifiedDeviceList) => {
      const b = list.bundle
      if (b.deviceList.sig === ownSigs.deviceList && (b.revocations?.sig ?? '') === ownSigs.revocations) return
      ctx.publish(discoveryDeviceList, { accountId: list.accountId, deviceList: b.deviceList, ...(b.revocations ? { revocations: b.revocations } : {}) })
    }

    let transport: { peerId: string; addrs: string[] } | undefined
    let published: { seq: number; addrs: string[]; at: number } | null = null
    let publishing: Promise<{ seq: number; addrs: string[] }> | undefined

    const publishDeviceList = async () => {
      const devices = await ctx.bus.request(identityDevices, {}, { timeoutMs: 5000 })
      ownAccount = (devices.deviceList.body as { accountId: string }).accountId
      ownSigs = { deviceList: devices.deviceList.sig, revocations: devices.revocations.sig }
      try {
        node.publishDeviceList({ deviceList: devices.deviceList, revocations: devices.revocations } as unknown as DeviceListBundle)
      } catch (e) {
        // Refused because this node heard a newer list: identity gets that one to merge.
        const found = await node.lookupDeviceList(ownAccount).catch(() => undefined)
        if (!found || found.seq < devices.deviceList.seq) throw e
        reportOwn(found)
      }
    }

    const publishNow = async (): Promise<{ seq: number; addrs: string[] }> => {
      if (!transport) {
        const info = await ctx.bus.request(transportInfo, {}, { timeoutMs: 3000 })
        transport = { peerId: info.peerId, addrs: info.addrs }
      }
      const t = transport
      const ttl = ctx.config.presenceTtlMs === undefined ? {} : { ttlMs: ctx.config.presenceTtlMs }
      const bundle = await ctx.bus.request(identitySignPresence, { peerId: t.peerId, addrs: t.addrs, ...ttl }, { timeoutMs: 5000 })
      const deviceId = (bundle.deviceCert.body as { deviceId: string }).deviceId
      const revoked = (bundle.revocations.body as { devices: Array<{ deviceId: string }> }).devices.some((d) => d.deviceId === deviceId)
      if (!revoked) node.publishPresence(bundle as unknown as PresenceBundle)
      await publishDeviceList()
      if (revoked) throw new BusError('device_revoked', 'this device was revoked by another device of the account: it publishes no presence')
      published = { seq: bundle.presence.seq, addrs: t.addrs, at: Date.now() }
      ctx.publish(discoveryPublished, published)
      return { seq: published.seq, addrs: t.addrs }
    }
    const publish = () => {
      publishing ??= publishNow().finally(() => {
        publishing = undefined
      })
      return publishing
    }
    let retry: NodeJS.Timeout | undefined
    const publishSoon = (waitMs = 250) => {
      clearTimeout(retry)
      retry = setTimeout(() => {
        publish().catch((e: unknown) => {
          const code = e instanceof BusError ? e.code : 'error'
          if (code === 'device_revoked') return
          ctx.log.debug({ code, err: (e as Error).message }, 'presence not published yet')
          if (!ctx.signal.aborted) publishSoon(Math.min(waitMs * 2, 30_000))
        })
      }, waitMs)
      retry.unref()
    }
    publishSoon(0)
    const refreshMs = Math.min(ctx.config.deviceListRefreshMs ?? 10 * 60_000, (ctx.config.presenceTtlMs ?? Number.POSITIVE_INFINITY) / 2)
    const refresh = setInterval(() => publishSoon(0), refreshMs)
    refresh.unref()
    await ctx.subscribe(transportAddresses, (e) => {
      transport = { peerId: e.peerId, addrs: e.addrs }
      publishSoon(0)
    })
    for (const evt of [identityAccountCreated, identityDeviceAdded, identityDeviceRevoked, identityDevicesChanged]) await ctx.subscribe(evt, () => publishSoon(0))

    // Watches: what each watched device was last seen at (to tell online from addressChanged, and to expire it).
    const watches = new Set<string>()
    const lastSeen = new Map<string, { addrs: string; seq: number; expiresAt: number; accountId: string }>()
    const expiry = setInterval(() => {
      const now = Date.now()
      for (const [deviceId, seen] of lastSeen) {
        if (seen.expiresAt <= now) {
          lastSeen.delete(deviceId)
          ctx.publish(discoveryOffline, { accountId: seen.accountId, deviceId, at: now })
        }
      }
    }, 1000)
    expiry.unref()
    const onPresence = (p: VerifiedPresence) => {
      const before = lastSeen.get(p.deviceId)
      if (before && before.seq >= p.seq) return
      const addrs = [...p.addrs].sort().join(' ')
      lastSeen.set(p.deviceId, { addrs, seq: p.seq, expiresAt: p.expiresAt, accountId: p.accountId })
      const body = { accountId: p.accountId, deviceId: p.deviceId, peerId: p.peerId, addrs: p.addrs, seq: p.seq, at: Date.now() }
      ctx.publish(before && before.addrs !== addrs ? discoveryAddressChanged : discoveryOnline, body)
    }
    // Every record this node newly holds, heard from a peer or published here, is a watch event candidate.
    const offRecords = node.onRecord((r) => {
      if (r.entry.kind === 'presence' && watches.has(r.entry.presence.accountId)) onPresence(r.entry.presence)
      if (r.entry.kind === 'device-list' && r.entry.deviceList.accountId === ownAccount) reportOwn(r.entry.deviceList)
    })

    ctx.serve(discoveryPublish, () => publish())

    ctx.serve(discoveryLookup, async ({ accountId, fresh }) => {
      const r = await node.lookupAccount(accountId, { fresh: fresh === true })
      if (!r) throw new BusError(BusErrorCode.NotFound, `no device list of account ${accountId} heard on the LAN`)
      return {
        accountId,
        devices: r.devices.map((d) => presenceOf(d.deviceId, d.name, d.presence)),
        revoked: r.deviceList.revocations?.devices ?? [],
        deviceList: r.deviceList.bundle.deviceList,
        ...(r.deviceList.bundle.revocations ? { revocations: r.deviceList.bundle.revocations } : {}),
      }
    })

    ctx.serve(discoveryLookupDevice, async ({ deviceId }) => {
      const p = await node.lookupPresence(deviceId)
      if (!p) throw new BusError(BusErrorCode.NotFound, `no presence of device ${deviceId} heard on the LAN`)
      return {
        presence: presenceOf(deviceId, p.deviceName, p),
        accountId: p.accountId,
        chain: { deviceCert: p.bundle.deviceCert, peerBinding: p.bundle.peerBinding, ...(p.bundle.revocations ? { revocations: p.bundle.revocations } : {}) },
      }
    })

    ctx.serve(discoveryWatch, async ({ accountId }) => {
      watches.add(accountId)
      const r = await node.lookupAccount(accountId).catch(() => undefined)
      for (const d of r?.devices ?? []) if (d.presence) onPresence(d.presence)
      return { watching: true as const, devices: (r?.devices ?? []).map((d) => presenceOf(d.deviceId, d.name, d.presence)) }
    })

    ctx.serve(discoveryUnwatch, ({ accountId }) => {
      watches.delete(accountId)
      return { watching: false as const }
    })

    ctx.serve(discoveryPutValue, ({ key, value, ttlMs, deleteToken }) => {
      const r = node.putValue(valueKey(key), new Uint8Array(Buffer.from(value, 'base64')), {
        ttlMs,
        ...(deleteToken ? { deleteToken: new Uint8Array(Buffer.from(deleteToken, 'base64url')) } : {}),
      })
      return { key, expiresAt: r.expiresAt, deleteToken: b64u(r.deleteToken), stored: r.stored }
    })

    ctx.serve(discoveryGetValue, async ({ key }) => {
      const v = await node.getValue(valueKey(key))
      if (!v) throw new BusError(BusErrorCode.NotFound, `no value under ${key} (never stored, expired or deleted)`)
      return { key, value: b64(v.data), expiresAt: v.expiresAt }
    })

    ctx.serve(discoveryDeleteValue, ({ key, deleteToken }) => {
      node.deleteValue(valueKey(key), new Uint8Array(Buffer.from(deleteToken, 'base64url')))
      return { deleted: true }
    })

    ctx.serve(
      discoveryInfo,
      () => {
        const s = node.stats()
        return {
          peerId: node.peerId,
          addrs: node.multiaddrs(),
          peers: s.peers,
          routingTableSize: 0,
          storedRecords: s.storedRecords,
          subscriptions: 0,
          watching: [...watches],
          published,
        }
      },
      { whenDegraded: 'serve' },
    )

    return {
      async stop() {
        clearTimeout(retry)
        clearInterval(refresh)
        clearInterval(expiry)
        offRecords()
        await node.stop()
      },
      health: () => ({ peerId: node.peerId, ...node.stats(), watching: watches.size, published: published?.seq ?? null }),
    }
  },
})

/** The name the supervisor looks for. */
export const actor = lanDiscoveryActor
