import type { KadDHT, QueryEvent } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'
import { Libp2pRecord } from '@libp2p/record'
import { UnsupportedRecordError } from './errors.ts'

/**
 * The parts of @libp2p/kad-dht's KadDHT instance that its public API does not expose but
 * that a fast put/get needs: send one PUT to a chosen peer, read the routing table, and stream
 * a get's values as they arrive (the public get() holds them until its whole query ends and
 * then throws if a "correction" PUT is refused). Kept in this one module, for the one kad-dht
 * version pinned in package.json, and checked at start-up (and by test/kad-internals.test.ts),
 * so an upgrade that moves them fails loudly here instead of misbehaving elsewhere.
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

/** The @libp2p/kad-dht version these internals were read from (pinned exactly in package.json). */
export const KAD_DHT_VERSION = '16.4.5'

/** Each internal this module reads, as a path into the KadDHT instance, and the type it must have. */
export const KAD_INTERNALS = [
  ['routingTable.size', 'number'],
  ['routingTable.closestPeers', 'function'],
  ['routingTable.addEventListener', 'function'],
  ['network.sendRequest', 'function'],
  ['contentFetching.getMany', 'function'],
] as const

/** Thrown when a kad-dht instance lacks an internal this module reads: kad-dht was upgraded past KAD_DHT_VERSION. */
export class KadInternalsChangedError extends Error {
  /** The internals not found, e.g. `network.sendRequest`. */
  readonly missing: string[]
  constructor(missing: string[], options?: ErrorOptions) {
    super(
      `@libp2p/kad-dht internals changed: ${missing.join(', ')} not found (expected @libp2p/kad-dht ${KAD_DHT_VERSION}; see packages/discovery/src/lib/kad-internals.ts)`,
      options,
    )
    this.name = 'KadInternalsChangedError'
    this.missing = missing
  }
}

/** The internals of a kad-dht instance; throws KadInternalsChangedError if this kad-dht version does not have them. */
export function kadInternals(dht: KadDHT): KadInternals {
  const missing = KAD_INTERNALS.filter(([path, type]) => typeof valueAt(dht, path) !== type).map(([path, type]) => `${path} (${type})`)
  if (missing.length > 0) throw new KadInternalsChangedError(missing)
  return dht as unknown as KadInternals
}

/** The value at a dotted path into an object, undefined where the path breaks. */
function valueAt(root: unknown, path: string): unknown {
  let v = root
  for (const part of path.split('.')) {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return undefined
    v = (v as Record<string, unknown>)[part]
  }
  return v
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
  const missing = ['PUT_VALUE', ...UNUSED_KAD_MESSAGES]
    .map((type) => `rpc.handlers.${type}.handle`)
    .filter((path) => typeof valueAt(dht, path) !== 'function')
    .map((path) => `${path} (function)`)
  if (missing.length > 0) throw new KadInternalsChangedError(missing)
  const handlers = (dht as unknown as { rpc: { handlers: KadHandlers } }).rpc.handlers
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
