import { type Identify, identify } from '@libp2p/identify'
import { KEEP_ALIVE, type PeerId, type PrivateKey } from '@libp2p/interface'
import { announceable } from '@baran/actor'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Ping, ping } from '@libp2p/ping'
import { Libp2pRecord } from '@libp2p/record'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { xor } from 'uint8arrays/xor'
import { xorCompare } from 'uint8arrays/xor-compare'
import { bytesEqual, sha256 } from './bytes.ts'
import {
  BOOTSTRAP_CHECK_MS,
  BOOTSTRAP_DIAL_TIMEOUT_MS,
  BOOTSTRAP_RETRY_MAX_MS,
  DEFAULT_GET_QUORUM,
  DEFAULT_K,
  DEFAULT_LISTEN,
  DEFAULT_QUERY_TIMEOUT_MS,
  DEFAULT_REPLICATION,
  DEFAULT_VALUE_TTL_MS,
  FIND_ROUNDS,
  FRAME_TIMEOUT_MS,
  JOIN_ROUNDS,
  KAD_ID_CACHE_SIZE,
  KAD_PROTOCOL,
  LISTEN_PROTOCOL,
  MAX_VALUE_TTL_MS,
  RPC_PROTOCOL,
  SWEEP_INTERVAL_MS,
} from './constants.ts'
import { DiscoveryError, InvalidConfigError, InvalidKeyError, NodeNotStartedError, PublishFailedError, RpcFailedError, UnsupportedRecordError } from './errors.ts'
import { decodeFrame, encodeFrame } from './frames.ts'
import { type KadInternals, kadInternals, restrictKadRpc } from './kad-internals.ts'
import { deviceListKey, isBaranKey, keyBytes, parseKey, presenceKey, type WatchTarget } from './keys.ts'
import { ListenService, type ListenLimits, type WatchEvent, type WatchOptions } from './listen.ts'
import { compareDistance, NearestPeers } from './nearest.ts'
import { noiseOneWrite } from './one-write.ts'
import { RecordPolicy, type VerifiedEntry } from './policy.ts'
import {
  type DeviceListBundle,
  encodeBundle,
  type PresenceBundle,
  type VerifiedDeviceList,
  type VerifiedPresence,
} from './records.ts'
import { Rpc } from './rpc.ts'
import {
  decodeGetReply,
  decodePeers,
  decodePut,
  encodeGetMiss,
  encodePeers,
  encodePut,
  type NamedPeer,
  peerFromMultihash,
  RPC_FIND,
  RPC_GET,
  RPC_LISTEN,
  RPC_PUSH,
  RPC_PUT,
} from './rpc-codec.ts'
import { type Logger, RecordStore } from './store.ts'
import type { StoreFigures, StoreLimits } from './store-quota.ts'
import { checkTtl, encodeTombstone, encodeValue, newDeleteToken } from './values.ts'
import { yamuxCoalesced } from './yamux-window.ts'
import { type AccountLookup, lookupAccountFrom } from './account.ts'

/** Options of createDiscoveryNode; every option is optional. */
export interface DiscoveryNodeInit {
  /** Multiaddrs to listen on (TCP; `/ws` ones use WebSockets). @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Bootstrap peers: multiaddrs ending in /p2p/<peerId>. Empty: this node is its own network. @default [] */
  bootstrap?: string[]
  /**
   * More bootstrap peers, asked again each time the node bootstraps (at start, and whenever it reaches no peer):
   * a description that may change while the node runs, such as the local network's `localnet.json`.
   */
  bootstrapSource?: () => Promise<string[]>
  /** The node's libp2p key (its PeerId). @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /** Find peers on the LAN with mDNS. @default false */
  mdns?: boolean
  /** Query the DHT without serving it (no records stored for others). @default false */
  clientMode?: boolean
  /**
   * libp2p's connection monitor (a ping on every connection each interval; a failed ping closes it). `false` turns
   * it off: right for many nodes in one process on loopback, where a busy event loop fails pings of healthy
   * connections. @default libp2p's (every 10 s, close on failure)
   */
  keepAlive?: false | { intervalMs?: number; closeOnFailure?: boolean }
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
  /** Upper bound on one put or get (ms). @default 10_000 */
  queryTimeoutMs?: number
  /** Largest opaque value payload. @default 16384 */
  maxValueBytes?: number
  /** Allowed clock difference for record times. @default 60_000 */
  clockSkewMs?: number
  /** Limits on subscriptions this node keeps for watchers. */
  listenLimits?: ListenLimits
  /** Bounds of the records this node stores for others (total, per uploading peer, per key). @default 64 MiB, 50 000 records, 1/16 each per peer */
  storeLimits?: StoreLimits
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
}

type Services = { dht: KadDHT; identify: Identify; ping: Ping }

const mhKey = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/** The caller's signal (if any) and a deadline (performance.now() ms) of one operation. */
interface Bounds {
  signal?: AbortSignal
  deadline: number
}

/** Whole ms left (AbortSignal.timeout takes integers only). */
const remaining = (b: Bounds): number => Math.max(0, Math.ceil(b.deadline - performance.now()))
const ended = (b: Bounds): boolean => b.signal?.aborted === true || remaining(b) === 0

/** Wait for `p`, but no longer than the bounds allow (then reject as AbortSignal.timeout would). */
function raceBounds<T>(p: Promise<T>, b: Bounds): Promise<T> {
  b.signal?.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(b.signal?.reason)
    const timer = setTimeout(() => reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), remaining(b))
    b.signal?.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => {
      clearTimeout(timer)
      b.signal?.removeEventListener('abort', onAbort)
    })
  })
}

/** Check the options a caller can get wrong; throws InvalidConfigError naming the option. */
function checkInit(init: DiscoveryNodeInit): void {
  for (const name of ['kBucketSize', 'replication', 'getQuorum', 'queryTimeoutMs', 'maxValueBytes'] as const) {
    const v = init[name]
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw new InvalidConfigError(`${name} must be a positive integer`)
  }
  for (const addr of init.bootstrap ?? []) {
    let ok = false
    try {
      ok = multiaddr(addr).getComponents().some((c) => c.name === 'p2p')
    } catch {
      ok = false
    }
    if (!ok) throw new InvalidConfigError(`bootstrap: ${JSON.stringify(addr)} is not a multiaddr ending in /p2p/<peerId>`)
  }
}

/** libp2p's connectionMonitor option for `keepAlive` (undefined: libp2p's defaults). */
function connectionMonitorOf(keepAlive: DiscoveryNodeInit['keepAlive']): { enabled?: boolean; pingInterval?: number; abortConnectionOnPingFailure?: boolean } | undefined {
  if (keepAlive === undefined) return undefined
  if (keepAlive === false) return { enabled: false }
  return { pingInterval: keepAlive.intervalMs, abortConnectionOnPingFailure: keepAlive.closeOnFailure }
}

/** Create (and by default start) a discovery node. Throws InvalidConfigError for bad options. */
export async function createDiscoveryNode(init: DiscoveryNodeInit = {}): Promise<DiscoveryNode> {
  checkInit(init)
  const policy = new RecordPolicy({ now: init.now, clockSkewMs: init.clockSkewMs, maxValueBytes: init.maxValueBytes })
  const store = new RecordStore(policy, { log: init.log, limits: init.storeLimits })
  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey: init.privateKey,
    datastore: store,
    // Only addresses others can use: no link-local, loopback only when there is nothing else.
    addresses: { listen: init.listen ?? DEFAULT_LISTEN, announceFilter: (addrs) => announceable(addrs) },
    transports: [tcp(), webSockets()],
    // noise, with each encrypted message written to the socket at once (see one-write.ts).
    connectionEncrypters: [noiseOneWrite()],
    // yamux with one WindowUpdate per half window, as Go's yamux does, instead of one per data frame (see yamux-window.ts).
    streamMuxers: [yamuxCoalesced()],
    // Many local nodes dial one bootstrap at once: the default (5/s per host) resets them.
    connectionManager: { inboundConnectionThreshold: 1_000 },
    connectionMonitor: connectionMonitorOf(init.keepAlive),
    peerDiscovery: init.mdns === true ? [mdns({ serviceTag: 'baran-discovery.local' })] : [],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: KAD_PROTOCOL,
        clientMode: init.clientMode ?? false,
        // Loopback and LAN addresses are how Baran's local networks work.
        peerInfoMapper: passthroughMapper,
        kBucketSize: init.kBucketSize ?? DEFAULT_K,
        validators: policy.kadValidators(),
        selectors: policy.kadSelectors(),
        // A node with no peers is a network of one: its queries return at once instead of waiting.
        allowQueryWithZeroPeers: true,
      }),
    },
  })
  // kad-dht serves only what Baran uses; a peer's PUT_VALUE is charged to that peer like an rpc PUT.
  restrictKadRpc(libp2p.services.dht, (peer, key, value) => {
    if (!isBaranKey(key)) throw new UnsupportedRecordError('only keys in Baran namespaces are kept')
    store.storeLocal(parseKey(key).key, value, key, peer.toString())
  })
  const node = new DiscoveryNode(libp2p, policy, store, init)
  if (init.start !== false) await node.start()
  return node
}

/**
 * A Kademlia DHT node in Baran's own namespace (`/baran/kad/1.0.0`) that stores only records
 * that verify (signed presence and device lists, opaque values with a TTL), plus listen.
 */
export class DiscoveryNode {
  /** The libp2p host, for what this class does not wrap. */
  readonly libp2p: Libp2p<Services>
  readonly peerId: string
  readonly #policy: RecordPolicy
  readonly #store: RecordStore
  readonly #kad: KadInternals
  /** The routing table's closest peers to a key, cheaply (see nearest.ts). */
  readonly #nearest: NearestPeers
  #listen: ListenService
  #rpc: Rpc
  readonly #init: DiscoveryNodeInit
  readonly #replication: number
  readonly #k: number
  readonly #selfKadId: Uint8Array
  readonly #log?: Logger
  #started = false
  #stoppedOnce = false
  /** Aborted by stop(): ends background work (late PUTs, lookups). */
  #lifecycle = new AbortController()
  #sweepTimer?: NodeJS.Timeout
  #bootstrapTimer?: NodeJS.Timeout
  #joinTimer?: NodeJS.Timeout
  #mdnsListener?: (evt: CustomEvent<{ id: PeerId }>) => void

  constructor(libp2p: Libp2p<Services>, policy: RecordPolicy, store: RecordStore, init: DiscoveryNodeInit) {
    this.libp2p = libp2p
    this.peerId = libp2p.peerId.toString()
    this.#policy = policy
    this.#store = store
    this.#init = init
    this.#log = init.log
    this.#replication = init.replication ?? DEFAULT_REPLICATION
    this.#k = init.kBucketSize ?? DEFAULT_K
    this.#selfKadId = sha256(libp2p.peerId.toMultihash().bytes)
    this.#kad = kadInternals(libp2p.services.dht)
    this.#nearest = new NearestPeers(this.#kad.routingTable, (p) => this.#kadIdOfPeer(p))
    this.#rpc = this.#newRpc()
    this.#listen = this.#newListen()
  }

  /**
   * The fast path (`/baran/rpc/1.0.0`): get, put and listen frames over one long-lived stream
   * per peer. Its handlers answer from the same store and rules as kad-dht's.
   */
  #newRpc(): Rpc {
    const rpc = new Rpc({
      openStream: (peer, signal) => this.libp2p.dialProtocol(peer, RPC_PROTOCOL, { signal }),
      log: this.#log,
    })
    if (this.#init.clientMode !== true) {
      // A client queries without serving: it stores nothing for others (it still takes pushes).
      rpc.handle(RPC_GET, (_peer, key) => {
        if (!isBaranKey(key)) throw new InvalidKeyError('not a Baran key')
        // A miss names this node's closest peers: the asker needs no FIND round to learn of closer ones.
        return this.#store.getRecord(parseKey(key).key) ?? encodeGetMiss(this.#closestNamed(key))
      })
      rpc.handle(RPC_FIND, (_peer, key) => {
        if (key.length === 0 || key.length > 512) throw new InvalidKeyError('bad lookup key')
        return encodePeers(this.#closestNamed(key))
      })
      rpc.handle(RPC_PUT, (peer, payload) => {
        const { key, value } = decodePut(payload)
        if (!isBaranKey(key)) throw new InvalidKeyError('not a Baran key')
        // Charged to the peer that sent it: the store's quotas are per uploader.
        this.#store.storeLocal(parseKey(key).key, value, key, peer)
        return new Uint8Array(0)
      })
    }
    rpc.handle(RPC_LISTEN, (peer, bytes) => encodeFrame(this.#listen.answer(peer, decodeFrame(bytes))))
    rpc.handle(RPC_PUSH, (peer, payload) => {
      const { key, value } = decodePut(payload)
      this.#listen.onPush(peer, parseKey(key).key, value)
      return new Uint8Array(0)
    })
    return rpc
  }

  /** This node's closest peers to a DHT key, with the addresses they announced (FIND and GET-miss replies). */
  #closestNamed(key: Uint8Array): NamedPeer[] {
    return this.#nearest.closest(sha256(key), this.#replication).map((p) => ({ id: p.toMultihash().bytes, addrs: this.#listenAddrs.get(p.toString()) ?? [] }))
  }

  /** A fresh listen service (stop() ends one for good; a restart gets a new one). */
  #newListen(): ListenService {
    const libp2p = this.libp2p
    return new ListenService(
      {
        selfId: this.peerId,
        store: this.#store,
        policy: { verify: (key, value) => this.#policy.verify(key, value) },
        openStream: (peer, signal) => libp2p.dialProtocol(peerIdFromString(peer), LISTEN_PROTOCOL, { signal }),
        call: async (peer, frame, signal) => decodeFrame(await this.#rpc.request(peer, RPC_LISTEN, encodeFrame(frame), { signal })),
        push: async (peer, key, value) => {
          await this.#rpc.request(peer, RPC_PUSH, encodePut(keyBytes(key), value), { timeoutMs: FRAME_TIMEOUT_MS })
        },
        closestPeers: async (key, signal) => {
          const kb = keyBytes(key)
          const b: Bounds = { signal, deadline: performance.now() + this.#queryTimeoutMs({}) }
          return this.#storingSet(sha256(kb), await this.#closest(kb, b)).map((p) => p.toString())
        },
        queryValues: (key, signal) => this.#getValues(key, { signal }),
        now: this.#policy.now,
        log: this.#log,
      },
      { limits: this.#init.listenLimits, fanout: this.#replication },
    )
  }

  /** Full multiaddrs of this node (with /p2p/<peerId>): what other nodes bootstrap from. */
  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString())
  }

  get isStarted(): boolean {
    return this.#started
  }

  /** Start listening, serve the DHT and listen protocols, and join the bootstrap peers. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#lifecycle = new AbortController()
    if (this.#stoppedOnce) {
      this.#rpc = this.#newRpc()
      this.#listen = this.#newListen()
    }
    await this.libp2p.start()
    await this.libp2p.handle(
      LISTEN_PROTOCOL,
      (stream, connection) => this.#listen.handle(stream, connection.remotePeer.toString()),
      { maxInboundStreams: 64, maxOutboundStreams: 64 },
    )
    // One long-lived stream each way per peer; a few more for links re-opened after a failure.
    await this.libp2p.handle(RPC_PROTOCOL, (stream, connection) => this.#rpc.serve(stream, connection.remotePeer.toString()), {
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    })
    // Warm links: open the rpc stream as soon as a peer shows it speaks it, so no get or put pays for it.
    this.libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#started = true
    this.#sweepTimer = setInterval(() => this.#store.sweep(), SWEEP_INTERVAL_MS)
    this.#sweepTimer.unref()
    if (this.#init.mdns === true) {
      // mDNS only announces peers: dial them so kad-dht can add them to its table.
      this.#mdnsListener = (evt) => {
        if (this.libp2p.getConnections(evt.detail.id).length === 0) {
          this.#log?.info({ peer: evt.detail.id.toString() }, 'peer found by mDNS: dialling it')
          this.libp2p.dial(evt.detail.id, { signal: AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS) }).catch(() => {})
        }
      }
      this.libp2p.addEventListener('peer:discovery', this.#mdnsListener)
    }
    await this.#bootstrap(0)
  }

  /** Stop every timer, watch and connection. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#lifecycle.abort()
    clearInterval(this.#sweepTimer)
    clearTimeout(this.#bootstrapTimer)
    clearTimeout(this.#joinTimer)
    if (this.#mdnsListener) this.libp2p.removeEventListener('peer:discovery', this.#mdnsListener)
    this.libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#listen.stop()
    this.#rpc.stop()
    this.#stoppedOnce = true
    await this.libp2p.unhandle(LISTEN_PROTOCOL).catch(() => {})
    await this.libp2p.unhandle(RPC_PROTOCOL).catch(() => {})
    await this.libp2p.stop()
  }

  /** Listen addresses peers announced in identify (what a FIND reply hands on), as bytes. */
  readonly #listenAddrs = new Map<string, Uint8Array[]>()

  readonly #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[]; listenAddrs: Multiaddr[] }>): void => {
    if (!this.#started) return
    if (this.#listenAddrs.size >= KAD_ID_CACHE_SIZE) this.#listenAddrs.clear()
    this.#listenAddrs.set(evt.detail.peerId.toString(), evt.detail.listenAddrs.map((a) => a.bytes))
    if (evt.detail.protocols.includes(RPC_PROTOCOL)) this.#rpc.warm(evt.detail.peerId)
  }

  /** What bootstrapSource named the last time it could be read. */
  #sourceList: string[] = []

  /** True when bootstrap peers are configured (statically, or named by bootstrapSource when last read). */
  get hasBootstrap(): boolean {
    return (this.#init.bootstrap?.length ?? 0) > 0 || this.#sourceList.length > 0
  }

  /** Bootstrap peers are configured and none is reachable: this node finds nobody (its health says so). */
  get cutOff(): boolean {
    return this.#started && this.hasBootstrap && this.isolated
  }

  /**
   * True when this node reaches no other node of the DHT: an empty routing table, or no open connection at all
   * (the peers it knew are gone, e.g. the bootstrap node restarted). A node with bootstrap peers bootstraps again.
   */
  get isolated(): boolean {
    return this.#kad.routingTable.size === 0 || this.libp2p.getConnections().length === 0
  }

  /** The bootstrap list: the configured one, plus what bootstrapSource says now (it may have moved). */
  async #bootstrapList(): Promise<string[]> {
    const source = this.#init.bootstrapSource
    if (source) {
      try {
        this.#sourceList = (await source()).filter((addr) => {
          try {
            return multiaddr(addr).getComponents().some((c) => c.name === 'p2p')
          } catch {
            return false
          }
        })
      } catch (e) {
        this.#log?.warn({ err: (e as Error).message }, 'bootstrap source unreadable: using what it said last')
      }
    }
    return [...new Set([...(this.#init.bootstrap ?? []), ...this.#sourceList])]
  }

  /**
   * Dial the bootstrap list (read again each time); while this node stays isolated, try again with back-off
   * (1 s … 30 s). Once joined, check every BOOTSTRAP_CHECK_MS that it still reaches a peer, and bootstrap again
   * when it does not: a restarted bootstrap node has lost every connection and routing-table entry to us.
   */
  async #bootstrap(attempt: number): Promise<void> {
    if (!this.#started || (!this.hasBootstrap && !this.#init.bootstrapSource)) return
    const list = await this.#bootstrapList()
    await Promise.allSettled(
      list.map(async (addr) => {
        const ma = multiaddr(addr)
        const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value
        if (id === undefined) throw new InvalidConfigError(`bootstrap address without /p2p/: ${addr}`)
        const peer = peerIdFromString(id)
        if (peer.equals(this.libp2p.peerId)) return
        await this.libp2p.peerStore.merge(peer, { multiaddrs: [ma], tags: { [`${KEEP_ALIVE}-baran-bootstrap`]: { value: 50 } } })
        await this.libp2p.dial(ma, { signal: AbortSignal.any([this.#lifecycle.signal, AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS)]) })
      }),
    ).then((results) => {
      // Say it once per outage, not at every retry.
      if (attempt === 0) for (const r of results) if (r.status === 'rejected') this.#log?.warn({ err: (r.reason as Error)?.message ?? r.reason }, 'bootstrap dial failed')
    })
    // kad-dht adds a peer once identify shows it speaks our protocol: wait for that, bounded.
    const deadline = Date.now() + BOOTSTRAP_DIAL_TIMEOUT_MS
    while (this.#started && this.isolated && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    if (!this.#started) return
    clearTimeout(this.#bootstrapTimer)
    if (!this.isolated) {
      if (attempt > 0) this.#log?.info({ attempts: attempt + 1, routingTable: this.#kad.routingTable.size }, 'bootstrapped again')
      void this.#join(0)
      this.#bootstrapTimer = setTimeout(() => this.#checkJoined(), BOOTSTRAP_CHECK_MS)
    } else {
      const delay = Math.min(1_000 * 2 ** attempt, BOOTSTRAP_RETRY_MAX_MS)
      this.#bootstrapTimer = setTimeout(() => void this.#bootstrap(attempt + 1), delay)
    }
    this.#bootstrapTimer.unref()
  }

  /** Still reaching a peer? Else bootstrap again (from attempt 0: a fresh outage). */
  #checkJoined(): void {
    if (!this.#started) return
    if (this.isolated) {
      this.#log?.warn({ routingTable: this.#kad.routingTable.size, connections: this.libp2p.getConnections().length }, 'no DHT peer reachable: bootstrapping again')
      void this.#bootstrap(0)
      return
    }
    this.#bootstrapTimer = setTimeout(() => this.#checkJoined(), BOOTSTRAP_CHECK_MS)
    this.#bootstrapTimer.unref()
  }

  /**
   * Join: look ourselves up so the peers near us learn of us and fill our buckets (kad-dht's own
   * self-query ran at start, with an empty table, and next runs in 5 minutes). Repeat with
   * back-off (1, 2, 4, 8 s) while the table is not full: peers that join at the same time, or
   * that were too busy to answer kad-dht's admission ping, appear later.
   */
  async #join(round: number): Promise<void> {
    if (!this.#started) return
    const before = this.#kad.routingTable.size
    try {
      const signal = AbortSignal.any([this.#lifecycle.signal, AbortSignal.timeout(DEFAULT_QUERY_TIMEOUT_MS)])
      await this.#lookup(this.libp2p.peerId.toMultihash().bytes, signal)
    } catch (err) {
      this.#log?.debug({ err }, 'self lookup failed')
    }
    // Stop early only once the table is as full as a bucket, or it stopped growing after a few rounds.
    const size = this.#kad.routingTable.size
    if (!this.#started || round >= JOIN_ROUNDS || size >= this.#k || (round >= 2 && size === before)) return
    this.#joinTimer = setTimeout(() => void this.#join(round + 1), 1_000 * 2 ** round)
    this.#joinTimer.unref()
  }

  #assertStarted(): void {
    if (!this.#started) throw new NodeNotStartedError()
  }

  #queryTimeoutMs(opts: QueryOptions): number {
    return opts.timeoutMs ?? this.#init.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
  }

  /** The bounds of one operation: the caller's signal (if any) and its deadline. */
  #bounds(opts: QueryOptions): Bounds {
    return { signal: opts.signal, deadline: performance.now() + this.#queryTimeoutMs(opts) }
  }

  /**
   * An abort signal for kad-dht calls within bounds (and the node's life). The fast path uses
   * plain deadlines instead: AbortSignal.timeout is tracked for GC and costs more than an rpc.
   */
  #kadSignal(b: Bounds): AbortSignal {
    const timeout = AbortSignal.timeout(remaining(b))
    return b.signal ? AbortSignal.any([b.signal, timeout, this.#lifecycle.signal]) : AbortSignal.any([timeout, this.#lifecycle.signal])
  }

  /** sha256 of peer IDs (their Kademlia IDs), computed once per peer. */
  readonly #kadIds = new Map<string, Uint8Array>()

  /** What the values a get received verified to (so a lookup checks each value once). */
  readonly #verified = new WeakMap<Uint8Array, VerifiedEntry>()

  /** The routing table hands out the same PeerId objects: remember their Kademlia IDs by object. */
  readonly #peerKadIds = new WeakMap<PeerId, Uint8Array>()

  #kadIdOfPeer(peer: PeerId): Uint8Array {
    let id = this.#peerKadIds.get(peer)
    if (id === undefined) {
      id = this.#kadIdOf(peer.toMultihash().bytes)
      this.#peerKadIds.set(peer, id)
    }
    return id
  }

  #kadIdOf(mh: Uint8Array, key = mhKey(mh)): Uint8Array {
    let id = this.#kadIds.get(key)
    if (id === undefined) {
      if (this.#kadIds.size >= KAD_ID_CACHE_SIZE) this.#kadIds.clear()
      id = sha256(mh)
      this.#kadIds.set(key, id)
    }
    return id
  }

  /**
   * The `replication` closest peers to a key, nearest first, by Kademlia's iterative lookup over
   * the rpc links (FIND): ask the closest peers known for their closest, then any closer peer
   * they name, until the closest all answered (on a warm table: one round). Much cheaper than
   * kad-dht's walk (a new stream per message). Undefined when it cannot finish that way: a
   * closer peer this node has no address for, or no convergence within FIND_ROUNDS; then
   * kad-dht's lookup is the way (it learns addresses as it goes). `answered`: peers that already
   * named their closest (a GET miss, by mhKey): they are not asked again.
   */
  async #findClosest(kb: Uint8Array, kadId: Uint8Array, b: Bounds, answered?: Map<string, NamedPeer[]>): Promise<PeerId[] | undefined> {
    const self = mhKey(this.libp2p.peerId.toMultihash().bytes)
    const cands = new Map<string, { peer: PeerId; d: Uint8Array }>()
    const add = (peer: PeerId, mh = peer.toMultihash().bytes): void => {
      const k = mhKey(mh)
      if (k !== self && !cands.has(k)) cands.set(k, { peer, d: xor(this.#kadIdOf(mh, k), kadId) })
    }
    for (const p of this.#nearest.closest(kadId, this.#replication)) add(p)
    const asked = new Set<string>(answered?.keys())
    let named: NamedPeer[] = [...(answered?.values() ?? [])].flat()
    for (let round = 0; round <= FIND_ROUNDS && !ended(b); round++) {
      for (const { id: mh, addrs } of named) {
        const k = mhKey(mh)
        if (k === self || cands.has(k)) continue
        const peer = peerFromMultihash(mh)
        if (peer === undefined) continue
        // A closer peer this node cannot dial: only kad-dht's lookup learns addresses.
        const farthest = [...cands.values()].map((c) => c.d).sort(xorCompare)[this.#replication - 1]
        const d = xor(this.#kadIdOf(mh, k), kadId)
        if (farthest !== undefined && xorCompare(d, farthest) >= 0) continue
        if (!(await this.#dialable(peer))) {
          // The responder's addresses for it, else only kad-dht's lookup can go on.
          const known = addrs.flatMap((a) => {
            try {
              return [multiaddr(a)]
            } catch {
              return []
            }
          })
          if (known.length === 0) return undefined
          await this.libp2p.peerStore.merge(peer, { multiaddrs: known })
        }
        cands.set(k, { peer, d })
      }
      if (round === FIND_ROUNDS) break
      const top = [...cands.entries()].sort((x, y) => xorCompare(x[1].d, y[1].d)).slice(0, this.#replication)
      const toAsk = top.filter(([k]) => !asked.has(k))
      if (toAsk.length === 0) return top.map(([, c]) => c.peer)
      const answers = await Promise.all(
        toAsk.map(async ([k, c]) => {
          asked.add(k)
          try {
            return decodePeers(await this.#rpc.request(c.peer, RPC_FIND, kb, { signal: b.signal, timeoutMs: remaining(b) }))
          } catch (err) {
            this.#log?.debug({ err, peer: c.peer.toString() }, 'find failed')
            return undefined
          }
        }),
      )
      named = []
      answers.forEach((a, i) => {
        if (a === undefined) cands.delete((toAsk[i] as [string, unknown])[0]) // unreachable: not one of the closest
        else named.push(...a)
      })
    }
    return undefined
  }

  /** Does this node have a connection to, or an address of, a peer? */
  async #dialable(peer: PeerId): Promise<boolean> {
    if (this.libp2p.getConnections(peer).length > 0) return true
    try {
      return (await this.libp2p.peerStore.get(peer)).addresses.length > 0
    } catch {
      return false
    }
  }

  /** The closest peers to a key: over rpc, else by kad-dht's lookup. */
  async #closest(kb: Uint8Array, b: Bounds): Promise<PeerId[]> {
    return (await this.#findClosest(kb, sha256(kb), b)) ?? (await this.#lookup(kb, this.#kadSignal(b)))
  }

  /** Closest peers to a DHT key by kad-dht's network lookup, nearest first (at most k). */
  async #lookup(key: Uint8Array, signal: AbortSignal): Promise<PeerId[]> {
    if (this.#kad.routingTable.size === 0) return []
    const peers: PeerId[] = []
    for await (const e of this.libp2p.services.dht.getClosestPeers(key, { signal })) {
      if (e.name === 'FINAL_PEER') peers.push(e.peer.id)
    }
    return peers
  }

  /** Closest peers to a key (network lookup), as peer ID strings, nearest first. */
  async closestPeers(key: string, opts: QueryOptions = {}): Promise<string[]> {
    this.#assertStarted()
    return (await this.#closest(keyBytes(parseKey(key).key), this.#bounds(opts))).map((p) => p.toString())
  }

  /**
   * Send one PUT to one peer; true if it stored the record. Over the rpc link; a peer that does
   * not speak it (or whose link failed) gets kad-dht's PUT_VALUE instead.
   */
  async #putTo(
    peer: PeerId,
    key: Uint8Array,
    record: () => Uint8Array,
    value: Uint8Array,
    b: Bounds,
    payload = encodePut(key, value),
    onRefused?: (err: DiscoveryError) => void,
  ): Promise<boolean> {
    try {
      await this.#rpc.request(peer, RPC_PUT, payload, { signal: b.signal, timeoutMs: remaining(b) })
      return true
    } catch (err) {
      // A refusal of its own kind (a full store, a quota) is what the publisher gets to see if no peer stores it.
      if (err instanceof DiscoveryError && !(err instanceof RpcFailedError)) onRefused?.(err)
      if (ended(b) || !(err instanceof RpcFailedError) || err.remoteCode !== undefined) {
        this.#log?.debug({ err, peer: peer.toString() }, 'put refused')
        return false
      }
    }
    try {
      for await (const e of this.#kad.network.sendRequest(peer, { type: 'PUT_VALUE', key, record: record() }, { signal: this.#kadSignal(b) })) {
        if (e.name === 'PEER_RESPONSE') return e.record != null && bytesEqual(e.record.value, value)
        if (e.name === 'QUERY_ERROR') return false
      }
    } catch (err) {
      this.#log?.debug({ err, peer: peer.toString() }, 'put to peer failed')
    }
    return false
  }

  /**
   * PUT a value to the peers closest to its key. It goes at once to the closest peers this
   * node's routing table knows (on a warm table: one round trip); then a network lookup runs and
   * any closer peer it finds gets it too. The put completes when the peers first asked
   * have answered and at least one stored it; otherwise (or with `waitForLookup`) it waits for the
   * lookup and its PUTs. The lookup and late PUTs go on after completion, bounded by the query
   * timeout and stop(). Refused by every peer: PublishFailedError. The value is checked here
   * first and stored here once the network took it (no stray copy of a refused put).
   */
  async #publish(key: string, value: Uint8Array, opts: PutOptions): Promise<PublishResult> {
    this.#assertStarted()
    this.#store.checkLocal(key, value)
    const kb = keyBytes(key)
    const kadId = sha256(kb)
    // Only kad-dht's PUT_VALUE (a peer without rpc) needs the record form.
    let serialized: Uint8Array | undefined
    const record = (): Uint8Array => {
      serialized ??= new Libp2pRecord(kb, value, new Date()).serialize()
      return serialized
    }
    // PUTs outlive the caller's wait (they finish in the background), but not the node.
    const bounds: Bounds = { deadline: performance.now() + this.#queryTimeoutMs(opts) }
    const asked = new Map<string, Promise<boolean>>()
    const payload = encodePut(kb, value) // the same PUT for every peer
    let refusal: DiscoveryError | undefined
    const send = (peer: PeerId): Promise<boolean> => {
      const id = peer.toString()
      let result = asked.get(id)
      if (result === undefined) {
        result = this.#putTo(peer, kb, record, value, bounds, payload, (err) => {
          refusal ??= err
        })
        asked.set(id, result)
      }
      return result
    }
    const first = this.#storingSet(kadId, this.#nearest.closest(kadId, this.#replication)).map(send)
    // The lookup starts once the first PUTs are answered: started together, they compete for the
    // same CPU and connections and the first answers come 2-3× later (measured in bench/).
    const lookup = Promise.allSettled(first)
      .then(() => this.#closest(kb, bounds))
      .then((peers) => Promise.all(this.#storingSet(kadId, peers).map(send)))
      .catch((err) => this.#log?.debug({ err, key }, 'lookup for put failed'))
    const caller = this.#bounds(opts)
    const firstStored = (await raceBounds(Promise.all(first), caller)).filter(Boolean).length
    if (firstStored === 0 || opts.waitForLookup === true) await raceBounds(lookup, caller)
    const settled = await raceBounds(Promise.all(asked.values()), caller)
    const stored = settled.filter(Boolean).length
    if (asked.size > 0 && stored === 0) {
      throw new PublishFailedError(`none of ${asked.size} peers stored ${key}${refusal ? `: ${refusal.message}` : ''}`, { cause: refusal })
    }
    try {
      this.#store.storeLocal(key, value)
    } catch (err) {
      // A newer record arrived meanwhile: the network has what it needs.
      this.#log?.debug({ err, key }, 'local store refused after publish')
    }
    return { key, stored, attempted: asked.size }
  }

  /**
   * The other peers of the `replication` closest to a key, this node included in the ranking:
   * when this node is one of them it stores the record itself, so one fewer peer is needed.
   */
  #storingSet(kadId: Uint8Array, peers: PeerId[]): PeerId[] {
    const ranked = peers.map((p) => ({ p, id: this.#kadIdOfPeer(p) })).sort((a, b) => compareDistance(a.id, b.id, kadId))
    const closerThanSelf = ranked.filter((r) => compareDistance(r.id, this.#selfKadId, kadId) < 0).length
    const count = closerThanSelf < this.#replication ? this.#replication - 1 : this.#replication
    return ranked.slice(0, count).map((r) => r.p)
  }

  /**
   * Ask one peer for the record under a key; the value if it sent a valid one. Over the rpc link;
   * kad-dht's GET_VALUE for a peer that does not speak it. A miss over rpc names the peer's
   * closest peers to the key: kept in `misses` (by the peer's mhKey) for the lookup that follows.
   */
  async #getFrom(peer: PeerId, key: Uint8Array, b: Bounds, misses?: Map<string, NamedPeer[]>): Promise<Uint8Array | undefined> {
    try {
      const reply = decodeGetReply(await this.#rpc.request(peer, RPC_GET, key, { signal: b.signal, timeoutMs: remaining(b) }))
      if (reply.value === undefined) {
        if (reply.peers.length > 0) misses?.set(mhKey(peer.toMultihash().bytes), reply.peers)
        return undefined
      }
      const value = reply.value
      this.#verified.set(value, this.#policy.verify(key, value))
      return value
    } catch (err) {
      // Only a peer that could not be asked over rpc (no answer at all) is asked over kad-dht.
      if (ended(b) || !(err instanceof RpcFailedError) || err.remoteCode !== undefined) {
        this.#log?.debug({ err, peer: peer.toString() }, 'get from peer failed')
        return undefined
      }
    }
    try {
      for await (const e of this.#kad.network.sendRequest(peer, { type: 'GET_VALUE', key }, { signal: this.#kadSignal(b) })) {
        if (e.name === 'QUERY_ERROR') return undefined
        if (e.name !== 'PEER_RESPONSE') continue
        if (e.record == null || !bytesEqual(e.record.key, key)) return undefined
        this.#policy.verify(key, e.record.value)
        return e.record.value
      }
    } catch (err) {
      this.#log?.debug({ err, peer: peer.toString() }, 'get from peer failed')
    }
    return undefined
  }

  /**
   * Values found for a key, stopping at the quorum: this node's own copy, then the closest peers
   * its routing table knows (one round trip on a warm table); short of the quorum, the closest
   * peers found over rpc; only when that cannot finish, a full Kademlia GET query.
   */
  async #getValues(key: string, opts: GetOptions): Promise<Uint8Array[]> {
    const quorum = Math.max(1, opts.quorum ?? this.#init.getQuorum ?? DEFAULT_GET_QUORUM)
    const bounds = this.#bounds(opts)
    const values: Uint8Array[] = []
    const local = this.#store.getRecord(key)
    if (local !== undefined) values.push(local)
    if (values.length >= quorum) return values
    const kb = keyBytes(key)
    const kadId = sha256(kb)
    const near = this.#nearest.closest(kadId, this.#replication)
    const asked = new Set(near.map((p) => p.toString()))
    const misses = new Map<string, NamedPeer[]>()
    await this.#askForValues(near, kb, bounds, values, quorum, misses)
    if (values.length >= quorum || ended(bounds)) return values
    // Short of the quorum: the network's closest peers may be others than this table's (a table
    // still filling, churn). Find them over rpc (starting from what the misses named) and ask
    // those not asked yet; that settles it.
    const closest = await this.#findClosest(kb, kadId, bounds, misses)
    if (closest !== undefined) {
      const more = closest.filter((p) => !asked.has(p.toString()))
      for (const p of more) asked.add(p.toString())
      await this.#askForValues(more, kb, bounds, values, quorum)
      return values
    }
    try {
      for await (const e of this.#kad.contentFetching.getMany(kb, { signal: this.#kadSignal(bounds) })) {
        if (e.name !== 'VALUE' || e.from.equals(this.libp2p.peerId) || asked.has(e.from.toString())) continue
        values.push(e.value)
        if (values.length >= quorum) break // leaving the loop aborts the rest of the query
      }
    } catch (err) {
      // A timeout keeps what arrived; a caller's abort is theirs to see.
      if (opts.signal?.aborted === true) throw err
      this.#log?.debug({ err, key }, 'get ended early')
    }
    return values
  }

  /**
   * Ask `peers` (closest first) for the value until `values` holds `quorum`, with just enough
   * requests in flight to make it (Kademlia's alpha): a miss or a failure asks the next peer; a
   * wave slower than the links' usual round trip (hedge) asks all the rest at once.
   */
  #askForValues(peers: PeerId[], kb: Uint8Array, bounds: Bounds, values: Uint8Array[], quorum: number, misses?: Map<string, NamedPeer[]>): Promise<void> {
    if (peers.length === 0 || values.length >= quorum) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let next = 0
      let inflight = 0
      let finished = false
      const finish = (): void => {
        finished = true
        clearTimeout(hedge)
        resolve()
      }
      const ask = (peer: PeerId): void => {
        inflight++
        void this.#getFrom(peer, kb, bounds, misses).then((v) => {
          inflight--
          if (finished) return // answers after the quorum are dropped
          if (v !== undefined) values.push(v)
          pump()
        })
      }
      const pump = (): void => {
        if (values.length >= quorum) {
          finish()
          return
        }
        while (next < peers.length && values.length + inflight < quorum) ask(peers[next++] as PeerId)
        if (inflight === 0) finish()
      }
      const hedge = setTimeout(() => {
        while (!finished && next < peers.length) ask(peers[next++] as PeerId)
      }, this.#rpc.hedgeMs)
      pump()
    })
  }

  /** The best valid entry among the values found for a key. */
  async #lookupEntry(key: string, opts: GetOptions): Promise<VerifiedEntry | undefined> {
    this.#assertStarted()
    const entries: VerifiedEntry[] = []
    for (const v of await this.#getValues(key, opts)) {
      // Values from peers were checked as they came; only this node's own copy is checked here.
      const known = this.#verified.get(v)
      if (known !== undefined) entries.push(known)
      else {
        try {
          entries.push(this.#policy.verify(key, v))
        } catch {
          // not valid (any more): left out
        }
      }
    }
    if (entries.length === 0) return undefined
    return entries[this.#policy.selectVerified(key, entries)]
  }

  /** Publish a device's presence bundle (already signed by identity) under /baran-presence/<deviceId>. */
  async publishPresence(bundle: PresenceBundle | Uint8Array, opts: PutOptions = {}): Promise<PublishResult> {
    const bytes = bundle instanceof Uint8Array ? bundle : encodeBundle(bundle)
    return this.#publish(presenceKey(this.#deviceIdOf(bytes)), bytes, opts)
  }

  #deviceIdOf(bytes: Uint8Array): string {
    // The key comes from the certificate inside; verify() then checks it all.
    try {
      const b = JSON.parse(Buffer.from(bytes).toString('utf8')) as { deviceCert?: { body?: { deviceId?: unknown } } }
      const id = b.deviceCert?.body?.deviceId
      if (typeof id === 'string') return id
    } catch {
      // fall through
    }
    throw new InvalidKeyError('presence bundle names no deviceId')
  }

  /** The newest valid presence of a device, or undefined. */
  async lookupPresence(deviceId: string, opts: GetOptions = {}): Promise<VerifiedPresence | undefined> {
    const entry = await this.#lookupEntry(presenceKey(deviceId), opts)
    return entry?.kind === 'presence' ? entry.presence : undefined
  }

  /** Publish an account's device-list bundle (signed by identity) under /baran-devices/<accountId>. */
  async publishDeviceList(bundle: DeviceListBundle | Uint8Array, opts: PutOptions = {}): Promise<PublishResult> {
    const bytes = bundle instanceof Uint8Array ? bundle : encodeBundle(bundle)
    let accountId: unknown
    try {
      accountId = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { deviceList?: { body?: { accountId?: unknown } } }).deviceList?.body
        ?.accountId
    } catch {
      accountId = undefined
    }
    if (typeof accountId !== 'string') throw new InvalidKeyError('device-list bundle names no accountId')
    return this.#publish(deviceListKey(accountId), bytes, opts)
  }

  /** The newest valid device list of an account, or undefined. */
  async lookupDeviceList(accountId: string, opts: GetOptions = {}): Promise<VerifiedDeviceList | undefined> {
    const entry = await this.#lookupEntry(deviceListKey(accountId), opts)
    return entry?.kind === 'device-list' ? entry.deviceList : undefined
  }

  /** An account's devices (revoked ones left out), each with its presence if it has one. */
  lookupAccount(accountId: string, opts: GetOptions = {}): Promise<AccountLookup | undefined> {
    return lookupAccountFrom(this, this.#policy.revocations, accountId, opts)
  }

  /**
   * Put an opaque value (≤ maxValueBytes) under `/baran-value/<40 hex>` for ttlMs (≤ 1 day).
   * Pass a deleteToken to choose it; else a random one is made. Keep it to delete the value.
   */
  async putValue(
    key: string,
    value: Uint8Array,
    opts: PutOptions & { ttlMs?: number; deleteToken?: Uint8Array } = {},
  ): Promise<PutValueResult> {
    if (parseKey(key).kind !== 'value') throw new InvalidKeyError('putValue needs a /baran-value/<40 hex> key')
    const ttlMs = checkTtl(opts.ttlMs ?? DEFAULT_VALUE_TTL_MS)
    const deleteToken = opts.deleteToken ?? newDeleteToken()
    const expiresAt = this.#policy.now() + ttlMs
    const bytes = encodeValue(value, { expiresAt, deleteToken, maxValueBytes: this.#policy.maxValueBytes })
    const result = await this.#publish(key, bytes, opts)
    return { ...result, deleteToken, expiresAt }
  }

  /** The live value under a key, or undefined (never put, expired or deleted). */
  async getValue(key: string, opts: GetOptions = {}): Promise<Uint8Array | undefined> {
    if (parseKey(key).kind !== 'value') throw new InvalidKeyError('getValue needs a /baran-value/<40 hex> key')
    const entry = await this.#lookupEntry(key, opts)
    return entry?.kind === 'value' && entry.value.kind === 'data' ? entry.value.data : undefined
  }

  /** Delete a value with the token it was put with: a tombstone replaces it for a day. */
  async deleteValue(key: string, deleteToken: Uint8Array, opts: PutOptions = {}): Promise<PublishResult> {
    if (parseKey(key).kind !== 'value') throw new InvalidKeyError('deleteValue needs a /baran-value/<40 hex> key')
    return this.#publish(key, encodeTombstone(deleteToken, this.#policy.now() + MAX_VALUE_TTL_MS), opts)
  }

  /**
   * Watch a key, `{ deviceId }` (its presence) or `{ accountId }` (its device list and each
   * device's presence). `onEvent` gets each verified record once. Returns the unwatch function.
   */
  watch(target: WatchTarget, onEvent: (e: WatchEvent) => void, opts: WatchOptions = {}): () => void {
    this.#assertStarted()
    return this.#listen.watch(target, onEvent, opts)
  }

  /** Send a value to one peer's store directly (no lookup); true if that peer stored it. */
  async sendPut(peerId: string, key: string, value: Uint8Array, opts: QueryOptions = {}): Promise<boolean> {
    this.#assertStarted()
    const kb = keyBytes(parseKey(key).key)
    return this.#putTo(peerIdFromString(peerId), kb, () => new Libp2pRecord(kb, value, new Date()).serialize(), value, this.#bounds(opts))
  }

  /** The valid value this node itself stores under a key, if any. */
  getLocalRecord(key: string): Uint8Array | undefined {
    return this.#store.getRecord(parseKey(key).key)
  }

  /** Call `listener` when this node's own addresses change; returns an unsubscribe. */
  onAddressesChange(listener: (addrs: string[]) => void): () => void {
    const handler = (): void => listener(this.multiaddrs())
    this.libp2p.addEventListener('self:peer:update', handler)
    return () => this.libp2p.removeEventListener('self:peer:update', handler)
  }

  /**
   * Call `listener` with the routing table's size each time a peer enters or leaves it (kad-dht's
   * table emits `peer:add`/`peer:remove`; the same table lives across stop/start); returns an unsubscribe.
   */
  onRoutingTableChange(listener: (size: number) => void): () => void {
    const table = this.#kad.routingTable as unknown as Pick<EventTarget, 'addEventListener' | 'removeEventListener'>
    const handler = (): void => listener(this.#kad.routingTable.size)
    table.addEventListener('peer:add', handler)
    table.addEventListener('peer:remove', handler)
    return () => {
      table.removeEventListener('peer:add', handler)
      table.removeEventListener('peer:remove', handler)
    }
  }

  stats(): DiscoveryStats {
    const subs = this.#listen.subscriptions
    return {
      // Distinct remote peers of the open connections (getPeers() round-trips every ID through base58).
      peers: new Set(this.libp2p.getConnections().map((c) => c.remotePeer.toString())).size,
      routingTableSize: this.#kad.routingTable.size,
      storedRecords: this.#store.recordCount,
      subscriptions: subs.count,
      watches: this.#listen.watches.count,
      pushesSent: subs.pushesSent,
      pushesFailed: subs.pushesFailed,
      pushesReceived: this.#listen.watches.pushesReceived,
      store: this.#store.figures(),
    }
  }
}
