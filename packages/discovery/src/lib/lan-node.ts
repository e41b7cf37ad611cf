import { type Identify, identify } from '@libp2p/identify'
import { KEEP_ALIVE, type PeerId, type Stream } from '@libp2p/interface'
import { announceable } from '@baran/actor'
import { hostLogger, noiseOneWrite, yamuxCoalesced } from '@baran/p2p'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { fromBase64Url, ReplayedRecordError, toBase64Url } from '@baran/trust'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  DEFAULT_LISTEN,
  DEFAULT_VALUE_TTL_MS,
  LAN_MAX_FRAME_BYTES,
  LAN_MAX_RECORDS,
  LAN_MDNS_TAG,
  LAN_PROTOCOL,
  LAN_PUSH_RETRIES,
  LAN_PUSH_RETRY_FIRST_MS,
  LAN_REDIAL_MS,
  LAN_REQUEST_TIMEOUT_MS,
  MAX_VALUE_TTL_MS,
  SWEEP_INTERVAL_MS,
} from './constants.ts'
import { type AccountLookup, lookupAccountFrom } from './account.ts'
import { discoveryErrorFromWire, InvalidKeyError, NodeNotStartedError, RpcFailedError } from './errors.ts'
import { deviceListKey, parseKey, presenceKey } from './keys.ts'
import { chunkRecords, decodeLanFrame, encodeLanFrame, type LanFrame, type LanRecord } from './lan-frames.ts'
import { type Admission, RecordPolicy, type VerifiedEntry } from './policy.ts'
import { type DeviceListBundle, encodeBundle, type PresenceBundle, type VerifiedDeviceList, type VerifiedPresence } from './records.ts'
import { PushRetries } from './lan-push-retry.ts'
import { checkLanInit, type LanNodeInit, type LanStats } from './lan-options.ts'
import { type Logger, VerifiedRecordStore, type StoredRecord } from './store.ts'
import { SELF } from './store-quota.ts'
import { checkTtl, encodeTombstone, encodeValue, newDeleteToken } from './values.ts'

type Services = { identify: Identify }

/** Create and start a LAN node. Throws InvalidConfigError for bad options. */
export async function createLanNode(init: LanNodeInit = {}): Promise<LanNode> {
  checkLanInit(init)
  const policy = new RecordPolicy({ now: init.now })
  const logger = hostLogger()
  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey: init.privateKey,
    // libp2p's debug logging only when DEBUG asks for it (@baran/p2p)
    ...(logger ? { logger } : {}),
    // Only addresses others can use: no link-local, loopback only when there is nothing else.
    addresses: { listen: init.listen ?? DEFAULT_LISTEN, announceFilter: (addrs) => announceable(addrs) },
    transports: [tcp(), webSockets()],
    // one socket write per Noise message, one WindowUpdate per half window (@baran/p2p), as the DHT node
    connectionEncrypters: [noiseOneWrite()],
    streamMuxers: [yamuxCoalesced()],
    connectionManager: { inboundConnectionThreshold: 1_000 },
    peerDiscovery: init.mdns === true ? [mdns({ serviceTag: LAN_MDNS_TAG })] : [],
    services: { identify: identify() },
  })
  const node = new LanNode(libp2p, policy, init)
  await node.start()
  return node
}

/**
 * Discovery without a DHT, for air-gapped networks: a node meets its peers directly (mDNS on the LAN, or a
 * static list), and peers gossip the records they hold over `/baran/lan/1.0.0` — everything on connect, and each
 * record newly accepted to every other peer (flooding stops where a record is not new). Every record is
 * verified by the same RecordPolicy as the DHT's storing nodes (forged, expired, revoked and replayed ones are
 * refused), and a lookup that finds nothing here asks the connected peers.
 */
export class LanNode {
  readonly libp2p: Libp2p<Services>
  readonly peerId: string
  readonly #policy: RecordPolicy
  readonly #store: VerifiedRecordStore
  readonly #init: LanNodeInit
  readonly #log?: Logger
  /** Keys of the Baran records held (the store does not list them). */
  readonly #keys = new Set<string>()
  readonly #lanPeers = new Set<string>()
  readonly #rivalListeners = new Set<(r: { key: string; entry: VerifiedEntry }) => void>()
  #started = false
  #sweepTimer?: NodeJS.Timeout
  #redialTimer?: NodeJS.Timeout
  #stats = { pushesSent: 0, pushesFailed: 0, recordsReceived: 0 }
  readonly #retries: PushRetries

  constructor(libp2p: Libp2p<Services>, policy: RecordPolicy, init: LanNodeInit) {
    this.libp2p = libp2p
    this.peerId = libp2p.peerId.toString()
    this.#policy = policy
    this.#store = new VerifiedRecordStore(policy, { log: init.log, limits: init.storeLimits })
    this.#init = init
    this.#log = init.log
    this.#retries = new PushRetries({
      push: (peer, keys) => this.#retryPush(peer, keys),
      attempts: LAN_PUSH_RETRIES,
      initialMs: LAN_PUSH_RETRY_FIRST_MS,
      maxMs: LAN_PUSH_RETRY_FIRST_MS * 2 ** (LAN_PUSH_RETRIES - 1),
      maxKeys: LAN_MAX_RECORDS,
      ...(init.log ? { log: init.log } : {}),
    })
    this.#store.onRecord((r) => this.#keys.add(r.key))
  }

  /** Full multiaddrs of this node (with /p2p/<peerId>): what other LAN nodes list as `peers`. */
  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString())
  }

  get isStarted(): boolean {
    return this.#started
  }

  async start(): Promise<void> {
    if (this.#started) return
    await this.libp2p.start()
    await this.libp2p.handle(LAN_PROTOCOL, (stream, connection) => this.#serve(stream, connection.remotePeer.toString()), {
      maxInboundStreams: 64,
      maxOutboundStreams: 64,
    })
    this.libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    this.libp2p.addEventListener('peer:discovery', this.#onDiscovery)
    this.#started = true
    this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS)
    this.#sweepTimer.unref()
    this.#redial()
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#sweepTimer)
    clearTimeout(this.#redialTimer)
    this.libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.libp2p.removeEventListener('peer:discovery', this.#onDiscovery)
    await this.libp2p.unhandle(LAN_PROTOCOL).catch(() => {})
    await this.libp2p.stop()
    this.#lanPeers.clear()
    this.#retries.stop()
  }

  // A peer that speaks the protocol gets everything we hold (it pushes its own to us the same way).
  readonly #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>): void => {
    if (!this.#started || !evt.detail.protocols.includes(LAN_PROTOCOL)) return
    const peer = evt.detail.peerId.toString()
    if (this.#lanPeers.has(peer)) return
    this.#lanPeers.add(peer)
    void this.#pushTo(peer, this.#allRecords())
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.#lanPeers.delete(evt.detail.toString())
    this.#retries.forget(evt.detail.toString())
  }

  // mDNS only announces peers: dial them, identify then tells whether they speak LAN.
  readonly #onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    if (!this.#started || this.libp2p.getConnections(evt.detail.id).length > 0) return
    this.libp2p.dial(evt.detail.id, { signal: AbortSignal.timeout(this.#timeout()) }).catch((err: unknown) => this.#log?.debug({ err }, 'mDNS peer dial failed'))
  }

  /** Dials every static peer that is not connected, then again after redialMs while started. */
  #redial(): void {
    if (!this.#started) return
    for (const addr of this.#init.peers ?? []) {
      const ma = multiaddr(addr)
      const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value
      if (id === undefined || id === this.peerId) continue
      const peer = peerIdFromString(id)
      if (this.libp2p.getConnections(peer).length > 0) continue
      void this.libp2p.peerStore
        .merge(peer, { multiaddrs: [ma], tags: { [`${KEEP_ALIVE}-baran-lan`]: { value: 50 } } })
        .then(() => this.libp2p.dial(ma, { signal: AbortSignal.timeout(this.#timeout()) }))
        .catch((err: unknown) => this.#log?.debug({ err, addr }, 'LAN peer dial failed'))
    }
    this.#redialTimer = setTimeout(() => this.#redial(), this.#init.redialMs ?? LAN_REDIAL_MS)
    this.#redialTimer.unref()
  }

  #timeout(): number {
    return this.#init.requestTimeoutMs ?? LAN_REQUEST_TIMEOUT_MS
  }

  #assertStarted(): void {
    if (!this.#started) throw new NodeNotStartedError()
  }

  #sweep(): void {
    for (const key of [...this.#keys]) if (this.#store.getRecord(key) === undefined) this.#keys.delete(key)
  }

  #allRecords(): LanRecord[] {
    const out: LanRecord[] = []
    for (const key of [...this.#keys]) {
      const value = this.#store.getRecord(key)
      if (value === undefined) this.#keys.delete(key)
      else out.push({ key, value: toBase64Url(value) })
    }
    return out
  }

  /**
   * Verifies and stores one record (from us or a peer); a new one goes on to every other LAN peer. Throws what
   * the policy throws (forged, expired, revoked, replayed, occupied…).
   */
  #ingest(key: string, value: Uint8Array, from?: string): Admission {
    const k = parseKey(key).key
    if (!this.#keys.has(k) && this.#keys.size >= LAN_MAX_RECORDS) throw new RpcFailedError(`this node holds ${LAN_MAX_RECORDS} records already`)
    // Charged to the peer that pushed it (or this node's own): the store's quotas are per peer.
    let admission: Admission
    try {
      admission = this.#store.storeLocal(k, value, undefined, from ?? SELF)
    } catch (err) {
      if (err instanceof ReplayedRecordError) this.#rival(k, value)
      throw err
    }
    this.#keys.add(k)
    if (admission.changed) {
      const rec = [{ key: k, value: toBase64Url(value) }]
      for (const peer of this.#lanPeers) if (peer !== from) void this.#pushTo(peer, rec)
    }
    return admission
  }

  /** A refused record with the same seq as the one held, but other content: two signers raced; tell the listeners. */
  #rival(key: string, value: Uint8Array): void {
    if (this.#rivalListeners.size === 0) return
    const held = this.#store.getRecord(key)
    let entry: VerifiedEntry
    try {
      entry = this.#policy.verify(key, value)
      const kept = held === undefined ? undefined : this.#policy.verify(key, held)
      if (entry.kind === 'value' || kept === undefined || kept.kind === 'value' || kept.seq !== entry.seq) return
    } catch {
      return
    }
    for (const listener of this.#rivalListeners) listener({ key, entry })
  }

  /** One request on a fresh stream: write the frame, read the reply. */
  async #request(peer: string, frame: LanFrame): Promise<LanFrame> {
    const signal = AbortSignal.timeout(this.#timeout())
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peer), LAN_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: LAN_MAX_FRAME_BYTES, maxBufferSize: LAN_MAX_FRAME_BYTES * 2 })
      await lp.write(encodeLanFrame(frame), { signal })
      const reply = decodeLanFrame((await lp.read({ signal })).subarray())
      await stream.close({ signal }).catch(() => {})
      if (reply.t === 'err') throw discoveryErrorFromWire(reply.code, reply.message) ?? new RpcFailedError(`${peer} refused: ${reply.code}: ${reply.message}`)
      return reply
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  /** Pushes records to a peer; what a failed request carried (and the chunks after it) is tried again later. */
  async #pushTo(peer: string, records: LanRecord[]): Promise<void> {
    const chunks = chunkRecords(records)
    const failed = await this.#sendChunks(peer, chunks)
    if (failed >= 0 && this.#started && this.#lanPeers.has(peer)) this.#retries.failed(peer, chunks.slice(failed).flatMap((c) => c.map((r) => r.key)))
  }

  /** A retry: the keys' current records (those still held) to a peer that is still connected. */
  async #retryPush(peer: string, keys: string[]): Promise<boolean> {
    if (!this.#started || !this.#lanPeers.has(peer)) return true
    const records: LanRecord[] = []
    for (const key of keys) {
      const value = this.#store.getRecord(key)
      if (value !== undefined) records.push({ key, value: toBase64Url(value) })
    }
    return (await this.#sendChunks(peer, chunkRecords(records))) < 0
  }

  /** Sends push frames in order; the index of the first one that failed, or -1. */
  async #sendChunks(peer: string, chunks: LanRecord[][]): Promise<number> {
    for (const [i, chunk] of chunks.entries()) {
      try {
        await this.#request(peer, { t: 'push', records: chunk })
        this.#stats.pushesSent++
      } catch (err) {
        this.#stats.pushesFailed++
        this.#log?.debug({ err, peer }, 'LAN push failed: tried again later')
        return i
      }
    }
    return -1
  }

  async #serve(stream: Stream, peer: string): Promise<void> {
    const signal = AbortSignal.timeout(this.#timeout())
    try {
      const lp = lpStream(stream, { maxDataLength: LAN_MAX_FRAME_BYTES, maxBufferSize: LAN_MAX_FRAME_BYTES * 2 })
      const frame = decodeLanFrame((await lp.read({ signal })).subarray())
      await lp.write(encodeLanFrame(this.#answer(frame, peer)), { signal })
      await stream.close({ signal })
    } catch (err) {
      // Malformed frames, timeouts and resets end this stream only.
      this.#log?.debug({ err, peer }, 'LAN stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  #answer(frame: LanFrame, peer: string): LanFrame {
    try {
      if (frame.t === 'push') {
        let stored = 0
        for (const r of frame.records) {
          try {
            if (this.#ingest(r.key, fromBase64Url(r.value), peer).changed) stored++
            this.#stats.recordsReceived++
          } catch (err) {
            // One bad record (forged, stale, a replay of what we hold) does not spoil the others.
            this.#log?.debug({ err, key: r.key, peer }, 'LAN record refused')
          }
        }
        return { t: 'ok', stored }
      }
      if (frame.t === 'get') {
        const records: LanRecord[] = []
        for (const key of frame.keys) {
          const value = this.#store.getRecord(parseKey(key).key)
          if (value !== undefined) records.push({ key, value: toBase64Url(value) })
        }
        return { t: 'records', records: chunkRecords(records)[0] ?? [] }
      }
      return { t: 'err', code: 'malformed_frame', message: `${frame.t} is a reply, not a request` }
    } catch (err) {
      const e = err as Error & { code?: unknown }
      return { t: 'err', code: typeof e.code === 'string' ? e.code.slice(0, 64) : 'error', message: e.message.slice(0, 512) }
    }
  }

  /** Asks every connected LAN peer for the records under `keys` and takes those that verify. */
  async #ask(keys: string[]): Promise<void> {
    await Promise.allSettled(
      [...this.#lanPeers].map(async (peer) => {
        const reply = await this.#request(peer, { t: 'get', keys })
        if (reply.t !== 'records') return
        for (const r of reply.records) {
          try {
            this.#ingest(r.key, fromBase64Url(r.value), peer)
          } catch {
            // stale or forged: what we hold stays
          }
        }
      }),
    )
  }

  /** The verified entry under a key: held here, or (when absent, or `fresh`) asked of the connected peers. */
  async #entry(key: string, opts: { fresh?: boolean }): Promise<VerifiedEntry | undefined> {
    this.#assertStarted()
    if (opts.fresh === true || this.#store.getRecord(key) === undefined) await this.#ask([key])
    const value = this.#store.getRecord(key)
    if (value === undefined) return undefined
    try {
      return this.#policy.verify(key, value)
    } catch {
      return undefined
    }
  }

  /** Publishes a record: stored here (verified like any other) and pushed to every LAN peer. Returns the peers pushed to. */
  #publish(key: string, bytes: Uint8Array): { key: string; stored: number; attempted: number } {
    this.#assertStarted()
    this.#ingest(key, bytes)
    return { key, stored: 0, attempted: this.#lanPeers.size }
  }

  publishPresence(bundle: PresenceBundle): { key: string; stored: number; attempted: number } {
    return this.#publish(presenceKey(bundle.deviceCert.body.deviceId), encodeBundle(bundle))
  }

  publishDeviceList(bundle: DeviceListBundle): { key: string; stored: number; attempted: number } {
    return this.#publish(deviceListKey(bundle.deviceList.body.accountId), encodeBundle(bundle))
  }

  async lookupPresence(deviceId: string, opts: { fresh?: boolean } = {}): Promise<VerifiedPresence | undefined> {
    const e = await this.#entry(presenceKey(deviceId), opts)
    return e?.kind === 'presence' ? e.presence : undefined
  }

  async lookupDeviceList(accountId: string, opts: { fresh?: boolean } = {}): Promise<VerifiedDeviceList | undefined> {
    const e = await this.#entry(deviceListKey(accountId), opts)
    return e?.kind === 'device-list' ? e.deviceList : undefined
  }

  /** An account's devices (revoked ones left out), each with its presence if one is known. */
  lookupAccount(accountId: string, opts: { fresh?: boolean } = {}): Promise<AccountLookup | undefined> {
    return lookupAccountFrom(this, this.#policy.revocations, accountId, opts)
  }

  /** Puts an opaque value under `/baran-value/<40 hex>` (first writer wins while it lives, as on the DHT). */
  putValue(key: string, value: Uint8Array, opts: { ttlMs?: number; deleteToken?: Uint8Array } = {}): { stored: number; deleteToken: Uint8Array; expiresAt: number } {
    if (parseKey(key).kind !== 'value') throw new InvalidKeyError('putValue needs a /baran-value/<40 hex> key')
    const ttlMs = checkTtl(opts.ttlMs ?? DEFAULT_VALUE_TTL_MS)
    const deleteToken = opts.deleteToken ?? newDeleteToken()
    const expiresAt = this.#policy.now() + ttlMs
    const r = this.#publish(key, encodeValue(value, { expiresAt, deleteToken, maxValueBytes: this.#policy.maxValueBytes }))
    return { stored: r.attempted, deleteToken, expiresAt }
  }

  /** The live value under a key, or undefined (never put, expired or deleted). */
  async getValue(key: string, opts: { fresh?: boolean } = {}): Promise<{ data: Uint8Array; expiresAt: number } | undefined> {
    if (parseKey(key).kind !== 'value') throw new InvalidKeyError('getValue needs a /baran-value/<40 hex> key')
    const e = await this.#entry(key, opts)
    return e?.kind === 'value' && e.value.kind === 'data' ? { data: e.value.data, expiresAt: e.value.expiresAt } : undefined
  }

  /** Deletes a value with its token: a tombstone replaces it (here and on every peer) for a day. */
  deleteValue(key: string, deleteToken: Uint8Array): { stored: number } {
    if (parseKey(key).kind !== 'value') throw new InvalidKeyError('deleteValue needs a /baran-value/<40 hex> key')
    const r = this.#publish(key, encodeTombstone(deleteToken, this.#policy.now() + MAX_VALUE_TTL_MS))
    return { stored: r.attempted }
  }

  /** Calls `listener` for every record newly stored here (own or heard); returns an unsubscribe. */
  onRecord(listener: (r: StoredRecord) => void): () => void {
    return this.#store.onRecord(listener)
  }

  /**
   * Calls `listener` for a record refused because this node holds another one with the same seq: two devices of an
   * account changed its list at once, and the one held here is not the only one out there.
   */
  onRival(listener: (r: { key: string; entry: VerifiedEntry }) => void): () => void {
    this.#rivalListeners.add(listener)
    return () => this.#rivalListeners.delete(listener)
  }

  stats(): LanStats {
    return { peers: this.#lanPeers.size, storedRecords: this.#keys.size, ...this.#stats, pushRetriesPending: this.#retries.pending, store: this.#store.figures() }
  }
}
