import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import type { KeepAliveInit } from '@baran/p2p'
import { InvalidConfigError } from './errors.ts'
import type { MailboxFigures, MailboxLimits } from './mailbox-store.ts'
import type { VerifiedEntry } from './policy.ts'
import type { UdpStats } from './rpc-udp.ts'
import type { Logger } from './store.ts'
import type { StoreFigures, StoreLimits } from './store-quota.ts'
import type { WatchLimits } from './watch.ts'

/** Options of createDiscoveryNode; every option is optional. */
export interface DiscoveryNodeInit {
  /** Multiaddrs to listen on (TCP; `/ws` ones use WebSockets). @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /**
   * Addresses to tell peers instead of what the node finds itself (a helper node on a public IP: libp2p leaves an
   * address it counts public out until AutoNAT has it dialled back, which no peer of a fresh network does).
   * @default the listen addresses libp2p reports, filtered to those others can use
   */
  announce?: string[]
  /** Bootstrap peers: multiaddrs ending in /p2p/<peerId>. Empty: this node is its own network. @default [] */
  bootstrap?: string[]
  /**
   * More bootstrap peers, asked again each time the node bootstraps (at start, and whenever it reaches no peer):
   * a description that may change while the node runs, such as the local network's `localnet.json`.
   */
  bootstrapSource?: () => Promise<string[]>
  /** The node's libp2p key (its PeerId). @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /**
   * Carry rpc requests to peers over UDP too (rpc-udp.ts): a socket on the host of the first TCP listen address, a
   * session per peer agreed over the encrypted rpc stream; the stream stays for what does not fit a datagram and
   * for peers UDP does not reach. @default true
   */
  udpRpc?: boolean
  /**
   * How long a link whose datagrams went unanswered waits before it offers a new datagram session (doubling while the
   * new one's ping goes unanswered, at most 10 min). @default 30 s
   */
  udpRetryMs?: number
  /** Find peers on the LAN with mDNS. @default false */
  mdns?: boolean
  /** Query the DHT without serving it (no records stored for others). @default false */
  clientMode?: boolean
  /**
   * libp2p's connection monitor (a ping on every connection each interval; a failed ping closes it). `false` turns
   * it off: right for many nodes in one process on loopback, where a busy event loop fails pings of healthy
   * connections. @default libp2p's (every 10 s, close on failure)
   */
  keepAlive?: KeepAliveInit
  /** Clock for record validity, ms since epoch. @default Date.now */
  now?: () => number
  /** pino-shaped logger. */
  log?: Logger
  /** Kademlia k: bucket size and lookup result size. @default 20 */
  kBucketSize?: number
  /** Closest peers a put stores on and a watch subscribes to. @default 8 */
  replication?: number
  /** Values a get waits for before it may stop early. @default 3 */
  getQuorum?: number
  /** Requests one get keeps in flight at most (a slow wave still asks all the rest at once). @default 4 */
  getParallelism?: number
  /** Upper bound on one put or get (ms). @default 10_000 */
  queryTimeoutMs?: number
  /** Largest opaque value payload. @default 16384 */
  maxValueBytes?: number
  /** Allowed clock difference for record times. @default 60_000 */
  clockSkewMs?: number
  /** Limits on subscriptions this node keeps for watchers. */
  watchLimits?: WatchLimits
  /** @deprecated The old name of watchLimits. */
  listenLimits?: WatchLimits
  /** Bounds of the records this node stores for others (total, per uploading peer, per key). @default 64 MiB, 50 000 records, 1/16 each per peer */
  storeLimits?: StoreLimits
  /** Bounds of the mailbox items this node stores for others (total, per sender account, per mailbox). @default 32 MiB, 20 000 items, 1 MiB per sender, 2 MiB per mailbox */
  mailboxLimits?: MailboxLimits
  /** How often held mailbox items are re-stored on the closest nodes (ms, jittered ±25 %). @default 600000 */
  mailboxMaintenanceMs?: number
  /** Start the node before returning. @default true */
  start?: boolean
}

/** Outcome of a publish or put. */
export interface PublishResult {
  key: string
  /** Peers that confirmed they stored the record (this node not counted). */
  stored: number
  /** Peers asked to store it. */
  attempted: number
}

/** Outcome of putValue: keep deleteToken to delete the value before it expires. */
export interface PutValueResult extends PublishResult {
  deleteToken: Uint8Array
  expiresAt: number
}

/** Counters of a node. */
export interface DiscoveryStats {
  /** Connected peers. */
  peers: number
  routingTableSize: number
  /** Baran records this node holds. */
  storedRecords: number
  /** Subscriptions this node keeps for watchers. */
  subscriptions: number
  /** Keys this node watches. */
  watches: number
  pushesSent: number
  pushesFailed: number
  pushesReceived: number
  /** The record store's bytes, records, limits and refusals. */
  store: StoreFigures
  /** The mailbox store's bytes, items, limits and refusals. */
  mailbox: MailboxFigures
  /** Rpc requests this node sent since it was made, by method (a watch's subscriptions and unsubscriptions are `watch`). */
  rpcSent: RpcCounts
  /** The rpc's datagrams (with `udpRpc`, since the last start): sent, received, dropped by why, and links that use them. */
  udp?: UdpStats & { links: number }
}

/** A count for each rpc method. */
export interface RpcCounts {
  get: number
  put: number
  find: number
  watch: number
  push: number
  mailboxPut: number
  mailboxFetch: number
  mailboxDelete: number
}

/** Options of a single put or get. */
export interface QueryOptions {
  signal?: AbortSignal
  /** ms. @default the node's queryTimeoutMs */
  timeoutMs?: number
}

/** Options of a put or publish. */
export interface PutOptions extends QueryOptions {
  /** Also wait for the network lookup and the PUTs to any closer peers it finds. @default false */
  waitForLookup?: boolean
}

/** Options of a get. */
export interface GetOptions extends QueryOptions {
  /** Stop once this many peers (this node included) returned a value. @default the node's getQuorum */
  quorum?: number
  /** Ask the network even when a device list was found lately (lookupDeviceList reuses one for a few seconds). */
  fresh?: boolean
  /**
   * Each valid record as it arrives (this node's own copy first), before the get has its quorum and picks the best:
   * for a caller that acts on the first answer, as OpenDHT's get callback. Records may come in any order, so the
   * first is not always the newest; the get's result is.
   */
  onEntry?: (entry: VerifiedEntry) => void
}

/** Check the options a caller can get wrong; throws InvalidConfigError naming the option. */
export function checkInit(init: DiscoveryNodeInit): void {
  checkPositiveInts(init, ['kBucketSize', 'replication', 'getQuorum', 'getParallelism', 'udpRetryMs', 'queryTimeoutMs', 'maxValueBytes', 'mailboxMaintenanceMs'])
  checkPeerAddrs('bootstrap', init.bootstrap)
  for (const addr of init.announce ?? []) {
    try {
      multiaddr(addr)
    } catch {
      throw new InvalidConfigError(`announce: ${JSON.stringify(addr)} is not a multiaddr`)
    }
  }
}

/** Each named option, when given, must be a positive integer; throws InvalidConfigError naming the first that is not. */
export function checkPositiveInts<T extends object>(init: T, names: ReadonlyArray<keyof T & string>): void {
  for (const name of names) {
    const v = init[name]
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) throw new InvalidConfigError(`${name} must be a positive integer`)
  }
}

/** Every address must be a multiaddr ending in /p2p/<peerId> (a peer to dial); throws InvalidConfigError naming `option`. */
export function checkPeerAddrs(option: string, addrs: readonly string[] = []): void {
  for (const addr of addrs) {
    let ok = false
    try {
      ok = multiaddr(addr).getComponents().some((c) => c.name === 'p2p')
    } catch {
      ok = false
    }
    if (!ok) throw new InvalidConfigError(`${option}: ${JSON.stringify(addr)} is not a multiaddr ending in /p2p/<peerId>`)
  }
}
