import type { KadDHT, QueryEvent } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'

/**
 * The parts of @libp2p/kad-dht 16.4's KadDHT instance that its public API does not expose but
 * that a fast put/get needs: send one PUT to a chosen peer, read the routing table, and stream
 * a get's values as they arrive (the public get() holds them until its whole query ends and
 * then throws if a "correction" PUT is refused). Kept in this one file and checked at start-up,
 * so a kad-dht upgrade that moves them fails loudly here.
 */
export interface KadInternals {
  routingTable: {
    size: number
    closestPeers(kadId: Uint8Array, options?: { count?: number }): PeerId[]
    /** 'peer:add' and 'peer:remove' tell when the table changed. */
    addEventListener(type: 'peer:add' | 'peer:remove', listener: () => void): void
  }
  network: {
    sendRequest(
      to: PeerId,
      msg: { type: 'PUT_VALUE' | 'GET_VALUE'; key: Uint8Array; record?: Uint8Array },
      options?: { signal?: AbortSignal },
    ): AsyncGenerator<QueryEvent>
  }
  contentFetching: {
    getMany(key: Uint8Array, options?: { signal?: AbortSignal }): AsyncGenerator<QueryEvent>
  }
}

/** The internals of a kad-dht instance; throws if this kad-dht version does not have them. */
export function kadInternals(dht: KadDHT): KadInternals {
  const d = dht as unknown as Partial<KadInternals>
  if (
    typeof d.routingTable?.closestPeers !== 'function' ||
    typeof d.routingTable?.addEventListener !== 'function' ||
    typeof d.network?.sendRequest !== 'function' ||
    typeof d.contentFetching?.getMany !== 'function'
  ) {
    throw new Error('@libp2p/kad-dht internals changed: routingTable, network or contentFetching not found (expected 16.4.x)')
  }
  return d as KadInternals
}
