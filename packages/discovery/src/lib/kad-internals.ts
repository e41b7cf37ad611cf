import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'

/**
 * The part of @libp2p/kad-dht's KadDHT instance that its public API does not expose but that
 * Baran's routing reads: the routing table (its closest peers to a key, cheaply, and when it
 * changes). Gets, puts and watches travel over Baran's own rpc, never kad-dht's messages
 * (docs/discovery-kademlia.md). Kept in this one module, for the one kad-dht version pinned in
 * package.json, and checked at start-up (and by test/kad-internals.test.ts), so an upgrade that
 * moves it fails loudly here instead of misbehaving elsewhere.
 */
export interface KadInternals {
  routingTable: {
    size: number
    closestPeers(kadId: Uint8Array, options?: { count?: number }): PeerId[]
    /** 'peer:add' and 'peer:remove' tell when the table changed. */
    addEventListener(type: 'peer:add' | 'peer:remove', listener: () => void): void
  }
}

/** The @libp2p/kad-dht version these internals were read from (pinned exactly in package.json). */
export const KAD_DHT_VERSION = '16.4.5'

/** Each internal this module reads, as a path into the KadDHT instance, and the type it must have. */
export const KAD_INTERNALS = [
  ['routingTable.size', 'number'],
  ['routingTable.closestPeers', 'function'],
  ['routingTable.addEventListener', 'function'],
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

/** kad-dht's inbound message handlers, by message type ('PUT_VALUE', 'ADD_PROVIDER'…). */
type KadHandlers = Record<string, unknown>

/**
 * Message types Baran does not serve: providers are IPFS's, not Baran's; values travel over
 * Baran's rpc (GET, PUT), so kad-dht's GET_VALUE and PUT_VALUE would be a second, unbounded way in.
 */
export const UNSERVED_KAD_MESSAGES = ['ADD_PROVIDER', 'GET_PROVIDERS', 'GET_VALUE', 'PUT_VALUE'] as const

/**
 * Serve only the kad-dht messages Baran uses: FIND_NODE and PING (its routing). kad-dht 16 has no option to turn
 * provider or value records off, so this instance's handlers for the others are removed (kad-dht then resets a
 * stream that carries one, as for any unknown type). Throws if this kad-dht version has no such handlers.
 */
export function restrictKadRpc(dht: KadDHT): void {
  const missing = UNSERVED_KAD_MESSAGES.map((type) => `rpc.handlers.${type}.handle`)
    .filter((path) => typeof valueAt(dht, path) !== 'function')
    .map((path) => `${path} (function)`)
  if (missing.length > 0) throw new KadInternalsChangedError(missing)
  const handlers = (dht as unknown as { rpc: { handlers: KadHandlers } }).rpc.handlers
  for (const type of UNSERVED_KAD_MESSAGES) Reflect.deleteProperty(handlers, type)
}
