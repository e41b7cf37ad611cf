/**
 * The discovery contract on the bus, once for every implementation: publishing this device's presence
 * and the account's device list (with retries, refresh, and republish when the DHT's routing table
 * grows), watches with online / addressChanged / offline events, lookups, opaque values and info.
 * An implementation hands serveDiscovery a DiscoveryBackend (its node, plus what it does its own way)
 * from its actor's start (actor.ts: the DHT; lan-actor.ts: LAN gossip).
 */
import { type ActorContext, Backoff, periodic, type RunningActor } from '@baran/actor'
import {
  BusError,
  BusErrorCode,
  type DevicePresence,
  discoveryAddressChanged,
  discoveryDeleteValue,
  discoveryDeviceList,
  discoveryGetValue,
  discoveryInfo,
  discoveryLookup,
  discoveryLookupDevice,
  discoveryLookupDeviceList,
  discoveryMailboxDelete,
  discoveryMailboxFetch,
  discoveryMailboxPut,
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
import type { AccountLookup } from './lib/account.ts'
import { valueKey } from './lib/keys.ts'
import type { FetchRequest } from './lib/mailbox-fetch-auth.ts'
import type { DeleteRequest, MailboxItem } from './lib/mailbox-item.ts'
import { GrowthTrigger } from './lib/publisher.ts'
import type { DeviceListBundle, PresenceBundle, VerifiedDeviceList, VerifiedPresence } from './lib/records.ts'
import type { StoreFigures } from './lib/store-quota.ts'

/** What both nodes share, as they are: DiscoveryNode (the DHT) and LanNode fit this. */
export interface DiscoveryNodeLike {
  readonly peerId: string
  multiaddrs(): string[]
  /** Sync or async: LanNode stores and gossips at once, DiscoveryNode waits for the storing peers. */
  publishPresence(bundle: PresenceBundle): unknown
  publishDeviceList(bundle: DeviceListBundle): unknown
  lookupPresence(deviceId: string): Promise<VerifiedPresence | undefined>
  lookupDeviceList(accountId: string, opts?: { fresh?: boolean }): Promise<VerifiedDeviceList | undefined>
  lookupAccount(accountId: string): Promise<AccountLookup | undefined>
  putValue(
    key: string,
    value: Uint8Array,
    opts: { ttlMs?: number; deleteToken?: Uint8Array },
  ): Promise<{ stored: number; deleteToken: Uint8Array; expiresAt: number }> | { stored: number; deleteToken: Uint8Array; expiresAt: number }
  /** Spread into the actor's health; routingTableSize and subscriptions go into discovery.info (0 when absent). */
  stats(): { peers: number; storedRecords: number; routingTableSize?: number; subscriptions?: number; store?: StoreFigures }
  /** A DHT's routing table: with it, presence and device list are published again when the table has grown. */
  onRoutingTableChange?(listener: (size: number) => void): () => void
  /** Bootstrap peers are configured and none is reachable (a DHT); the actor is degraded while it is true. */
  readonly cutOff?: boolean
  stop(): Promise<void>
}

/** What serveDiscovery needs: the node, and what each implementation does its own way. */
export interface DiscoveryBackend {
  node: DiscoveryNodeLike
  /** Where lookups look, for not_found messages: 'found on the DHT', 'heard on the LAN'. */
  where: string
  /** The watch source for presences: calls `onPresence` with each one of the account's devices this node learns of; returns a stop. */
  watchPresence(accountId: string, onPresence: (p: VerifiedPresence) => void): () => void
  /** The same for the account's device lists (`via`: how it came, for the log). */
  watchDeviceList(accountId: string, onDeviceList: (list: VerifiedDeviceList, via: string) => void): () => void
  /** A lookup the caller asked to be `fresh` (LanNode asks its peers again, the DHT reuses no list). @default node.lookupAccount */
  lookupFresh?(accountId: string): Promise<AccountLookup | undefined>
  /** The live value under a key; expiresAt 0 when the node does not know it. */
  getValue(key: string): Promise<{ data: Uint8Array; expiresAt: number } | undefined>
  /** Replace a value with a tombstone; whether it counts as deleted. */
  deleteValue(key: string, deleteToken: Uint8Array): Promise<boolean> | boolean
  /** The DHT mailbox (docs/mailbox.md); absent: the mailbox verbs answer `unavailable` (LAN gossip keeps no mailboxes). */
  mailbox?: {
    put(mailbox: string, envelope: Uint8Array): Promise<{ mailbox: string; hash: string; stored: number; attempted: number }>
    fetch(mailbox: string, auth: FetchRequest): Promise<MailboxItem[]>
    delete(request: DeleteRequest): Promise<{ deleted: number; attempted: number }>
  }
}

/** Envelope bytes one mailboxFetch reply carries at most (base64 makes it 4/3 of that on the bus). */
const MAILBOX_PAGE_BYTES = 512 * 1024

/** The degraded reason while the node reaches none of its bootstrap peers (what `baran status` shows). */
export const CUT_OFF_REASON = 'no DHT peer reachable: none of the bootstrap peers answers'

/**
 * While only cut off, requests are still served: a lookup or publish dials the peers it knows, which is how the
 * node may find its way back, and an answer from this node's own store is better than none. Any other reason to be
 * degraded refuses them with `unavailable`, as every actor does.
 */
const BEST_EFFORT = { servedWhileDegradedBy: [CUT_OFF_REASON] } as const

/** The config every discovery implementation shares. */
export interface ServeConfig {
  /** How often the account's device list is published again. @default 600000 */
  deviceListRefreshMs?: number
  /** Life of this device's presence record (identity's default when unset); republished at half-life. */
  presenceTtlMs?: number
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')
const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url')
const fromB64u = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'))

function presenceOf(deviceId: string, name: string | undefined, p: VerifiedPresence | undefined): DevicePresence {
  return {
    deviceId,
    ...(name === undefined ? {} : { name }),
    online: p !== undefined,
    addrs: p?.addrs ?? [],
    ...(p ? { peerId: p.peerId, seq: p.seq, expiresAt: p.expiresAt } : {}),
  }
}

/** A found device list as `lookup` and `lookupDeviceList` answer it: the signed records and the devices they revoke. */
function deviceListReply(list: VerifiedDeviceList) {
  return {
    revoked: list.revocations?.devices ?? [],
    deviceList: list.bundle.deviceList,
    ...(list.bundle.revocations ? { revocations: list.bundle.revocations } : {}),
  }
}

/**
 * Serves the discovery contract from `backend` on the actor's bus and keeps this device published:
 * presence for the transport's PeerId and addresses (signed by identity) and the account's device
 * list, at start (retried with back-off until it works), on refresh, on identity and transport
 * events, and when the routing table has grown (GrowthTrigger). Returns what the actor's start returns.
 */
export async function serveDiscovery(ctx: ActorContext<ServeConfig>, backend: DiscoveryBackend): Promise<RunningActor> {
  const { node, where } = backend

  // This node's own account: its device list is watched, because every device of the account may change it.
  // A list that is not exactly the one identity gave us goes to identity, which merges it.
  let own: { accountId: string; unwatch: () => void } | undefined
  let ownSigs = { deviceList: '', revocations: '' }
  const reportOwn = (list: VerifiedDeviceList, via: string) => {
    const b = list.bundle
    if (b.deviceList.sig === ownSigs.deviceList && (b.revocations?.sig ?? '') === ownSigs.revocations) return
    ctx.publish(discoveryDeviceList, { accountId: list.accountId, deviceList: b.deviceList, ...(b.revocations ? { revocations: b.revocations } : {}) })
    ctx.log.info({ seq: list.seq, via }, "another device list of this node's account seen")
  }
  const watchOwn = (accountId: string) => {
    if (own?.accountId === accountId) return
    own?.unwatch()
    own = { accountId, unwatch: backend.watchDeviceList(accountId, reportOwn) }
  }

  // What this device publishes: presence for the transport's PeerId and addresses, signed by identity.
  let transport: { peerId: string; addrs: string[] } | undefined
  let published: { seq: number; addrs: string[]; at: number } | null = null
  let publishing: Promise<{ seq: number; addrs: string[] }> | undefined

  /** Publishes the account's device list. When the network refuses it because it holds one as new or newer, identity gets that one to merge. */
  const publishDeviceList = async () => {
    const devices = await ctx.bus.request(identityDevices, {}, { timeoutMs: 5000 })
    const accountId = devices.deviceList.body.accountId
    ownSigs = { deviceList: devices.deviceList.sig, revocations: devices.revocations.sig }
    watchOwn(accountId)
    try {
      await node.publishDeviceList({ deviceList: devices.deviceList, revocations: devices.revocations })
    } catch (e) {
      const found = await node.lookupDeviceList(accountId, { fresh: true }).catch(() => undefined)
      if (!found || found.seq < devices.deviceList.seq) throw e
      ctx.log.info({ ours: devices.deviceList.seq, found: found.seq, err: (e as Error).message }, 'device list refused: the network holds another one')
      reportOwn(found, 'publish')
    }
  }

  // Republish when the DHT's routing table has grown since the last publish (none on the LAN).
  const onTable = node.onRoutingTableChange?.bind(node)
  const growth = onTable && new GrowthTrigger({ size: () => node.stats().routingTableSize ?? 0, onChange: onTable, republish: () => publishSoon(0) })

  const publishNow = async (): Promise<{ seq: number; addrs: string[] }> => {
    const tableSize = growth?.size()
    if (!transport) {
      const info = await ctx.bus.request(transportInfo, {}, { timeoutMs: 3000 })
      transport = { peerId: info.peerId, addrs: info.addrs }
    }
    const t = transport
    const ttl = ctx.config.presenceTtlMs === undefined ? {} : { ttlMs: ctx.config.presenceTtlMs }
    const bundle = await ctx.bus.request(identitySignPresence, { peerId: t.peerId, addrs: t.addrs, ...ttl }, { timeoutMs: 5000 })
    // A device another device of the account revoked is refused by every node: say so instead of retrying.
    const deviceId = bundle.deviceCert.body.deviceId
    const revoked = bundle.revocations.body.devices.some((d) => d.deviceId === deviceId)
    // Where a publish begins (delivery.bench starts its offline → online clock here).
    if (!revoked) ctx.log.info({ seq: bundle.presence.seq }, 'presence publishing')
    if (!revoked) await node.publishPresence(bundle)
    await publishDeviceList()
    if (revoked) throw new BusError('device_revoked', 'this device was revoked by another device of the account: it publishes no presence')
    published = { seq: bundle.presence.seq, addrs: t.addrs, at: Date.now() }
    if (tableSize !== undefined && !ctx.signal.aborted) growth?.published(tableSize)
    ctx.publish(discoveryPublished, published)
    ctx.log.info({ seq: published.seq, addrs: t.addrs.length }, 'presence published')
    return { seq: published.seq, addrs: t.addrs }
  }
  // One publish at a time. A caller that comes while one runs gets one more after it (shared by every caller
  // meanwhile): the running one may have read the device list before the change the caller was told about (joining
  // it left a list merged during a publish unpublished until the next refresh, 10 min later).
  let queued: Promise<{ seq: number; addrs: string[] }> | undefined
  const publish = (): Promise<{ seq: number; addrs: string[] }> => {
    if (publishing === undefined) {
      publishing = publishNow().finally(() => {
        publishing = undefined
      })
      return publishing
    }
    queued ??= publishing
      .catch(() => undefined)
      .then(() => {
        queued = undefined
        return publish()
      })
    return queued
  }
  // Until a publish works (identity without an account, transport still starting), retry with back-off: 250 ms
  // doubling to 30 s. Every other reason to publish (an event, the refresh) publishes at once and starts it over.
  let retry: NodeJS.Timeout | undefined
  const retryBackoff = new Backoff({ initialMs: 250, maxMs: 30_000 })
  const publishSoon = (waitMs = 0, retrying = false) => {
    if (!retrying) retryBackoff.reset()
    clearTimeout(retry)
    retry = setTimeout(() => {
      publish().catch((e: unknown) => {
        const code = e instanceof BusError ? e.code : 'error'
        if (code === 'device_revoked') {
          ctx.log.warn('this device was revoked by another device of the account: presence no longer published')
          return
        }
        ctx.log.debug({ code, err: (e as Error).message }, 'presence not published yet')
        if (!ctx.signal.aborted) publishSoon(retryBackoff.next(), true)
      })
    }, waitMs)
    retry.unref()
  }
  publishSoon(0)
  growth?.start()
  // Presence records live for a while; refresh well before they expire, and after any change.
  const refreshMs = Math.min(ctx.config.deviceListRefreshMs ?? 10 * 60_000, (ctx.config.presenceTtlMs ?? Number.POSITIVE_INFINITY) / 2)
  const refresh = periodic(() => publishSoon(0), refreshMs, { signal: ctx.signal, log: ctx.log, name: 'presence refresh' })
  await ctx.subscribe(transportAddresses, (e) => {
    transport = { peerId: e.peerId, addrs: e.addrs }
    publishSoon(0)
  })
  for (const evt of [identityAccountCreated, identityDeviceAdded, identityDeviceRevoked, identityDevicesChanged]) await ctx.subscribe(evt, () => publishSoon(0))
  await ctx.subscribe(identityAccountCreated, (e) => watchOwn(e.accountId))

  // Watches: accountId → unwatch, and what each device was last seen at (to tell online from addressChanged).
  const watches = new Map<string, () => void>()
  const lastSeen = new Map<string, { addrs: string; seq: number; expiresAt: number; accountId: string }>()
  const expiry = periodic(
    () => {
      const now = Date.now()
      for (const [deviceId, seen] of lastSeen) {
        if (seen.expiresAt <= now) {
          lastSeen.delete(deviceId)
          ctx.publish(discoveryOffline, { accountId: seen.accountId, deviceId, at: now })
        }
      }
    },
    1000,
    { signal: ctx.signal, log: ctx.log, name: 'presence expiry' },
  )
  const onPresence = (p: VerifiedPresence) => {
    const before = lastSeen.get(p.deviceId)
    if (before && before.seq >= p.seq) return
    const addrs = [...p.addrs].sort().join(' ')
    lastSeen.set(p.deviceId, { addrs, seq: p.seq, expiresAt: p.expiresAt, accountId: p.accountId })
    const body = { accountId: p.accountId, deviceId: p.deviceId, peerId: p.peerId, addrs: p.addrs, seq: p.seq, at: Date.now() }
    ctx.publish(before && before.addrs !== addrs ? discoveryAddressChanged : discoveryOnline, body)
  }

  ctx.serve(discoveryPublish, () => publish(), BEST_EFFORT)

  ctx.serve(discoveryLookup, async ({ accountId, fresh }) => {
    const r = fresh === true && backend.lookupFresh ? await backend.lookupFresh(accountId) : await node.lookupAccount(accountId)
    if (!r) throw new BusError(BusErrorCode.NotFound, `no device list of account ${accountId} ${where}`)
    return {
      accountId,
      devices: r.devices.map((d) => ({
        ...presenceOf(d.deviceId, d.name, d.presence),
        ...(d.presence ? { deviceCert: d.presence.bundle.deviceCert } : {}),
      })),
      ...deviceListReply(r.deviceList),
    }
  }, BEST_EFFORT)

  ctx.serve(discoveryLookupDeviceList, async ({ accountId }) => {
    const list = await node.lookupDeviceList(accountId)
    if (!list) throw new BusError(BusErrorCode.NotFound, `no device list of account ${accountId} ${where}`)
    return { accountId, ...deviceListReply(list) }
  }, BEST_EFFORT)

  ctx.serve(discoveryLookupDevice, async ({ deviceId }) => {
    const p = await node.lookupPresence(deviceId)
    if (!p) throw new BusError(BusErrorCode.NotFound, `no presence of device ${deviceId} ${where}`)
    return {
      presence: presenceOf(deviceId, p.deviceName, p),
      accountId: p.accountId,
      chain: { deviceCert: p.bundle.deviceCert, peerBinding: p.bundle.peerBinding, ...(p.bundle.revocations ? { revocations: p.bundle.revocations } : {}) },
    }
  }, BEST_EFFORT)

  ctx.serve(discoveryWatch, async ({ accountId }) => {
    if (!watches.has(accountId)) watches.set(accountId, backend.watchPresence(accountId, onPresence))
    const r = await node.lookupAccount(accountId).catch(() => undefined)
    for (const d of r?.devices ?? []) if (d.presence) onPresence(d.presence)
    return { watching: true as const, devices: (r?.devices ?? []).map((d) => presenceOf(d.deviceId, d.name, d.presence)) }
  }, BEST_EFFORT)

  ctx.serve(discoveryUnwatch, ({ accountId }) => {
    watches.get(accountId)?.()
    watches.delete(accountId)
    return { watching: false as const }
  }, BEST_EFFORT)

  ctx.serve(discoveryPutValue, async ({ key, value, ttlMs, deleteToken }) => {
    const r = await node.putValue(valueKey(key), new Uint8Array(Buffer.from(value, 'base64')), { ttlMs, ...(deleteToken ? { deleteToken: fromB64u(deleteToken) } : {}) })
    return { key, expiresAt: r.expiresAt, deleteToken: b64u(r.deleteToken), stored: r.stored }
  }, BEST_EFFORT)

  ctx.serve(discoveryGetValue, async ({ key }) => {
    const v = await backend.getValue(valueKey(key))
    if (!v) throw new BusError(BusErrorCode.NotFound, `no value under ${key} (never stored, expired or deleted)`)
    return { key, value: b64(v.data), expiresAt: v.expiresAt }
  }, BEST_EFFORT)

  ctx.serve(discoveryDeleteValue, async ({ key, deleteToken }) => ({ deleted: await backend.deleteValue(valueKey(key), fromB64u(deleteToken)) }), BEST_EFFORT)

  const mailbox = () => {
    if (backend.mailbox === undefined) throw new BusError(BusErrorCode.Unavailable, `this discovery (${backend.where}) keeps no DHT mailbox`)
    return backend.mailbox
  }
  ctx.serve(discoveryMailboxPut, ({ mailbox: box, envelope }) => mailbox().put(box, new Uint8Array(Buffer.from(envelope, 'base64'))), BEST_EFFORT)
  ctx.serve(discoveryMailboxFetch, async ({ mailbox: box, skip = 0, auth }) => {
    const all = await mailbox().fetch(box, auth as FetchRequest)
    const items = []
    let bytes = 0
    let i = skip
    for (; i < all.length; i++) {
      const item = all[i] as MailboxItem
      if (items.length > 0 && bytes + item.envelope.length > MAILBOX_PAGE_BYTES) break
      bytes += item.envelope.length
      const { hash, senderAccount, senderDevice, envelopeId, sentAt, expiresAt } = item
      items.push({ hash, envelope: b64(item.envelope), senderAccount, senderDevice, envelopeId, sentAt, expiresAt })
    }
    return { items, total: all.length, ...(i < all.length ? { next: i } : {}) }
  }, BEST_EFFORT)
  ctx.serve(discoveryMailboxDelete, ({ request }) => mailbox().delete(request as DeleteRequest), BEST_EFFORT)

  ctx.serve(
    discoveryInfo,
    () => {
      const s = node.stats()
      return {
        peerId: node.peerId,
        addrs: node.multiaddrs(),
        peers: s.peers,
        routingTableSize: s.routingTableSize ?? 0,
        storedRecords: s.storedRecords,
        subscriptions: s.subscriptions ?? 0,
        watching: [...watches.keys()],
        published,
        ...(s.store ? { store: s.store } : {}),
      }
    },
    { whenDegraded: 'serve' },
  )

  // Honest health: with bootstrap peers and none reachable, this node finds nobody: degraded until a peer answers.
  let cutOff = false
  const checkReach = () => {
    const now = node.cutOff === true
    if (now === cutOff || ctx.signal.aborted) return
    cutOff = now
    if (now) {
      ctx.log.warn(node.stats(), CUT_OFF_REASON)
      ctx.degrade(CUT_OFF_REASON)
    } else {
      ctx.log.info(node.stats(), 'DHT peers reachable again')
      ctx.recover(CUT_OFF_REASON)
      // Whatever was published while cut off reached nobody.
      publishSoon(0)
    }
  }
  checkReach()
  const reach = periodic(checkReach, 1000, { signal: ctx.signal, log: ctx.log, name: 'reachability check' })

  return {
    async stop() {
      reach.stop()
      clearTimeout(retry)
      refresh.stop()
      expiry.stop()
      growth?.stop()
      own?.unwatch()
      for (const unwatch of watches.values()) unwatch()
      await node.stop()
    },
    health: () => ({ peerId: node.peerId, ...node.stats(), watching: watches.size, published: published?.seq ?? null }),
  }
}
