import type { PeerId } from '@libp2p/interface'
import { type Bounds, ended, withinBounds, mhKey, remaining } from './bounds.ts'
import { bytesEqual, sha256 } from './bytes.ts'
import { DEFAULT_GET_PARALLELISM, DEFAULT_GET_QUORUM } from './constants.ts'
import type { DhtParts } from './dht-parts.ts'
import { keyBytes } from './keys.ts'
import type { GetOptions } from './node-options.ts'
import type { VerifiedEntry } from './policy.ts'
import { decodeGetReply, type NamedPeer, RPC_GET } from './rpc-codec.ts'

/** Getting a record from the network: the values peers hold for a key, and the best valid one. */
export class DhtGet {
  readonly #p: DhtParts
  readonly #getQuorum: number
  readonly #parallelism: number
  /** What the values a get received verified to (so a lookup checks each value once). */
  readonly #verified = new WeakMap<Uint8Array, VerifiedEntry>()

  constructor(parts: DhtParts, getQuorum = DEFAULT_GET_QUORUM, parallelism = DEFAULT_GET_PARALLELISM) {
    this.#p = parts
    this.#getQuorum = getQuorum
    this.#parallelism = parallelism
  }

  #bounds(opts: GetOptions): Bounds {
    return { signal: opts.signal, deadline: performance.now() + this.#p.queryTimeoutMs(opts.timeoutMs) }
  }

  /**
   * Ask one peer for the record under a key over the rpc link; the value if it sent a valid one.
   * A miss names the peer's closest peers to the key: kept in `misses` (by the peer's mhKey) for
   * the lookup that follows.
   */
  async #getFrom(peer: PeerId, key: Uint8Array, b: Bounds, earlier: Uint8Array[], misses?: Map<string, NamedPeer[]>): Promise<Uint8Array | undefined> {
    try {
      const reply = decodeGetReply(await this.#p.rpc().request(peer, RPC_GET, key, { signal: b.signal, timeoutMs: remaining(b) }))
      if (reply.value === undefined) {
        if (reply.peers.length > 0) misses?.set(mhKey(peer.toMultihash().bytes), reply.peers)
        return undefined
      }
      const value = reply.value
      // The storing peers mostly hold the same bytes: checked once a get (the same bytes, a moment later, check the same).
      const same = earlier.find((v) => this.#verified.has(v) && bytesEqual(v, value))
      this.#verified.set(value, same === undefined ? this.#p.policy.verify(key, value) : (this.#verified.get(same) as VerifiedEntry))
      return value
    } catch (err) {
      this.#p.log?.debug({ err, peer: peer.toString() }, 'get from peer failed')
      return undefined
    }
  }

  /**
   * Values found for a key, stopping at the quorum: this node's own copy, then the closest peers
   * its routing table knows (one round trip on a warm table); short of the quorum, the closest
   * peers found over rpc (kad-dht's FIND_NODE lookup when that cannot finish), asked over rpc too.
   */
  async values(key: string, opts: GetOptions): Promise<Uint8Array[]> {
    const quorum = Math.max(1, opts.quorum ?? this.#getQuorum)
    const bounds = this.#bounds(opts)
    const values: Uint8Array[] = []
    const local = this.#p.store.getRecord(key)
    if (local !== undefined) {
      values.push(local)
      if (opts.onEntry !== undefined) {
        try {
          this.#verified.set(local, this.#p.policy.verify(key, local))
          this.#tell(local, values, opts.onEntry)
        } catch {
          // not valid (any more): entry() leaves it out too
        }
      }
    }
    if (values.length >= quorum) return values
    const kb = keyBytes(key)
    const kadId = sha256(kb)
    const near = this.#p.routing.nearestReachable(kadId)
    const asked = new Set(near.map((p) => p.toString()))
    const misses = new Map<string, NamedPeer[]>()
    await this.#askForValues(near, kb, bounds, values, quorum, misses, opts.onEntry)
    if (values.length >= quorum || ended(bounds)) return values
    // Short of the quorum: the network's closest peers may be others than this table's (a table
    // still filling, churn). Find them over rpc (starting from what the misses named) and ask
    // those not asked yet; that settles it.
    let closest = await this.#p.routing.findClosest(kb, kadId, bounds, misses)
    if (closest === undefined) {
      // A closer peer nobody named an address for: kad-dht's lookup learns addresses as it goes.
      try {
        closest = await withinBounds(bounds, this.#p.lifecycle(), (signal) => this.#p.routing.lookup(kb, signal))
      } catch (err) {
        // A timeout keeps what arrived; a caller's abort is theirs to see.
        if (opts.signal?.aborted === true) throw err
        this.#p.log?.debug({ err, key }, 'lookup for get ended early')
        return values
      }
    }
    const more = closest.filter((p) => !asked.has(p.toString()))
    await this.#askForValues(more, kb, bounds, values, quorum, undefined, opts.onEntry)
    return values
  }

  /**
   * Give the caller a verified value just added to `values`, unless an earlier peer sent the same bytes. Its own
   * errors are its own: a throwing callback neither loses the value nor ends the get.
   */
  #tell(value: Uint8Array, values: Uint8Array[], onEntry: (entry: VerifiedEntry) => void): void {
    const entry = this.#verified.get(value)
    if (entry === undefined || values.some((v, i) => i < values.length - 1 && bytesEqual(v, value))) return
    try {
      onEntry(entry)
    } catch (err) {
      this.#p.log?.warn({ err }, 'a get caller\'s onEntry threw')
    }
  }

  /**
   * Ask `peers` (closest first) for the value until `values` holds `quorum`, with just enough
   * requests in flight to make it (Kademlia's alpha): a miss or a failure asks the next peer; a
   * wave slower than the links' usual round trip (hedge) asks all the rest at once.
   */
  #askForValues(
    peers: PeerId[],
    kb: Uint8Array,
    bounds: Bounds,
    values: Uint8Array[],
    quorum: number,
    misses?: Map<string, NamedPeer[]>,
    onEntry?: (entry: VerifiedEntry) => void,
  ): Promise<void> {
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
        void this.#getFrom(peer, kb, bounds, values, misses).then((v) => {
          inflight--
          if (finished) return // answers after the quorum are dropped
          if (v !== undefined) {
            values.push(v)
            if (onEntry !== undefined) this.#tell(v, values, onEntry)
          }
          pump()
        })
      }
      const pump = (): void => {
        if (values.length >= quorum) {
          finish()
          return
        }
        while (next < peers.length && values.length + inflight < quorum && inflight < this.#parallelism) ask(peers[next++] as PeerId)
        if (inflight === 0) finish()
      }
      const hedge = setTimeout(() => {
        while (!finished && next < peers.length) ask(peers[next++] as PeerId)
      }, this.#p.rpc().hedgeMs)
      pump()
    })
  }

  /** The best valid entry among the values found for a key. */
  async entry(key: string, opts: GetOptions): Promise<VerifiedEntry | undefined> {
    const entries: VerifiedEntry[] = []
    for (const v of await this.values(key, opts)) {
      // Values from peers were checked as they came; only this node's own copy is checked here.
      const known = this.#verified.get(v)
      if (known !== undefined) entries.push(known)
      else {
        try {
          entries.push(this.#p.policy.verify(key, v))
        } catch {
          // not valid (any more): left out
        }
      }
    }
    if (entries.length === 0) return undefined
    return entries[this.#p.policy.selectVerified(key, entries)]
  }
}
