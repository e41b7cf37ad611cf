import type { KadDHT, QueryEvent } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'
import { Libp2pRecord } from '@libp2p/record'
import { UnsupportedRecordError } from './errors.ts'

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

/** A kad-dht message as its rpc handlers see it (the fields Baran reads). */
interface KadMessage {
  type: string
  record?: Uint8Array
}

/** kad-dht's inbound message handlers, by message type ('PUT_VALUE', 'ADD_PROVIDER'…). */
type KadHandlers = Record<string, { handle(peer: PeerId, msg: KadMessage): Promise<KadMessage | undefined> }>

/** Message types Baran never sends: providers are IPFS's, not Baran's. */
const UNUSED_KAD_MESSAGES = ['ADD_PROVIDER', 'GET_PROVIDERS']

/**
 * Serve only the kad-dht messages Baran uses (FIND_NODE, GET_VALUE, PUT_VALUE, PING). kad-dht 16 has no option
 * to turn provider records off, so this instance's handlers for ADD_PROVIDER and GET_PROVIDERS are removed (kad-dht
 * then resets a stream that carries one, as for any unknown type), and PUT_VALUE goes to `onPut` with the remote
 * peer (kad-dht's own handler writes to the datastore without saying who sent the record, so the store could not
 * charge it to its uploader). `onPut` throws to refuse. Throws if this kad-dht version has no such handlers.
 */
export function restrictKadRpc(dht: KadDHT, onPut: (peer: PeerId, key: Uint8Array, value: Uint8Array) => void): void {
  const handlers = (dht as unknown as { rpc?: { handlers?: KadHandlers } }).rpc?.handlers
  if (handlers == null || ['PUT_VALUE', ...UNUSED_KAD_MESSAGES].some((t) => typeof handlers[t]?.handle !== 'function')) {
    throw new Error('@libp2p/kad-dht internals changed: rpc.handlers not found (expected 16.4.x)')
  }
  for (const type of UNUSED_KAD_MESSAGES) Reflect.deleteProperty(handlers, type)
  handlers.PUT_VALUE = {
    handle: async (peer, msg) => {
      if (msg.record == null) throw new UnsupportedRecordError('PUT_VALUE without a record')
      const record = Libp2pRecord.deserialize(msg.record)
      onPut(peer, record.key, record.value)
      // kad-dht answers a stored PUT with the message itself.
      return msg
    },
  }
}
