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
import { createDiscoveryNode } from './lib/dht-node.ts'
import { deviceListKey, valueKey } from './lib/keys.ts'
import type { DeviceListBundle, PresenceBundle, VerifiedDeviceList, VerifiedPresence } from './lib/records.ts'

const Multiaddr = z.string().min(1).max(512).regex(/^\//, 'a multiaddr starts with /')
const ConfigSchema = z
  .object({
    listen: z.array(Multiaddr).optional(),
    bootstrap: z.array(Multiaddr).optional(),
    mdns: z.boolean().optional(),
    /** How often the account's device list is published again (DHT storage is soft state). */
    deviceListRefreshMs: z.number().int().positive().optional(),
    /** Life of this device's presence record (identity's default when unset: 1 h); republished at half-life. */
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

/**
 * The discovery actor: runs this node's DHT node (its own libp2p host and PeerId), publishes this device's
 * presence (signed by identity, for the transport's PeerId and addresses) and the account's device list,
 * and answers lookups and watches for the outbox: online, addressChanged and offline events.
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
      log: ctx.log,
    })
    ctx.log.info({ peerId: node.peerId, addrs: node.multiaddrs(), bootstrap: ctx.config.bootstrap?.length ?? 0 }, 'DHT node up')

    // This node's own account: its device list is watched on the DHT, because every device of the account may
    // change it. A list that is not exactly the one identity gave us goes to identity, which merges it.
    let own: { accountId: string; unwatch: () => void } | undefined
    let ownSigs = { deviceList: '', revocations: '' }
    const reportOwn = (list: VerifiedDeviceList, via: string) => {
      const b = list.bundle
      if (b.deviceList.sig === ownSigs.deviceList && (b.revocations?.sig ?? '') === ownSigs.revocations) return
      ctx.publish(discoveryDeviceList, { accountId: list.accountId, deviceList: b.deviceList, ...(b.revocations ? { revocations: b.revocations } : {}) })
      ctx.log.info({ seq: list.seq, via }, "another device list of this node's account seen on the DHT")
    }
    const watchOwn = (accountId: string) => {
      if (own?.accountId === accountId) return
      own?.unwatch()
      own = { accountId, unwatch: node.watch(deviceListKey(accountId), (e) => e.kind === 'device-list' && reportOwn(e.deviceList, e.via)) }
    }

    // What this device publishes: presence for the transport's PeerId and addresses, signed by identity.
    let transport: { peerId: string; addrs: string[] } | undefined
    let published: { seq: number; addrs: string[]; at: number } | null = null
    let publishing: Promise<{ seq: number; addrs: string[] }> | undefined

    /** Publishes the account's device list. When the DHT refuses it because it holds one as new or newer, identity gets that one to merge. */
    const publishDeviceList = async () => {
      const devices = await ctx.bus.request(identityDevices, {}, { timeoutMs: 5000 })
      const accountId = (devices.deviceList.body as { accountId: string }).accountId
      ownSigs = { deviceList: devices.deviceList.sig, revocations: devices.revocations.sig }
      watchOwn(accountId)
      try {
        await node.publishDeviceList({ deviceList: devices.deviceList, revocations: devices.revocations } as unknown as DeviceListBundle)
      } catch (e) {
        const found = await node.lookupDeviceList(accountId).catch(() => undefined)
        if (!found || found.seq < devices.deviceList.seq) throw e
        ctx.log.info({ ours: devices.deviceList.seq, dht: found.seq, err: (e as Error).message }, 'device list refused: the DHT holds another one')
        reportOwn(found, 'publish')
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
      // A device another device of the account revoked is refused by every DHT node: say so instead of retrying.
      const deviceId = (bundle.deviceCert.body as { deviceId: string }).deviceId
      const revoked = (bundle.revocations.body as { devices: Array<{ deviceId: string }> }).devices.some((d) => d.deviceId === deviceId)
      if (!revoked) await node.publishPresence(bundle as unknown as PresenceBundle)
      await publishDeviceList()
      if (revoked) throw new BusError('device_revoked', 'this device was revoked by another device of the account: it publishes no presence')
      published = { seq: bundle.presence.seq, addrs: t.addrs, at: Date.now() }
      ctx.publish(discoveryPublished, published)
      ctx.log.info({ seq: published.seq, addrs: t.addrs.length }, 'presence published')
      return { seq: published.seq, addrs: t.addrs }
    }
    // One publish at a time; callers that come while one runs share it.
    const publish = () => {
      publishing ??= publishNow().finally(() => {
        publishing = undefined
      })
      return publishing
    }
    // Until the first publish works (identity without an account, transport still starting), retry with back-off.
    let retry: NodeJS.Timeout | undefined
    const publishSoon = (waitMs = 250) => {
      clearTimeout(retry)
      retry = setTimeout(() => {
        publish().catch((e: unknown) => {
          const code = e instanceof BusError ? e.code : 'error'
          if (code === 'device_revoked') {
            ctx.log.warn('this device was revoked by another device of the account: presence no longer published')
            return
          }
          ctx.log.debug({ code, err: (e as Error).message }, 'presence not published yet')
          if (!ctx.signal.aborted) publishSoon(Math.min(waitMs * 2, 30_000))
        })
      }, waitMs)
      retry.unref()
    }
    publishSoon(0)
    // Presence records live for a while on the DHT; refresh well before they expire, and after any change.
    const refreshMs = Math.min(ctx.config.deviceListRefreshMs ?? 10 * 60_000, (ctx.config.presenceTtlMs ?? Number.POSITIVE_INFINITY) / 2)
    const refresh = setInterval(() => publishSoon(0), refreshMs)
    refresh.unref()
    await ctx.subscribe(transportAddresses, (e) => {
      transport = { peerId: e.peerId, addrs: e.addrs }
      publishSoon(0)
    })
    for (const evt of [identityAccountCreated, identityDeviceAdded, identityDeviceRevoked, identityDevicesChanged]) await ctx.subscribe(evt, () => publishSoon(0))
    await ctx.subscribe(identityAccountCreated, (e) => watchOwn(e.accountId))

    // Watches: accountId → unwatch, and what each device was last seen at (to tell online from addressChanged).
    const watches = new Map<string, () => void>()
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

    ctx.serve(discoveryPublish, () => publish())

    ctx.serve(discoveryLookup, async ({ accountId }) => {
      const r = await node.lookupAccount(accountId)
      if (!r) throw new BusError(BusErrorCode.NotFound, `no device list found for account ${accountId} on the DHT`)
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
      if (!p) throw new BusError(BusErrorCode.NotFound, `no presence found for device ${deviceId}`)
      return {
        presence: presenceOf(deviceId, p.deviceName, p),
        accountId: p.accountId,
        chain: { deviceCert: p.bundle.deviceCert, peerBinding: p.bundle.peerBinding, ...(p.bundle.revocations ? { revocations: p.bundle.revocations } : {}) },
      }
    })

    ctx.serve(discoveryWatch, async ({ accountId }) => {
      if (!watches.has(accountId)) {
        watches.set(
          accountId,
          node.watch({ accountId }, (e) => {
            if (e.kind === 'presence' && e.presence.accountId === accountId) onPresence(e.presence)
          }),
        )
      }
      const r = await node.lookupAccount(accountId).catch(() => undefined)
      for (const d of r?.devices ?? []) if (d.presence) onPresence(d.presence)
      return { watching: true as const, devices: (r?.devices ?? []).map((d) => presenceOf(d.deviceId, d.name, d.presence)) }
    })

    ctx.serve(discoveryUnwatch, ({ accountId }) => {
      watches.get(accountId)?.()
      watches.delete(accountId)
      return { watching: false as const }
    })

    ctx.serve(discoveryPutValue, async ({ key, value, ttlMs, deleteToken }) => {
      const r = await node.putValue(valueKey(key), new Uint8Array(Buffer.from(value, 'base64')), {
        ttlMs,
        ...(deleteToken ? { deleteToken: new Uint8Array(Buffer.from(deleteToken, 'base64url')) } : {}),
      })
      return { key, expiresAt: r.expiresAt, deleteToken: b64u(r.deleteToken), stored: r.stored }
    })

    ctx.serve(discoveryGetValue, async ({ key }) => {
      const v = await node.getValue(valueKey(key))
      if (!v) throw new BusError(BusErrorCode.NotFound, `no value under ${key} (never stored, expired or deleted)`)
      return { key, value: b64(v), expiresAt: 0 }
    })

    ctx.serve(discoveryDeleteValue, async ({ key, deleteToken }) => {
      const r = await node.deleteValue(valueKey(key), new Uint8Array(Buffer.from(deleteToken, 'base64url')))
      return { deleted: r.stored > 0 }
    })

    ctx.serve(
      discoveryInfo,
      () => {
        const s = node.stats()
        return {
          peerId: node.peerId,
          addrs: node.multiaddrs(),
          peers: s.peers,
          routingTableSize: s.routingTableSize,
          storedRecords: s.storedRecords,
          subscriptions: s.subscriptions,
          watching: [...watches.keys()],
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
        own?.unwatch()
        for (const unwatch of watches.values()) unwatch()
        await node.stop()
      },
      health: () => ({ peerId: node.peerId, ...node.stats(), watching: watches.size, published: published?.seq ?? null }),
    }
  },
})
