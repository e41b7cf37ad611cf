import type { PeerId } from '@libp2p/interface'
import { type Bounds, mhKey, raceBounds, remaining } from './bounds.ts'
import { sha256 } from './bytes.ts'
import type { DhtParts } from './dht-parts.ts'
import { DiscoveryError, PublishFailedError, RpcFailedError } from './errors.ts'
import { keyBytes } from './keys.ts'
import type { PublishResult, PutOptions, QueryOptions } from './node-options.ts'
import { decodePeers, encodePut, type NamedPeer, RPC_PUT } from './rpc-codec.ts'

/** Putting a record on the network: to the peers closest to its key, then here. */
export class DhtPut {
  readonly #p: DhtParts

  constructor(parts: DhtParts) {
    this.#p = parts
  }

  #bounds(opts: QueryOptions): Bounds {
    return { signal: opts.signal, deadline: performance.now() + this.#p.queryTimeoutMs(opts.timeoutMs) }
  }

  /** Send a record to one peer's store directly (no lookup); true if that peer stored it. */
  sendTo(peer: PeerId, kb: Uint8Array, value: Uint8Array, opts: QueryOptions): Promise<boolean> {
    return this.#putTo(peer, encodePut(kb, value), this.#bounds(opts))
  }

  /**
   * Send one PUT to one peer over the rpc link; true if it stored the record. The peers its reply names (its closest
   * to the key) go to `answered` under its mhKey; a list that does not parse names nobody (the record was stored).
   */
  async #putTo(peer: PeerId, payload: Uint8Array, b: Bounds, onRefused?: (err: DiscoveryError) => void, answered?: Map<string, NamedPeer[]>): Promise<boolean> {
    try {
      const reply = await this.#p.rpc().request(peer, RPC_PUT, payload, { signal: b.signal, timeoutMs: remaining(b) })
      if (answered !== undefined && reply.length > 0) {
        try {
          answered.set(mhKey(peer.toMultihash().bytes), decodePeers(reply))
        } catch (err) {
          this.#p.log?.debug({ err, peer: peer.toString() }, 'put reply names no valid peers')
        }
      }
      return true
    } catch (err) {
      // A refusal of its own kind (a full store, a quota) is what the publisher gets to see if no peer stores it.
      if (err instanceof DiscoveryError && !(err instanceof RpcFailedError)) onRefused?.(err)
      this.#p.log?.debug({ err, peer: peer.toString() }, 'put to peer failed')
      return false
    }
  }

  /**
   * PUT a value to the peers closest to its key. It goes at once to the closest peers this
   * node's routing table knows (on a warm table: one round trip); then a network lookup runs and
   * any closer peer it finds gets it too. Each PUT reply names the responder's closest peers, so
   * the lookup starts from those answers (on a warm table it asks nobody). The put completes when
   * the peers first asked have answered and at least one stored it; otherwise (or with
   * `waitForLookup`) it waits for the lookup and its PUTs. The lookup and late PUTs go on after
   * completion, bounded by the query timeout and stop(). Refused by every peer: PublishFailedError.
   * The value is checked here first and stored here once the network took it (no stray copy of a
   * refused put).
   */
  async publish(key: string, value: Uint8Array, opts: PutOptions): Promise<PublishResult> {
    this.#p.store.checkLocal(key, value)
    const kb = keyBytes(key)
    const kadId = sha256(kb)
    // PUTs outlive the caller's wait (they finish in the background), but not the node.
    const bounds: Bounds = { deadline: performance.now() + this.#p.queryTimeoutMs(opts.timeoutMs) }
    const asked = new Map<string, Promise<boolean>>()
    const payload = encodePut(kb, value) // the same PUT for every peer
    let refusal: DiscoveryError | undefined
    const onRefused = (err: DiscoveryError): void => {
      refusal ??= err
    }
    // What each PUT reply named (the responder's closest peers), by the responder's mhKey.
    const answered = new Map<string, NamedPeer[]>()
    const send = (peer: PeerId): Promise<boolean> => {
      const id = peer.toString()
      let result = asked.get(id)
      if (result === undefined) {
        result = this.#putTo(peer, payload, bounds, onRefused, answered)
        asked.set(id, result)
      }
      return result
    }
    const first = this.#p.routing.storingSet(kadId, this.#p.routing.nearestReachable(kadId)).map(send)
    // The lookup starts once the first PUTs are answered, from what their replies named.
    const lookup = Promise.allSettled(first)
      .then(() => this.#p.routing.closest(kb, bounds, answered))
      .then((peers) => Promise.all(this.#p.routing.storingSet(kadId, peers).map(send)))
      .catch((err) => this.#p.log?.debug({ err, key }, 'lookup for put failed'))
    const caller = this.#bounds(opts)
    const firstStored = (await raceBounds(Promise.all(first), caller)).filter(Boolean).length
    if (firstStored === 0 || opts.waitForLookup === true) await raceBounds(lookup, caller)
    const settled = await raceBounds(Promise.all(asked.values()), caller)
    const stored = settled.filter(Boolean).length
    if (asked.size > 0 && stored === 0) {
      throw new PublishFailedError(`none of ${asked.size} peers stored ${key}${refusal ? `: ${refusal.message}` : ''}`, { cause: refusal })
    }
    try {
      this.#p.store.storeLocal(key, value)
    } catch (err) {
      // A newer record arrived meanwhile: the network has what it needs.
      this.#p.log?.debug({ err, key }, 'local store refused after publish')
    }
    return { key, stored, attempted: asked.size }
  }
}
