import { concatBytes } from '@baran/trust'
import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { xor } from 'uint8arrays/xor'
import { xorCompare } from 'uint8arrays/xor-compare'
import { type Bounds, ended, withinBounds, mhKey, remaining } from './bounds.ts'
import { sha256 } from './bytes.ts'
import { FIND_ROUNDS, KAD_ID_CACHE_SIZE, UNREACHABLE_MS } from './constants.ts'
import type { KadInternals } from './kad-internals.ts'
import type { DiscoveryLibp2p } from './libp2p-stack.ts'
import { compareDistance, NearestPeers } from './nearest.ts'
import type { Rpc } from './rpc.ts'
import { decodePeers, encodePeers, type NamedPeer, peerFromMultihash, RPC_FIND } from './rpc-codec.ts'
import type { Logger } from './store.ts'

/** What routing needs from its node. */
export interface RoutingInit {
  libp2p: DiscoveryLibp2p
  kad: KadInternals
  replication: number
  /** Counts the kad-dht messages the lookups send. */
  kadMessages: { count: number }
  rpc(): Rpc
  lifecycle(): AbortSignal
  log?: Logger
}

/**
 * Which peers are closest to a key: the routing table's view (kad-dht's table, read cheaply),
 * Kademlia's iterative lookup over the rpc links (FIND), kad-dht's own lookup when that cannot
 * finish, and the addresses peers announced in identify (what a FIND reply hands on).
 */
export class Routing {
  readonly #libp2p: DiscoveryLibp2p
  readonly #kad: KadInternals
  readonly #replication: number
  readonly #rpc: () => Rpc
  readonly #lifecycle: () => AbortSignal
  readonly #log?: Logger
  readonly #kadMessages: { count: number }
  /** The routing table's closest peers to a key, cheaply (see nearest.ts). */
  readonly nearest: NearestPeers
  readonly #selfKadId: Uint8Array
  /** sha256 of peer IDs (their Kademlia IDs), computed once per peer. */
  readonly #kadIds = new Map<string, Uint8Array>()
  /** The routing table hands out the same PeerId objects: remember their Kademlia IDs by object. */
  readonly #peerKadIds = new WeakMap<PeerId, Uint8Array>()
  /** Addresses peers announced in identify (what a FIND reply hands on), as bytes. */
  readonly #announcedAddrs = new Map<string, Uint8Array[]>()
  /** Each peer's entry in a peer-list reply (encodePeers of that peer alone), until it announces other addresses. */
  readonly #listEntries = new Map<string, Uint8Array>()
  /**
   * Peers a stream could not be opened to (a dial that failed, not one given up on), until when (performance.now()):
   * kad-dht keeps a peer that left in its table until a bucket refresh pings it, so without this the same gone
   * peers stay "the closest" and every put, get and mailbox re-store keeps choosing them over live ones.
   */
  readonly #unreachable = new Map<string, number>()

  constructor(init: RoutingInit) {
    this.#libp2p = init.libp2p
    this.#kad = init.kad
    this.#replication = init.replication
    this.#rpc = init.rpc
    this.#lifecycle = init.lifecycle
    this.#log = init.log
    this.#kadMessages = init.kadMessages
    this.#selfKadId = sha256(init.libp2p.peerId.toMultihash().bytes)
    this.nearest = new NearestPeers(init.kad.routingTable, (p) => this.kadIdOfPeer(p))
  }

  /** Peers in kad-dht's routing table. */
  get tableSize(): number {
    return this.#kad.routingTable.size
  }

  /**
   * Calls `listener` with the table's size and the change each time a peer enters or leaves kad-dht's routing table
   * (its `peer:add`/`peer:remove`; the same table lives across stop/start); returns an unsubscribe.
   */
  onTableChange(listener: (size: number, change: 'add' | 'remove') => void): () => void {
    const table = this.#kad.routingTable as unknown as Pick<EventTarget, 'addEventListener' | 'removeEventListener'>
    const added = (): void => listener(this.tableSize, 'add')
    const removed = (): void => listener(this.tableSize, 'remove')
    table.addEventListener('peer:add', added)
    table.addEventListener('peer:remove', removed)
    return () => {
      table.removeEventListener('peer:add', added)
      table.removeEventListener('peer:remove', removed)
    }
  }

  /** Remember the addresses a peer announced in identify. */
  noteAnnounced(peer: PeerId, addrs: Uint8Array[]): void {
    if (this.#announcedAddrs.size >= KAD_ID_CACHE_SIZE) {
      this.#announcedAddrs.clear()
      this.#listEntries.clear()
    }
    const key = peer.toString()
    this.#announcedAddrs.set(key, addrs)
    this.#listEntries.delete(key)
  }

  /** A stream to `peer` could not be opened (its dial failed): leave it out of the closest for a while. */
  noteUnreachable(peer: PeerId): void {
    if (this.#unreachable.size >= KAD_ID_CACHE_SIZE) this.#unreachable.clear()
    this.#unreachable.set(peer.toString(), performance.now() + UNREACHABLE_MS)
  }

  /** `peer` answered or connected: it counts again. */
  noteReachable(peer: PeerId): void {
    this.#unreachable.delete(peer.toString())
  }

  isUnreachable(peer: PeerId): boolean {
    // (Most calls find none marked: no need to base58-encode a peer ID parsed just now.)
    if (this.#unreachable.size === 0) return false
    const key = peer.toString()
    const until = this.#unreachable.get(key)
    if (until === undefined) return false
    if (until > performance.now()) return true
    this.#unreachable.delete(key)
    return false
  }

  /** The routing table's `count` closest peers to a Kademlia ID, nearest first, without those just found unreachable. */
  nearestReachable(kadId: Uint8Array, count = this.#replication): PeerId[] {
    if (this.#unreachable.size === 0) return this.nearest.closest(kadId, count)
    return this.nearest
      .closest(kadId, count + this.#unreachable.size)
      .filter((p) => !this.isUnreachable(p))
      .slice(0, count)
  }

  /**
   * This node's closest peers to a DHT key with the addresses they announced, as a FIND, PUT or GET-miss reply's peer
   * list: the bytes encodePeers gives for that list, joined from entries encoded once per peer (every reply names the
   * same few peers again; encoding each list afresh was ~6 % of a put's CPU).
   */
  closestEncoded(key: Uint8Array): Uint8Array {
    return concatBytes(...this.nearestReachable(sha256(key)).map((p) => this.#listEntryOf(p)))
  }

  #listEntryOf(peer: PeerId): Uint8Array {
    const key = peer.toString()
    let entry = this.#listEntries.get(key)
    if (entry === undefined) {
      if (this.#listEntries.size >= KAD_ID_CACHE_SIZE) this.#listEntries.clear()
      entry = encodePeers([{ id: peer.toMultihash().bytes, addrs: this.#announcedAddrs.get(key) ?? [] }])
      this.#listEntries.set(key, entry)
    }
    return entry
  }

  kadIdOfPeer(peer: PeerId): Uint8Array {
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
   * The other peers of the `replication` closest to a key, this node included in the ranking:
   * when this node is one of them it stores the record itself, so one fewer peer is needed.
   */
  storingSet(kadId: Uint8Array, peers: PeerId[]): PeerId[] {
    const ranked = peers.map((p) => ({ p, id: this.kadIdOfPeer(p) })).sort((a, b) => compareDistance(a.id, b.id, kadId))
    const closerThanSelf = ranked.filter((r) => compareDistance(r.id, this.#selfKadId, kadId) < 0).length
    const count = closerThanSelf < this.#replication ? this.#replication - 1 : this.#replication
    return ranked.slice(0, count).map((r) => r.p)
  }

  /**
   * The `replication` closest peers to a key, nearest first, by Kademlia's iterative lookup over
   * the rpc links (FIND): ask the closest peers known for their closest, then any closer peer
   * they name, until the closest all answered (on a warm table: one round). Much cheaper than
   * kad-dht's walk (a new stream per message). Undefined when it cannot finish that way: a
   * closer peer this node has no address for, or no convergence within FIND_ROUNDS; then
   * kad-dht's lookup is the way (it learns addresses as it goes). `answered`: peers that already
   * named their closest (a GET miss or a PUT reply, by mhKey): they are not asked again.
   */
  async findClosest(kb: Uint8Array, kadId: Uint8Array, b: Bounds, answered?: Map<string, NamedPeer[]>): Promise<PeerId[] | undefined> {
    const self = mhKey(this.#libp2p.peerId.toMultihash().bytes)
    const cands = new Map<string, { peer: PeerId; d: Uint8Array }>()
    const add = (peer: PeerId, mh = peer.toMultihash().bytes): void => {
      const k = mhKey(mh)
      if (k !== self && !cands.has(k)) cands.set(k, { peer, d: xor(this.#kadIdOf(mh, k), kadId) })
    }
    for (const p of this.nearestReachable(kadId)) add(p)
    const asked = new Set<string>(answered?.keys())
    // Peers that did not answer: another peer's table may still name them (it has not noticed they left), but they
    // must not come back as candidates, or a dead peer takes a live one's place among the closest.
    const failed = new Set<string>()
    let named: NamedPeer[] = [...(answered?.values() ?? [])].flat()
    // The answers name mostly the same peers: one found no closer than the `replication`-th candidate stays so while
    // candidates are only added (`passed`; cleared when a failed one leaves), and is not parsed again.
    const farthestOf = (): Uint8Array | undefined => [...cands.values()].map((c) => c.d).sort(xorCompare)[this.#replication - 1]
    const passed = new Set<string>()
    let farthest = farthestOf()
    for (let round = 0; round <= FIND_ROUNDS && !ended(b); round++) {
      for (const { id: mh, addrs } of named) {
        const k = mhKey(mh)
        if (k === self || cands.has(k) || failed.has(k) || passed.has(k)) continue
        const d = xor(this.#kadIdOf(mh, k), kadId)
        if (farthest !== undefined && xorCompare(d, farthest) >= 0) {
          passed.add(k)
          continue
        }
        const peer = peerFromMultihash(mh)
        if (peer === undefined || this.isUnreachable(peer)) continue
        // A closer peer this node cannot dial: only kad-dht's lookup learns addresses.
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
          await this.#libp2p.peerStore.merge(peer, { multiaddrs: known })
        }
        cands.set(k, { peer, d })
        farthest = farthestOf()
      }
      if (round === FIND_ROUNDS) break
      const top = [...cands.entries()].sort((x, y) => xorCompare(x[1].d, y[1].d)).slice(0, this.#replication)
      const toAsk = top.filter(([k]) => !asked.has(k))
      if (toAsk.length === 0) return top.map(([, c]) => c.peer)
      const answers = await Promise.all(
        toAsk.map(async ([k, c]) => {
          asked.add(k)
          try {
            return decodePeers(await this.#rpc().request(c.peer, RPC_FIND, kb, { signal: b.signal, timeoutMs: remaining(b) }))
          } catch (err) {
            this.#log?.debug({ err, peer: c.peer.toString() }, 'find failed')
            return undefined
          }
        }),
      )
      named = []
      answers.forEach((a, i) => {
        if (a === undefined) {
          // unreachable: not one of the closest
          const k = (toAsk[i] as [string, unknown])[0]
          cands.delete(k)
          failed.add(k)
          passed.clear()
          farthest = farthestOf()
        }
        else named.push(...a)
      })
    }
    return undefined
  }

  /** Does this node have a connection to, or an address of, a peer? */
  async #dialable(peer: PeerId): Promise<boolean> {
    if (this.#libp2p.getConnections(peer).length > 0) return true
    try {
      return (await this.#libp2p.peerStore.get(peer)).addresses.length > 0
    } catch {
      return false
    }
  }

  /**
   * The closest peers to a key: over rpc, else by kad-dht's lookup. `answered`: peers that already named their
   * closest (as in findClosest).
   */
  async closest(kb: Uint8Array, b: Bounds, answered?: Map<string, NamedPeer[]>): Promise<PeerId[]> {
    return (await this.findClosest(kb, sha256(kb), b, answered)) ?? (await withinBounds(b, this.#lifecycle(), (signal) => this.lookup(kb, signal)))
  }

  /** Closest peers to a DHT key by kad-dht's network lookup, nearest first (at most k). */
  async lookup(key: Uint8Array, signal: AbortSignal): Promise<PeerId[]> {
    if (this.#kad.routingTable.size === 0) return []
    const peers: PeerId[] = []
    for await (const e of this.#libp2p.services.dht.getClosestPeers(key, { signal })) {
      if (e.name === 'SEND_QUERY') this.#kadMessages.count++
      else if (e.name === 'FINAL_PEER') peers.push(e.peer.id)
    }
    return peers.filter((p) => !this.isUnreachable(p))
  }
}
