import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { type AccountLookup, lookupAccountFrom } from './account.ts'
import { Bootstrapper } from './bootstrap.ts'
import { BOOTSTRAP_DIAL_TIMEOUT_MS, DEFAULT_K, DEFAULT_LISTEN, DEFAULT_QUERY_TIMEOUT_MS, DEFAULT_REPLICATION, DEFAULT_VALUE_TTL_MS, DEVICE_LIST_REUSE_MS, MAX_REUSED_DEVICE_LISTS, MAX_VALUE_TTL_MS, RPC_PROTOCOL, SWEEP_INTERVAL_MS } from './constants.ts'
import { DhtGet } from './dht-get.ts'
import type { DhtParts } from './dht-parts.ts'
import { DhtPut } from './dht-put.ts'
import { InvalidKeyError, NodeNotStartedError } from './errors.ts'
import { type KadInternals, kadInternals } from './kad-internals.ts'
import { deviceListKey, keyBytes, parseKey, presenceKey, type WatchTarget } from './keys.ts'
import { createDiscoveryLibp2p, type DiscoveryLibp2p } from './libp2p-stack.ts'
import type { FetchRequest } from './mailbox-fetch-auth.ts'
import type { DeleteRequest, MailboxId, MailboxItem } from './mailbox-item.ts'
import { MailboxService, type MailboxPutResult } from './mailbox-service.ts'
import type { WatchService, WatchEvent, WatchOptions } from './watch.ts'
import { createWatchService, createRpc, directHost, rpcCounts } from './node-links.ts'
import {
  checkInit,
  type DiscoveryNodeInit,
  type DiscoveryStats,
  type GetOptions,
  type PublishResult,
  type PutOptions,
  type PutValueResult,
  type QueryOptions,
} from './node-options.ts'
import { RecordPolicy, type VerifiedEntry } from './policy.ts'
import { type DeviceListBundle, encodeBundle, type PresenceBundle, type VerifiedDeviceList, type VerifiedPresence } from './records.ts'
import { RecentLookups } from './recent-lookups.ts'
import { Routing } from './routing.ts'
import type { Rpc } from './rpc.ts'
import { UdpEndpoint } from './rpc-udp.ts'
import { VerifiedRecordStore } from './store.ts'
import { checkTtl, encodeTombstone, encodeValue, newDeleteToken } from './values.ts'

export type { DiscoveryNodeInit, DiscoveryStats, GetOptions, PublishResult, PutOptions, PutValueResult, QueryOptions } from './node-options.ts'

/** Create (and by default start) a discovery node. Throws InvalidConfigError for bad options. */
export async function createDiscoveryNode(init: DiscoveryNodeInit = {}): Promise<DiscoveryNode> {
  checkInit(init)
  const policy = new RecordPolicy({ now: init.now, clockSkewMs: init.clockSkewMs, maxValueBytes: init.maxValueBytes })
  const store = new VerifiedRecordStore(policy, { log: init.log, limits: init.storeLimits })
  const libp2p = await createDiscoveryLibp2p(init, policy, store)
  const node = new DiscoveryNode(libp2p, policy, store, init)
  if (init.start !== false) await node.start()
  return node
}

/**
 * A Kademlia DHT node in Baran's own namespace (`/baran/kad/1.0.0`) that stores only records
 * that verify (signed presence and device lists, opaque values with a TTL), plus watches.
 * Its parts: routing.ts (closest peers), dht-get.ts and dht-put.ts (the operations),
 * node-links.ts (the rpc handlers and the watch service), bootstrap.ts (joining and staying joined).
 */
export class DiscoveryNode {
  /** The libp2p host, for what this class does not wrap. */
  readonly libp2p: DiscoveryLibp2p
  readonly peerId: string
  readonly #policy: RecordPolicy
  readonly #store: VerifiedRecordStore
  readonly #kad: KadInternals
  readonly #routing: Routing
  readonly #parts: DhtParts
  readonly #get: DhtGet
  readonly #put: DhtPut
  readonly #bootstrapper: Bootstrapper
  readonly #mailbox: MailboxService
  /** Device lists found lately (lookupDeviceList). */
  readonly #deviceLists: RecentLookups<VerifiedDeviceList>
  #watch: WatchService
  #rpc: Rpc
  readonly #init: DiscoveryNodeInit
  #started = false
  #stoppedOnce = false
  /** Aborted by stop(): ends background work (late PUTs, lookups). */
  #lifecycle = new AbortController()
  #sweepTimer?: NodeJS.Timeout
  #mdnsListener?: (evt: CustomEvent<{ id: PeerId }>) => void

  constructor(libp2p: DiscoveryLibp2p, policy: RecordPolicy, store: VerifiedRecordStore, init: DiscoveryNodeInit) {
    this.libp2p = libp2p
    this.peerId = libp2p.peerId.toString()
    this.#policy = policy
    this.#store = store
    this.#init = init
    const replication = init.replication ?? DEFAULT_REPLICATION
    this.#kad = kadInternals(libp2p.services.dht)
    const kadMessages = { count: 0 }
    this.#routing = new Routing({
      libp2p,
      kad: this.#kad,
      replication,
      kadMessages,
      rpc: () => this.#rpc,
      lifecycle: () => this.#lifecycle.signal,
      log: init.log,
    })
    this.#parts = {
      libp2p,
      policy,
      store,
      kad: this.#kad,
      routing: this.#routing,
      replication,
      log: init.log,
      kadMessages,
      rpcSent: new Map(),
      rpc: () => this.#rpc,
      lifecycle: () => this.#lifecycle.signal,
      queryTimeoutMs: (timeoutMs) => timeoutMs ?? init.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    }
    this.#get = new DhtGet(this.#parts, init.getQuorum, init.getParallelism)
    this.#put = new DhtPut(this.#parts)
    this.#bootstrapper = new Bootstrapper({
      libp2p,
      routing: this.#routing,
      k: init.kBucketSize ?? DEFAULT_K,
      bootstrap: init.bootstrap,
      bootstrapSource: init.bootstrapSource,
      log: init.log,
    })
    this.#mailbox = new MailboxService(this.#parts, {
      limits: init.mailboxLimits,
      maintenanceMs: init.mailboxMaintenanceMs,
      clockSkewMs: init.clockSkewMs,
      clientMode: init.clientMode === true,
    })
    this.#rpc = this.#newRpc()
    this.#watch = this.#newWatch()
    this.#deviceLists = new RecentLookups({ reuseMs: DEVICE_LIST_REUSE_MS, max: MAX_REUSED_DEVICE_LISTS, ...(init.now ? { now: init.now } : {}) })
    // A record stored here (a PUT, this node's own publish) may be newer than a list found before it.
    store.onRecord((r) => this.#deviceLists.forget(r.key))
  }

  #newRpc(): Rpc {
    const rpc = createRpc(this.#parts, { clientMode: this.#init.clientMode === true, watch: () => this.#watch, udpRetryMs: this.#init.udpRetryMs })
    this.#mailbox.serve(rpc)
    return rpc
  }

  #newWatch(): WatchService {
    return createWatchService(this.#parts, { get: this.#get, limits: this.#init.watchLimits ?? this.#init.listenLimits })
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
      this.#watch = this.#newWatch()
    }
    await this.libp2p.start()
    if (this.#init.udpRpc !== false) await this.#bindUdp()
    // One long-lived stream each way per peer; a few more for links re-opened after a failure.
    await this.libp2p.handle(RPC_PROTOCOL, (stream, connection) => this.#rpc.serve(stream, connection.remotePeer.toString(), directHost(connection.remoteAddr)), {
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    })
    // Warm links: open the rpc stream as soon as a peer shows it speaks it, so no get or put pays for it.
    this.libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#started = true
    this.#sweepTimer = setInterval(() => {
      this.#store.sweep()
      this.#mailbox.store.sweep()
    }, SWEEP_INTERVAL_MS)
    this.#sweepTimer.unref()
    if (this.#init.mdns === true) {
      // mDNS only announces peers: dial them so kad-dht can add them to its table.
      this.#mdnsListener = (evt) => {
        if (this.libp2p.getConnections(evt.detail.id).length === 0) {
          this.#init.log?.info({ peer: evt.detail.id.toString() }, 'peer found by mDNS: dialling it')
          this.libp2p.dial(evt.detail.id, { signal: AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS) }).catch(() => {})
        }
      }
      this.libp2p.addEventListener('peer:discovery', this.#mdnsListener)
    }
    this.#mailbox.start()
    await this.#bootstrapper.start(this.#lifecycle.signal)
  }

  /** The rpc's datagram socket, on the host of the first direct TCP listen address (none such, or a bind that fails: the rpc keeps to streams). */
  async #bindUdp(): Promise<void> {
    const host = (this.#init.listen ?? DEFAULT_LISTEN).map((a) => directHost(multiaddr(a))).find((h) => h !== undefined)
    if (host === undefined) {
      this.#init.log?.warn({ listen: this.#init.listen }, 'udp rpc: no direct TCP listen address to take the host of; rpc keeps to streams')
      return
    }
    try {
      this.#rpc.useUdp(await UdpEndpoint.bind(host, 0, this.#init.log))
    } catch (err) {
      this.#init.log?.warn({ err, host }, 'udp rpc: no socket; rpc keeps to streams')
    }
  }

  /** Stop every timer, watch and connection. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#lifecycle.abort()
    clearInterval(this.#sweepTimer)
    this.#bootstrapper.stop()
    this.#mailbox.stop()
    if (this.#mdnsListener) this.libp2p.removeEventListener('peer:discovery', this.#mdnsListener)
    this.libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#watch.stop()
    this.#rpc.stop()
    this.#stoppedOnce = true
    await this.libp2p.unhandle(RPC_PROTOCOL).catch(() => {})
    await this.libp2p.stop()
  }

  readonly #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[]; listenAddrs: Multiaddr[] }>): void => {
    if (!this.#started) return
    this.#routing.noteAnnounced(evt.detail.peerId, evt.detail.listenAddrs.map((a) => a.bytes))
    this.#routing.noteReachable(evt.detail.peerId)
    if (evt.detail.protocols.includes(RPC_PROTOCOL)) this.#rpc.warm(evt.detail.peerId)
  }

  /** True when bootstrap peers are configured (statically, or named by bootstrapSource when last read). */
  get hasBootstrap(): boolean {
    return this.#bootstrapper.hasBootstrap
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
    return this.#bootstrapper.isolated
  }

  #assertStarted(): void {
    if (!this.#started) throw new NodeNotStartedError()
  }

  /** PUT a record to the peers closest to its key, then store it here (see DhtPut.publish). */
  #publish(key: string, value: Uint8Array, opts: PutOptions): Promise<PublishResult> {
    this.#assertStarted()
    return this.#put.publish(key, value, opts)
  }

  /** Closest peers to a key (network lookup), as peer ID strings, nearest first. */
  async closestPeers(key: string, opts: QueryOptions = {}): Promise<string[]> {
    this.#assertStarted()
    const bounds = { signal: opts.signal, deadline: performance.now() + this.#parts.queryTimeoutMs(opts.timeoutMs) }
    return (await this.#routing.closest(keyBytes(parseKey(key).key), bounds)).map((p) => p.toString())
  }

  /** The best valid entry among the values found for a key. */
  #entry(key: string, opts: GetOptions): Promise<VerifiedEntry | undefined> {
    this.#assertStarted()
    return this.#get.entry(key, opts)
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
    const entry = await this.#entry(presenceKey(deviceId), opts)
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
    const key = deviceListKey(accountId)
    const lookup = async () => {
      const entry = await this.#entry(key, opts)
      return entry?.kind === 'device-list' ? entry.deviceList : undefined
    }
    // A plain ask shares the answer found in the last DEVICE_LIST_REUSE_MS; a fresh one or one with its own bounds
    // runs as asked.
    const plain = opts.fresh !== true && opts.quorum === undefined && opts.signal === undefined && opts.timeoutMs === undefined
    return plain ? this.#deviceLists.get(key, lookup) : lookup()
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

  /**
   * The live value under a key, or undefined (never put, expired or deleted). `onValue` gets each live value as a peer
   * returns it, before the quorum is in (a tombstone found later can still make the result undefined).
   */
  async getValue(key: string, opts: GetOptions & { onValue?: (data: Uint8Array) => void } = {}): Promise<Uint8Array | undefined> {
    if (parseKey(key).kind !== 'value') throw new InvalidKeyError('getValue needs a /baran-value/<40 hex> key')
    const { onValue, ...rest } = opts
    const onEntry =
      onValue === undefined
        ? opts.onEntry
        : (e: VerifiedEntry): void => {
            opts.onEntry?.(e)
            if (e.kind === 'value' && e.value.kind === 'data') onValue(e.value.data)
          }
    const entry = await this.#entry(key, { ...rest, onEntry })
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
    return this.#watch.watch(target, onEvent, opts)
  }

  /**
   * Deposit a sealed envelope in a mailbox (mailbox-item.ts `mailboxId`: one of its recipients', for the epoch of its
   * sentAt) on the mailbox's closest nodes. Refusals: the typed errors of checkDeposit and of the storing nodes' quotas.
   * Waits for the lookup of the closest nodes unless `waitForLookup: false` (MailboxService.put).
   */
  mailboxPut(mailbox: MailboxId, envelope: Uint8Array, opts: PutOptions = {}): Promise<MailboxPutResult> {
    this.#assertStarted()
    return this.#mailbox.put(mailbox, envelope, opts)
  }

  /** The items of a mailbox found here and on its closest nodes, each checked, oldest sentAt first; `auth`: its device's signed request (signFetchRequest). */
  mailboxFetch(mailbox: MailboxId, auth: FetchRequest, opts: QueryOptions = {}): Promise<MailboxItem[]> {
    this.#assertStarted()
    return this.#mailbox.fetch(mailbox, auth, opts)
  }

  /** Delete items of a mailbox with a request its device signed (signDeleteRequest). */
  mailboxDelete(request: DeleteRequest, opts: QueryOptions = {}): Promise<{ deleted: number; attempted: number }> {
    this.#assertStarted()
    return this.#mailbox.delete(request, opts)
  }

  /** The mailbox items this node itself holds for a mailbox. */
  getLocalMailbox(mailbox: MailboxId): MailboxItem[] {
    return this.#mailbox.store.list(mailbox)
  }

  /** Run one mailbox maintenance round now (the timer runs them every mailboxMaintenanceMs). */
  maintainMailboxes(): Promise<void> {
    this.#assertStarted()
    return this.#mailbox.maintain()
  }

  /** Send a value to one peer's store directly (no lookup); true if that peer stored it. */
  async sendPut(peerId: string, key: string, value: Uint8Array, opts: QueryOptions = {}): Promise<boolean> {
    this.#assertStarted()
    return this.#put.sendTo(peerIdFromString(peerId), keyBytes(parseKey(key).key), value, opts)
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
    return this.#routing.onTableChange((size) => listener(size))
  }

  /** Messages this node sent since it was made: Baran rpc requests and kad-dht messages (for benches). */
  wireCounts(): { rpcRequests: number; kadMessages: number } {
    let rpcRequests = 0
    for (const n of this.#parts.rpcSent.values()) rpcRequests += n
    return { rpcRequests, kadMessages: this.#parts.kadMessages.count }
  }

  stats(): DiscoveryStats {
    const subs = this.#watch.subscriptions
    return {
      // Distinct remote peers of the open connections (getPeers() round-trips every ID through base58).
      peers: new Set(this.libp2p.getConnections().map((c) => c.remotePeer.toString())).size,
      routingTableSize: this.#routing.tableSize,
      storedRecords: this.#store.recordCount,
      subscriptions: subs.count,
      watches: this.#watch.watches.count,
      pushesSent: subs.pushesSent,
      pushesFailed: subs.pushesFailed,
      pushesReceived: this.#watch.watches.pushesReceived,
      store: this.#store.figures(),
      mailbox: this.#mailbox.store.figures(),
      rpcSent: rpcCounts(this.#parts.rpcSent),
      ...(this.#rpc.udp ? { udp: { ...this.#rpc.udp, dropped: { ...this.#rpc.udp.dropped }, links: this.#rpc.udpLinks } } : {}),
    }
  }
}
