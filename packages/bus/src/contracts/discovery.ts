import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'
import { discoveryMailboxContracts } from './discovery-mailbox.ts'
import { Base64Schema, DeviceCertWireSchema, DeviceListWireSchema, IdSchema, MultiaddrSchema, PeerBindingWireSchema, RevocationsWireSchema } from './common.ts'

/** The discovery actor: Baran's Kademlia DHT, signed presence, listen (watch), opaque values. */
const A = 'discovery'

export const DevicePresenceSchema = z.object({
  deviceId: IdSchema,
  name: z.string().optional(),
  online: z.boolean(),
  peerId: z.string().optional(),
  addrs: z.array(MultiaddrSchema),
  seq: z.number().int().optional(),
  expiresAt: z.number().int().optional(),
})
export type DevicePresence = z.infer<typeof DevicePresenceSchema>

const Count = z.number().int().nonnegative()
/** The record store a DHT node keeps for others: what it holds, its bounds, and what it refused past them. */
export const DiscoveryStoreSchema = z.object({
  /** Memory the records take, as the store charges it (bytes received, what they decode to, bookkeeping). */
  bytes: Count,
  items: Count,
  limits: z.object({ maxBytes: Count, maxItems: Count, maxBytesPerPeer: Count, maxItemsPerPeer: Count, maxKeyBytes: Count }),
  /** Records refused, per bound (and records of kinds Baran does not keep). */
  refusals: z.object({ storeFull: Count, tooManyRecords: Count, peerQuota: Count, keyQuota: Count, unsupported: Count }),
  /** Records dropped to make room for one that ranks above them (or for a lighter uploader). */
  evictions: Count,
  /** Uploading peers refused for their quota that still hold records. */
  peersOverQuota: Count,
  /** Peers holding records here. */
  uploaders: Count,
})
export type DiscoveryStore = z.infer<typeof DiscoveryStoreSchema>

export const discoveryInfo = contract({
  actor: A,
  verb: 'info',
  request: z.object({}).strict().optional(),
  reply: z.object({
    peerId: z.string(),
    addrs: z.array(MultiaddrSchema),
    peers: z.number().int(),
    routingTableSize: z.number().int(),
    storedRecords: z.number().int(),
    subscriptions: z.number().int(),
    watching: z.array(IdSchema),
    published: z.object({ seq: z.number().int(), addrs: z.array(MultiaddrSchema), at: z.number().int() }).nullable(),
    /** The record store's figures (absent from an implementation that keeps no store for others). */
    store: DiscoveryStoreSchema.optional(),
  }),
  callers: ['*'],
  description: 'DHT peer ID and addresses, routing table size, what this node publishes and watches',
})

export const discoveryPublish = contract({
  actor: A,
  verb: 'publish',
  request: z.object({}).strict().optional(),
  reply: z.object({ seq: z.number().int(), addrs: z.array(MultiaddrSchema) }),
  callers: ['cli', 'ui', 'transport'],
  description: "publish this device's presence (and the account's device list) now",
  errors: ['device_revoked', 'no_account', 'publish_failed', 'not_started', 'rpc_failed'],
})

export const discoveryLookup = contract({
  actor: A,
  verb: 'lookup',
  request: z.object({ accountId: IdSchema, fresh: z.boolean().optional() }).strict(),
  reply: z.object({
    accountId: IdSchema,
    /** each with the certificate its presence carries (a sender seals to it without asking for the device again) */
    devices: z.array(DevicePresenceSchema.extend({ deviceCert: DeviceCertWireSchema.optional() })),
    revoked: z.array(IdSchema),
    /** the signed records found (the newest valid device list bundle) */
    deviceList: DeviceListWireSchema.optional(),
    revocations: RevocationsWireSchema.optional(),
  }),
  callers: ['outbox', 'cli', 'ui', 'transport', 'identity'],
  description: "an account's devices (from its signed device list) with each one's current addresses",
  errors: ['not_started', 'rpc_failed'],
})

/**
 * An account's signed device list and revocations alone: one DHT get, where `lookup` also gets every device's
 * presence. For those who only ask whether a device is revoked (a transport handshake, an envelope's sender check).
 */
export const discoveryLookupDeviceList = contract({
  actor: A,
  verb: 'lookupDeviceList',
  request: z.object({ accountId: IdSchema }).strict(),
  reply: z.object({
    accountId: IdSchema,
    /** the devices the list's own revocations name */
    revoked: z.array(IdSchema),
    deviceList: DeviceListWireSchema,
    revocations: RevocationsWireSchema.optional(),
  }),
  callers: ['outbox', 'cli', 'ui', 'transport', 'identity'],
  description: "an account's signed device list and revocations (no device's presence)",
  errors: ['not_started', 'rpc_failed'],
})

export const discoveryLookupDevice = contract({
  actor: A,
  verb: 'lookupDevice',
  request: z.object({ deviceId: IdSchema }).strict(),
  reply: z.object({
    presence: DevicePresenceSchema,
    accountId: IdSchema,
    chain: z.object({ deviceCert: DeviceCertWireSchema, peerBinding: PeerBindingWireSchema, revocations: RevocationsWireSchema.optional() }),
  }),
  callers: ['outbox', 'cli', 'ui', 'transport'],
  description: "one device's verified presence record and trust chain",
  errors: ['not_started', 'rpc_failed'],
})

export const discoveryWatch = contract({
  actor: A,
  verb: 'watch',
  request: z.object({ accountId: IdSchema }).strict(),
  reply: z.object({ watching: z.literal(true), devices: z.array(DevicePresenceSchema) }),
  callers: ['outbox', 'cli', 'ui'],
  description: 'listen for the devices of an account coming online, going offline, changing addresses',
  errors: ['subscription_refused', 'not_started', 'rpc_failed'],
})

export const discoveryUnwatch = contract({
  actor: A,
  verb: 'unwatch',
  request: z.object({ accountId: IdSchema }).strict(),
  reply: z.object({ watching: z.literal(false) }),
  callers: ['outbox', 'cli', 'ui'],
  description: 'stop listening for an account',
})

const ValueKey = z.string().regex(/^[0-9a-f]{40}$/)
export const discoveryPutValue = contract({
  actor: A,
  verb: 'putValue',
  request: z
    .object({
      key: ValueKey,
      value: Base64Schema.max(32 * 1024),
      ttlMs: z.number().int().positive().max(86_400_000),
      deleteToken: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/).optional(),
    })
    .strict(),
  reply: z.object({ key: ValueKey, expiresAt: z.number().int(), deleteToken: z.string(), stored: z.number().int() }),
  callers: ['cli', 'ui', 'identity', 'outbox'],
  description: 'store an opaque (encrypted) value on the DHT with a TTL; keep the delete token to remove it',
  errors: ['invalid_key', 'key_mismatch', 'malformed_value', 'value_too_large', 'invalid_ttl', 'value_occupied', 'bad_delete_token', 'publish_failed', 'store_full', 'too_many_records', 'peer_quota', 'key_quota', 'not_started', 'rpc_failed'],
})
export const discoveryGetValue = contract({
  actor: A,
  verb: 'getValue',
  request: z.object({ key: ValueKey }).strict(),
  reply: z.object({ key: ValueKey, value: Base64Schema, expiresAt: z.number().int() }),
  callers: ['cli', 'ui', 'identity', 'outbox'],
  description: 'fetch an opaque value (not_found when absent or expired)',
  errors: ['invalid_key', 'malformed_value', 'value_expired', 'not_started', 'rpc_failed'],
})
export const discoveryDeleteValue = contract({
  actor: A,
  verb: 'deleteValue',
  request: z.object({ key: ValueKey, deleteToken: z.string().max(128) }).strict(),
  reply: z.object({ deleted: z.boolean() }),
  callers: ['cli', 'ui', 'identity', 'outbox'],
  description: 'replace a value with a tombstone, proving the delete token',
  errors: ['invalid_key', 'bad_delete_token', 'publish_failed', 'not_started', 'rpc_failed'],
})

const PresenceEvent = z.object({ accountId: IdSchema, deviceId: IdSchema, peerId: z.string(), addrs: z.array(MultiaddrSchema), seq: z.number().int(), at: z.number().int() })
export const discoveryOnline = event({ actor: A, event: 'online', body: PresenceEvent, readers: ['outbox', 'cli', 'ui'], description: 'a watched device published a fresh presence' })
export const discoveryAddressChanged = event({ actor: A, event: 'addressChanged', body: PresenceEvent, readers: ['outbox'], description: 'a watched device is reachable at other addresses' })
export const discoveryOffline = event({
  actor: A,
  event: 'offline',
  body: z.object({ accountId: IdSchema, deviceId: IdSchema, at: z.number().int() }),
  readers: ['outbox', 'cli', 'ui'],
  description: "a watched device's presence expired",
})
export const discoveryPublished = event({
  actor: A,
  event: 'published',
  body: z.object({ seq: z.number().int(), addrs: z.array(MultiaddrSchema), at: z.number().int() }),
  readers: ['cli', 'ui', 'outbox'],
  description: 'this device published its presence',
})

export const discoveryDeviceList = event({
  actor: A,
  event: 'deviceList',
  body: z.object({ accountId: IdSchema, deviceList: DeviceListWireSchema, revocations: RevocationsWireSchema.optional() }),
  readers: ['identity'],
  description: "a newer verified device list (and revocations) of this node's own account was seen on the DHT",
})

export const discoveryContracts = [
  discoveryInfo,
  discoveryPublish,
  discoveryLookup,
  discoveryLookupDeviceList,
  discoveryLookupDevice,
  discoveryWatch,
  discoveryUnwatch,
  discoveryPutValue,
  discoveryGetValue,
  discoveryDeleteValue,
  ...discoveryMailboxContracts,
] as const
