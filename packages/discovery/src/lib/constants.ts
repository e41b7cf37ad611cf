/** Defaults and limits of the discovery library. Times in ms, sizes in bytes. */

/** Our own Kademlia network: never mixes with the public IPFS DHT. */
export const KAD_PROTOCOL = '/baran/kad/1.0.0'
/**
 * @deprecated No longer served: watches (OpenDHT-style listen) ride the rpc protocol's WATCH and PUSH methods.
 * Kept so importers still compile.
 */
export const LISTEN_PROTOCOL = '/baran/listen/1.0.0'
/** Multiplexed get/put/watch over one long-lived stream per peer: the fast path. */
export const RPC_PROTOCOL = '/baran/rpc/1.0.0'

/** Key namespaces (the second path segment of a DHT key picks the validator and selector). */
export const PRESENCE_NAMESPACE = 'baran-presence'
export const DEVICES_NAMESPACE = 'baran-devices'
export const VALUE_NAMESPACE = 'baran-value'

/** Where a node listens when the caller does not say. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']

/** kad-dht's k: peers per bucket and the size of a lookup's result. */
export const DEFAULT_K = 20
/** How many of the closest peers a put stores on and a watcher subscribes to (OpenDHT uses 8). */
export const DEFAULT_REPLICATION = 8
/** How many responders must have answered a get before it may stop early. */
export const DEFAULT_GET_QUORUM = 3
/**
 * Requests a get keeps in flight at most (Kademlia's alpha; OpenDHT's MAX_REQUESTED_SEARCH_NODES is 4): a reply (or a
 * failure) sends the next. Asking all of a full get's 8 at once wakes 8 peers together, and their answers queue
 * behind each other and behind the asker's own sends.
 */
export const DEFAULT_GET_PARALLELISM = 4
/** Upper bound on one put or get. */
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000
/** Upper bound on dialing one bootstrap peer at start. */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000
/** Self-lookups after joining (at 0, 1, 2, 4 … s) while the routing table still grows. */
export const JOIN_ROUNDS = 5
/** Re-dial the bootstrap list while the routing table is empty, with back-off up to this. */
export const BOOTSTRAP_RETRY_MAX_MS = 30_000
/** How often a joined node checks that it still reaches a peer (else it bootstraps again). */
export const BOOTSTRAP_CHECK_MS = 2_000

/** Largest presence or device-list bundle a node stores. */
export const MAX_BUNDLE_BYTES = 64 * 1024
/** Largest opaque value payload (before its envelope). */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024
/** Longest life of an opaque value. */
export const MAX_VALUE_TTL_MS = 24 * 60 * 60 * 1000
/** Life of an opaque value when the writer does not say. */
export const DEFAULT_VALUE_TTL_MS = 10 * 60 * 1000
/** How far issuedAt/expiresAt may be off because of clocks. */
export const DEFAULT_CLOCK_SKEW_MS = 60_000

/**
 * Bounds of a storing node's record store (DiscoveryNodeInit.storeLimits, the actor's `store` config). Bytes are
 * what a record costs in memory: the bytes received, what they decode to, and bookkeeping (store.ts costOf).
 */
export const DEFAULT_STORE_MAX_BYTES = 64 * 1024 * 1024
export const DEFAULT_STORE_MAX_ITEMS = 50_000
/** One uploader (the remote PeerId that stored a record) may hold this fraction of the store. */
export const STORE_PEER_SHARE = 1 / 16
/** Largest record kept under one key (a bundle at its limit, with room for its key). */
export const DEFAULT_STORE_MAX_KEY_BYTES = MAX_BUNDLE_BYTES + 1024
/** What one record costs beyond its bytes: map entries, its verified entry's fields, its datastore key. */
export const RECORD_OVERHEAD_BYTES = 1024
/** While the store is full, expired records are swept at most this often before making room. */
export const FULL_SWEEP_INTERVAL_MS = 1_000

/** Largest watch frame: a bundle as base64 plus the frame's fields. */
export const MAX_FRAME_BYTES = 96 * 1024
/** Largest rpc frame: a watch frame or a record, plus headers. */
export const MAX_RPC_FRAME_BYTES = MAX_FRAME_BYTES + 1024
/** Requests one peer may have in flight on one rpc link (more are refused as busy). */
export const MAX_RPC_INFLIGHT = 256
/** Default deadline of one rpc. */
export const RPC_TIMEOUT_MS = 5_000
/** Bounds of the wait before a get asks more peers than its quorum needs (4 smoothed round trips). */
export const HEDGE_MIN_MS = 5
export const HEDGE_MAX_MS = 500
/** How long a request sent by datagram waits for its answer before it goes on the stream too (at least; 4 smoothed round trips when longer, up to UDP_FALLBACK_MAX_MS). */
export const UDP_FALLBACK_MS = 250
export const UDP_FALLBACK_MAX_MS = 2_000
/** Datagram requests in a row that go unanswered before a link stops using UDP (a path that drops them). */
export const UDP_LOSSES_TO_STOP = 3
/** How long a new datagram session waits for its ping's answer (else the link keeps to its stream). */
export const UDP_PROBE_MS = 2_000
/**
 * A link that stopped using UDP (its datagrams went unanswered: a path that drops them, or a spell of a busy machine)
 * offers a new session after this wait, doubling after each failed one up to UDP_RETRY_MAX_MS.
 */
export const UDP_RETRY_MS = 30_000
export const UDP_RETRY_MAX_MS = 600_000
/** Rounds of an rpc lookup (FIND) before it leaves the key to kad-dht's lookup. */
export const FIND_ROUNDS = 6
/** Kademlia IDs (sha256 of peer IDs) a node keeps computed. */
export const KAD_ID_CACHE_SIZE = 4_096
/** How long a peer whose dial failed is left out of the closest peers (until it answers or connects again). */
export const UNREACHABLE_MS = 60_000
/** A watch peer must send its frame (or answer) within this. */
export const FRAME_TIMEOUT_MS = 5_000
/** Subscription life a watcher asks for by default. */
export const DEFAULT_SUBSCRIPTION_TTL_MS = 10 * 60 * 1000
/** Bounds a storing node puts on a requested subscription life. */
export const MIN_SUBSCRIPTION_TTL_MS = 1_000
export const MAX_SUBSCRIPTION_TTL_MS = 30 * 60 * 1000
/** Subscriptions a storing node keeps per subscribing peer and in total. */
export const MAX_SUBSCRIPTIONS_PER_PEER = 256
export const MAX_SUBSCRIPTIONS = 10_000
/** Pushes in flight at once from one node; more wait in a bounded queue, then are dropped. */
export const PUSH_CONCURRENCY = 16
export const PUSH_QUEUE_MAX = 1_024
/** A watcher renews its subscriptions when this fraction of the granted life has passed. */
export const RENEW_FRACTION = 0.75
/** Re-query back-off of a watcher (so a lost push is never fatal). */
export const REQUERY_MIN_MS = 1_000
export const REQUERY_MAX_MS = 60_000

/** Republish presence when this fraction of its life has passed (or earlier on address change). */
export const REPUBLISH_FRACTION = 0.5
/** Retry a failed publish with back-off between these. */
export const PUBLISH_RETRY_MIN_MS = 1_000
export const PUBLISH_RETRY_MAX_MS = 60_000
/**
 * Republish as well when the routing table has grown this much since the last publish: doubled, or by
 * this many peers, whichever comes first. A record lands on the closest peers known at publish time; in
 * a small network the table holds the whole network, so doubling means about half the closest peers are
 * new; in a large one kad-dht keeps ≤ k peers per bucket and gains about one bucket each time the
 * network doubles, so k (20) more peers means the same. Either way, lookups may now miss the record.
 */
export const REPUBLISH_GROWTH_PEERS = DEFAULT_K
/** Republish once the table has been quiet this long after growing, so a burst of joins gives one republish… */
export const REPUBLISH_GROWTH_DELAY_MS = 2_000
/** …but no later than this after the growth was seen, even if the table keeps changing. */
export const REPUBLISH_GROWTH_MAX_DELAY_MS = 30_000
/** At most one growth republish this often (from the last publish): a forming network doubles often. */
export const REPUBLISH_GROWTH_MIN_INTERVAL_MS = 10_000

/** Verified-bundle cache entries per node (signature checks are the expensive part). */
export const VERIFY_CACHE_SIZE = 512
/** Accounts whose newest revocation list a node remembers. */
export const REVOCATION_BOOK_SIZE = 10_000
/** How often a node drops expired records from its store. */
export const SWEEP_INTERVAL_MS = 60_000
/**
 * How long a device list found on the DHT answers the next lookups of that account (recent-lookups.ts): long enough
 * to cover the asks around one message, short beside the callers' own reuse (transport 30 s, outbox 60 s).
 */
export const DEVICE_LIST_REUSE_MS = 2_000
/** Accounts whose device list is kept for reuse at once. */
export const MAX_REUSED_DEVICE_LISTS = 1024

/** LAN-only discovery (no DHT): gossip of verified records between peers met directly. */
export const LAN_PROTOCOL = '/baran/lan/1.0.0'
/** mDNS service tag of LAN discovery (apart from the DHT node's). */
export const LAN_MDNS_TAG = 'baran-lan.local'
/** Largest LAN frame, and records in one. */
export const LAN_MAX_FRAME_BYTES = 1024 * 1024
export const LAN_MAX_RECORDS_PER_FRAME = 256
/** Bound on one LAN request (push or get) to one peer. */
export const LAN_REQUEST_TIMEOUT_MS = 3_000
/** A failed LAN push is tried again this many times, 500 ms doubling (about 15 s in all), while the peer stays. */
export const LAN_PUSH_RETRIES = 5
export const LAN_PUSH_RETRY_FIRST_MS = 500
/** How often static LAN peers that are not connected are dialled again. */
export const LAN_REDIAL_MS = 2_000
/** Records a LAN node keeps (the oldest-expiring go first past it). */
export const LAN_MAX_RECORDS = 10_000

/** Mailbox keys (`/baran-mailbox/<40 hex>`): where envelopes wait for an offline device. */
export const MAILBOX_NAMESPACE = 'baran-mailbox'
/** A mailbox key rotates every epoch (one week): an item sits under the key of the epoch of its sentAt. */
export { MAILBOX_EPOCH_MS } from '@baran/trust'
/** A mailbox item lives this long after its sentAt (as Jami keeps contact requests on its DHT). */
export const MAILBOX_ITEM_TTL_MS = 7 * 24 * 60 * 60 * 1000
/** Memory a node's mailbox store may take (items and tombstones, as mailboxCost counts them). */
export const DEFAULT_MAILBOX_MAX_BYTES = 32 * 1024 * 1024
/** Items a node's mailbox store may hold. */
export const DEFAULT_MAILBOX_MAX_ITEMS = 20_000
/** Bytes one sender account may hold in a node's mailbox store. */
export const DEFAULT_MAILBOX_MAX_BYTES_PER_SENDER = 1024 * 1024
/** Bytes one mailbox may hold in a node's mailbox store. */
export const DEFAULT_MAILBOX_MAX_BYTES_PER_MAILBOX = 2 * 1024 * 1024
/** Bookkeeping an item costs besides its bytes. */
export const MAILBOX_ITEM_OVERHEAD_BYTES = 512
/** What a tombstone (a deleted item's hash, kept until the item would have expired) costs. */
export const MAILBOX_TOMBSTONE_BYTES = 160
/** Items one delete request may name. */
export const MAX_MAILBOX_DELETE_ITEMS = 256
/** How often a storing node re-stores what it holds on the closest nodes (jittered ±25 %). */
export const DEFAULT_MAILBOX_MAINTENANCE_MS = 10 * 60 * 1000
/** Items one maintenance round re-stores at most (the rest wait for the next round). */
export const MAILBOX_MAINTENANCE_MAX_ITEMS = 512
/** Re-stores in flight at once during maintenance. */
export const MAILBOX_MAINTENANCE_CONCURRENCY = 8
