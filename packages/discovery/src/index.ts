/**
 * @baran/discovery — finding a peer's current address, serverless.
 *
 * A libp2p Kademlia DHT node in Baran's own network (`/baran/kad/1.0.0`) whose storing nodes
 * keep only records that verify: signed, expiring presence bundles under
 * `/baran-presence/<deviceId>`, device lists under `/baran-devices/<accountId>` (forged,
 * expired, revoked and replayed ones are refused), and opaque values with a TTL under
 * `/baran-value/<40 hex>`. An OpenDHT-style watch (subscribe, then push) sends new records
 * to watchers. Gets, puts, lookups, watches and pushes all travel over `/baran/rpc/1.0.0`: one
 * long-lived stream per peer pair with multiplexed binary frames; kad-dht keeps only the routing
 * (docs/discovery-kademlia.md). Device linking stores its PIN-sealed offers here as opaque values; the PIN crypto
 * lives with the keys, in @baran/identity. Signing is the identity actor's job: this library only
 * verifies (with @baran/trust).
 *
 * @example
 * const node = await createDiscoveryNode({ bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…'] })
 * await node.publishPresence(bundle)               // signed by identity
 * const stop = node.watch({ accountId }, (e) => console.log(e.kind, e.via))
 * const account = await node.lookupAccount(accountId) // devices + addresses
 */
export {
  DEFAULT_GET_QUORUM,
  DEFAULT_K,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_REPLICATION,
  DEFAULT_VALUE_TTL_MS,
  DEVICES_NAMESPACE,
  KAD_PROTOCOL,
  LISTEN_PROTOCOL,
  MAILBOX_EPOCH_MS,
  MAILBOX_ITEM_TTL_MS,
  MAILBOX_NAMESPACE,
  MAX_BUNDLE_BYTES,
  MAX_FRAME_BYTES,
  MAX_VALUE_TTL_MS,
  PRESENCE_NAMESPACE,
  REPUBLISH_GROWTH_DELAY_MS,
  REPUBLISH_GROWTH_MAX_DELAY_MS,
  REPUBLISH_GROWTH_MIN_INTERVAL_MS,
  REPUBLISH_GROWTH_PEERS,
  RPC_PROTOCOL,
  VALUE_NAMESPACE,
} from './lib/constants.ts'
export type { AccountLookup } from './lib/account.ts'
export type {
  DiscoveryNodeInit,
  DiscoveryStats,
  GetOptions,
  PublishResult,
  PutOptions,
  PutValueResult,
  QueryOptions,
  RpcCounts,
} from './lib/node-options.ts'
export type { UdpStats } from './lib/rpc-udp.ts'
export { createDiscoveryNode, DiscoveryNode } from './lib/dht-node.ts'
export type { DiscoveryErrorCode } from './lib/errors.ts'
export {
  BadDeleteRequestError,
  BadFetchRequestError,
  BadDeleteTokenError,
  DiscoveryError,
  ForgedEnvelopeError,
  MailboxItemExpiredError,
  MailboxItemTooLargeError,
  MailboxQuotaError,
  MailboxReplayError,
  MailboxStoreFullError,
  SenderQuotaError,
  WrongMailboxError,
  InvalidConfigError,
  InvalidKeyError,
  InvalidTtlError,
  KeyMismatchError,
  MalformedFrameError,
  MalformedValueError,
  NodeNotStartedError,
  PublishFailedError,
  RpcFailedError,
  SubscriptionRefusedError,
  ValueExpiredError,
  ValueOccupiedError,
  ValueTooLargeError,
} from './lib/errors.ts'
export type { DeleteRequest, MailboxClock, MailboxId, MailboxItem } from './lib/mailbox-item.ts'
export {
  checkDeleteRequest,
  checkDeposit,
  encodeDeleteRequest,
  itemHash,
  mailboxEpoch,
  mailboxesOf,
  mailboxId,
  mailboxKey,
  signDeleteRequest,
} from './lib/mailbox-item.ts'
export { checkFetchRequest, encodeFetchRequest, type FetchRequest, signFetchRequest } from './lib/mailbox-fetch-auth.ts'
export type { MailboxPutResult } from './lib/mailbox-service.ts'
export type { MailboxFigures, MailboxLimits } from './lib/mailbox-store.ts'
export { MailboxStore } from './lib/mailbox-store.ts'
export type { Frame } from './lib/frames.ts'
export { decodeFrame, encodeFrame } from './lib/frames.ts'
export type { ParsedKey, WatchTarget } from './lib/keys.ts'
export { deviceListKey, parseKey, presenceKey, valueKey } from './lib/keys.ts'
export type { Via, WatchEvent, WatchLimits, WatchOptions } from './lib/watch.ts'
/** @deprecated The old name of WatchLimits. */
export type { WatchLimits as ListenLimits } from './lib/watch.ts'
export type { Admission, RecordPolicyInit, VerifiedEntry } from './lib/policy.ts'
export { RecordPolicy, RevocationBook } from './lib/policy.ts'
export type { GrowthLimits, GrowthTriggerInit, PresencePublisherInit, PresenceTarget } from './lib/publisher.ts'
export { GrowthTrigger, PresencePublisher, routingTableGrew } from './lib/publisher.ts'
export type {
  DeviceListBundle,
  PresenceBundle,
  RevocationInfo,
  VerifiedDeviceList,
  VerifiedPresence,
  VerifyBundleOptions,
} from './lib/records.ts'
export { encodeBundle, verifyDeviceListBundle, verifyPresenceBundle } from './lib/records.ts'
export type { Logger, StoredRecord } from './lib/store.ts'
export type { OpaqueValue, ValueLimits } from './lib/values.ts'
export { discoveryActor, discoveryActor as actor } from './actor.ts'
export type { LanNodeInit, LanStats } from './lib/lan-options.ts'
export { createLanNode, LanNode } from './lib/lan-node.ts'
export type { LanFrame, LanRecord } from './lib/lan-frames.ts'
export { decodeLanFrame, encodeLanFrame } from './lib/lan-frames.ts'
export { lanDiscoveryActor } from './lan-actor.ts'
export type { DiscoveryBackend, DiscoveryNodeLike, ServeConfig } from './serve.ts'
export { serveDiscovery } from './serve.ts'
