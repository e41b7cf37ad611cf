import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type Identify, identify } from '@libp2p/identify'
import { KEEP_ALIVE, type PeerId, type PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Ping, ping } from '@libp2p/ping'
import { Libp2pRecord } from '@libp2p/record'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { xor } from 'uint8arrays/xor'
import { xorCompare } from 'uint8arrays/xor-compare'
import { bytesEqual, sha256 } from './bytes.ts'
import {
  BOOTSTRAP_DIAL_TIMEOUT_MS,
  BOOTSTRAP_RETRY_MAX_MS,
  DEFAULT_GET_QUORUM,
  DEFAULT_K,
  DEFAULT_LISTEN,
  DEFAULT_QUERY_TIMEOUT_MS,
  DEFAULT_REPLICATION,
  DEFAULT_VALUE_TTL_MS,
  JOIN_ROUNDS,
  KAD_PROTOCOL,
  LISTEN_PROTOCOL,
  MAX_VALUE_TTL_MS,
  SWEEP_INTERVAL_MS,
} from './constants.ts'
import { InvalidConfigError, InvalidKeyError, NodeNotStartedError, PublishFailedError } from './errors.ts'
import { type KadInternals, kadInternals } from './kad-internals.ts'
import { deviceListKey, keyBytes, parseKey, presenceKey, type WatchTarget } from './keys.ts'
import { ListenService, type ListenLimits, type WatchEvent, type WatchOptions } from './listen.ts'
import { RecordPolicy, type VerifiedEntry } from './policy.ts'
import {
  type DeviceListBundle,
  encodeBundle,
  type PresenceBundle,
  type VerifiedDeviceList,
  type VerifiedPresence,
} from './records.ts'
import { type Logger, RecordStore } from './store.ts'
import { checkTtl, encodeTombstone, encodeValue, newDeleteToken } from './values.ts'

/** Options of createDiscoveryNode; every option is optional. */
export interface DiscoveryNodeInit {
  /** Multiaddrs to listen on (TCP; `/ws` ones use WebSockets). @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Bootstrap peers: multiaddrs ending in /p2p/<peerId>. Empty: this node is its own network. @default [] */
  bootstrap?: string[]
  /** The node's libp2p key (its PeerId). @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /** Find peers on the LAN with mDNS. @default false */
  mdns?: boolean
  /** Query the DHT without serving it (no records stored for others). @default false */
  clientMode?: boolean
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

/** An account's devices with where each can be reached now (what the outbox needs). */
export interface AccountLookup {
  accountId: string
  deviceList: VerifiedDeviceList
  devices: Array<{ deviceId: string; deviceKey: string; name: string; presence?: VerifiedPresence }>
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

/** Create (and by default start) a discovery node. Throws InvalidConfigError for bad options. */
export async function createDiscoveryNode(init: DiscoveryNodeInit = {}): Promise<DiscoveryNode> {
  checkInit(init)
  const policy = new RecordPolicy({ now: init.now, clockSkewMs: init.clockSkewMs, maxValueBytes: init.maxValueBytes })
  const store = new RecordStore(policy, { log: init.log })
  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey: init.privateKey,
    datastore: store,
    addresses: { listen: init.listen ?? DEFAULT_LISTEN },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Many local nodes dial one bootstrap at once: the default (5/s per host) resets them.
    connectionManager: { inboundConnectionThreshold: 1_000 },
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
  #listen: ListenService
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
    this.#listen = this.#newListen()
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
        closestPeers: async (key, signal) => {
          const kb = keyBytes(key)
          return this.#storingSet(sha256(kb), await this.#lookup(kb, signal)).map((p) => p.toString())
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
    if (this.#stoppedOnce) this.#listen = this.#newListen()
    await this.libp2p.start()
    await this.libp2p.handle(
      LISTEN_PROTOCOL,
      (stream, connection) => this.#listen.handle(stream, connection.remotePeer.toString()),
      { maxInboundStreams: 64, maxOutboundStreams: 64 },
    )
    this.#started = true
    this.#sweepTimer = setInterval(() => this.#store.sweep(), SWEEP_INTERVAL_MS)
    this.#sweepTimer.unref()
    if (this.#init.mdns === true) {
      // mDNS only announces peers: dial them so kad-dht can add them to its table.
      this.#mdnsListener = (evt) => {
        if (this.libp2p.getConnections(evt.detail.id).length === 0) {
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
    this.#listen.stop()
    this.#stoppedOnce = true
    await this.libp2p.unhandle(LISTEN_PROTOCOL).catch(() => {})
    await this.libp2p.stop()
  }

  /** Dial the bootstrap list; while the routing table stays empty, try again with back-off. */
  async #bootstrap(attempt: number): Promise<void> {
    const list = this.#init.bootstrap ?? []
    if (list.length === 0 || !this.#started) return
    await Promise.allSettled(
      list.map(async (addr) => {
        const ma = multiaddr(addr)
        const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value
        if (id === undefined) throw new InvalidConfigError(`bootstrap address without /p2p/: ${addr}`)
        const peer = peerIdFromString(id)
        if (peer.equals(this.libp2p.peerId)) return
        await this.libp2p.peerStore.merge(peer, { multiaddrs: [ma], tags: { [`${KEEP_ALIVE}-baran-bootstrap`]: { value: 50 } } })
        await this.libp2p.dial(ma, { signal: AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS) })
      }),
    ).then((results) => {
      for (const r of results) if (r.status === 'rejected') this.#log?.warn({ err: r.reason }, 'bootstrap dial failed')
    })
    // kad-dht adds a peer once identify shows it speaks our protocol: wait for that, bounded.
    const deadline = Date.now() + BOOTSTRAP_DIAL_TIMEOUT_MS
    while (this.#started && this.#kad.routingTable.size === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    if (this.#started && this.#kad.routingTable.size > 0) {
      void this.#join(0)
    } else if (this.#started) {
      const delay = Math.min(1_000 * 2 ** attempt, BOOTSTRAP_RETRY_MAX_MS)
      this.#bootstrapTimer = setTimeout(() => void this.#bootstrap(attempt + 1), delay)
      this.#bootstrapTimer.unref()
    }
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

  #signal(opts: QueryOptions): AbortSignal {
    const timeout = AbortSignal.timeout(this.#queryTimeoutMs(opts))
    return opts.signal ? AbortSignal.any([opts.signal, timeout, this.#lifecycle.signal]) : AbortSignal.any([timeout, this.#lifecycle.signal])
  }

  /** Closest peers to a DHT key by a network lookup, nearest first (at most k). */
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
    return (await this.#lookup(keyBytes(parseKey(key).key), this.#signal(opts))).map((p) => p.toString())
  }

  /** Send one PUT to one peer; true if it answered with the record stored. */
  async #putTo(peer: PeerId, key: Uint8Array, record: Uint8Array, value: Uint8Array, signal: AbortSignal): Promise<boolean> {
    try {
      for await (const e of this.#kad.network.sendRequest(peer, { type: 'PUT_VALUE', key, record }, { signal })) {
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
    const record = new Libp2pRecord(kb, value, new Date()).serialize()
    // PUTs outlive the caller's wait (they finish in the background), but not the node.
    const signal = AbortSignal.any([this.#lifecycle.signal, AbortSignal.timeout(this.#queryTimeoutMs(opts))])
    const asked = new Map<string, Promise<boolean>>()
    const send = (peer: PeerId): Promise<boolean> => {
      const id = peer.toString()
      let result = asked.get(id)
      if (result === undefined) {
        result = this.#putTo(peer, kb, record, value, signal)
        asked.set(id, result)
      }
      return result
    }
    const first = this.#storingSet(kadId, this.#kad.routingTable.closestPeers(kadId, { count: this.#replication })).map(send)
    // The lookup starts once the first PUTs are answered: started together, they compete for the
    // same CPU and connections and the first answers come 2-3× later (measured in bench/).
    const lookup = Promise.allSettled(first)
      .then(() => this.#lookup(kb, signal))
      .then((peers) => Promise.all(this.#storingSet(kadId, peers).map(send)))
      .catch((err) => this.#log?.debug({ err, key }, 'lookup for put failed'))
    const firstStored = (await this.#raceCaller(Promise.all(first), opts)).filter(Boolean).length
    if (firstStored === 0 || opts.waitForLookup === true) await this.#raceCaller(lookup, opts)
    const settled = await this.#raceCaller(Promise.all(asked.values()), opts)
    const stored = settled.filter(Boolean).length
    if (asked.size > 0 && stored === 0) throw new PublishFailedError(`none of ${asked.size} peers stored ${key}`)
    try {
      this.#store.storeLocal(key, value)
    } catch (err) {
      // A newer record arrived meanwhile: the network has what it needs.
      this.#log?.debug({ err, key }, 'local store refused after publish')
    }
    return { key, stored, attempted: asked.size }
  }

  /** Wait for `p`, but no longer than the caller's signal and timeout allow. */
  async #raceCaller<T>(p: Promise<T>, opts: QueryOptions): Promise<T> {
    const signal = this.#signal(opts)
    signal.throwIfAborted()
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  /**
   * The other peers of the `replication` closest to a key, this node included in the ranking:
   * when this node is one of them it stores the record itself, so one fewer peer is needed.
   */
  #storingSet(kadId: Uint8Array, peers: PeerId[]): PeerId[] {
    const distance = (id: Uint8Array): Uint8Array => xor(id, kadId)
    const self = distance(this.#selfKadId)
    const ranked = peers.map((p) => ({ p, d: distance(sha256(p.toMultihash().bytes)) })).sort((a, b) => xorCompare(a.d, b.d))
    const closerThanSelf = ranked.filter((r) => xorCompare(r.d, self) < 0).length
    const count = closerThanSelf < this.#replication ? this.#replication - 1 : this.#replication
    return ranked.slice(0, count).map((r) => r.p)
  }

  /** Ask one peer for the record under a key; the value if it sent a valid one. */
  async #getFrom(peer: PeerId, key: Uint8Array, signal: AbortSignal): Promise<Uint8Array | undefined> {
    try {
      for await (const e of this.#kad.network.sendRequest(peer, { type: 'GET_VALUE', key }, { signal })) {
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
   * its routing table knows, all asked at once (one round trip on a warm table); only when they
   * do not make the quorum, a full Kademlia GET query.
   */
  async #getValues(key: string, opts: GetOptions): Promise<Uint8Array[]> {
    const quorum = Math.max(1, opts.quorum ?? this.#init.getQuorum ?? DEFAULT_GET_QUORUM)
    const signal = this.#signal(opts)
    const values: Uint8Array[] = []
    const local = this.#store.getRecord(key)
    if (local !== undefined) values.push(local)
    if (values.length >= quorum) return values
    const kb = keyBytes(key)
    const kadId = sha256(kb)
    const near = this.#kad.routingTable.closestPeers(kadId, { count: this.#replication })
    const asked = new Set(near.map((p) => p.toString()))
    if (near.length > 0) {
      const enough = new AbortController()
      const both = AbortSignal.any([signal, enough.signal])
      let done = false
      await new Promise<void>((resolve) => {
        let pending = near.length
        for (const peer of near) {
          void this.#getFrom(peer, kb, both).then((v) => {
            if (done) return
            if (v !== undefined) values.push(v)
            if (values.length >= quorum || --pending === 0) resolve()
          })
        }
      })
      done = true
      enough.abort() // answers still on their way are not needed
    }
    if (values.length >= quorum || signal.aborted) return values
    try {
      for await (const e of this.#kad.contentFetching.getMany(kb, { signal })) {
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

  /** The best valid entry among the values found for a key. */
  async #lookupEntry(key: string, opts: GetOptions): Promise<VerifiedEntry | undefined> {
    this.#assertStarted()
    const values = (await this.#getValues(key, opts)).filter((v) => {
      try {
        this.#policy.verify(key, v)
        return true
      } catch {
        return false
      }
    })
    if (values.length === 0) return undefined
    return this.#policy.verify(key, values[this.#policy.select(key, values)] as Uint8Array)
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
  async lookupAccount(accountId: string, opts: GetOptions = {}): Promise<AccountLookup | undefined> {
    const deviceList = await this.lookupDeviceList(accountId, opts)
    if (deviceList === undefined) return undefined
    const revoked = new Set(deviceList.revocations?.devices ?? [])
    const live = deviceList.devices.filter((d) => !revoked.has(d.deviceId) && !this.#policy.revocations.isRevoked(accountId, d.deviceId))
    const devices = await Promise.all(
      live.map(async (d) => {
        const presence = await this.lookupPresence(d.deviceId, opts).catch(() => undefined)
        // The presence must be this account's, for the listed key.
        const ok = presence !== undefined && presence.accountId === accountId && presence.deviceKey === d.deviceKey
        return ok ? { ...d, presence } : { ...d }
      }),
    )
    return { accountId, deviceList, devices }
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
    const record = new Libp2pRecord(kb, value, new Date()).serialize()
    return this.#putTo(peerIdFromString(peerId), kb, record, value, this.#signal(opts))
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

  stats(): DiscoveryStats {
    const subs = this.#listen.subscriptions
    return {
      peers: this.libp2p.getPeers().length,
      routingTableSize: this.#kad.routingTable.size,
      storedRecords: this.#store.recordCount,
      subscriptions: subs.count,
      watches: this.#listen.watches.count,
      pushesSent: subs.pushesSent,
      pushesFailed: subs.pushesFailed,
      pushesReceived: this.#listen.watches.pushesReceived,
    }
  }
}
