/** A LAN node's options and counters, and the check of what a caller can get wrong (as node-options.ts is for the DHT node). */
import type { PrivateKey } from '@libp2p/interface'
import { checkPeerAddrs, checkPositiveInts } from './node-options.ts'
import type { Logger } from './store.ts'
import { resolveLimits, type StoreFigures, type StoreLimits } from './store-quota.ts'

/** Options of createLanNode; every option is optional. */
export interface LanNodeInit {
  /** Multiaddrs to listen on (TCP; `/ws` ones use WebSockets). @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** LAN peers to meet without mDNS: multiaddrs ending in /p2p/<peerId>, dialled (again) until connected. @default [] */
  peers?: string[]
  /** Find peers on the local network with mDNS. @default false */
  mdns?: boolean
  /** The node's libp2p key (its PeerId). @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /** Clock for record validity, ms since epoch. @default Date.now */
  now?: () => number
  /** Bound on one request to one peer. @default 3000 */
  requestTimeoutMs?: number
  /** How often unconnected static peers are dialled again. @default 2000 */
  redialMs?: number
  /** Bounds of the records this node keeps from its peers (total, per peer that pushed them, per key). @default as the DHT node's */
  storeLimits?: StoreLimits
  log?: Logger
}

/** Counters of a LAN node. */
export interface LanStats {
  /** Connected peers that speak the LAN protocol. */
  peers: number
  storedRecords: number
  pushesSent: number
  pushesFailed: number
  /** Keys whose failed push waits for a retry. */
  pushRetriesPending: number
  recordsReceived: number
  /** The record store's bytes, records, limits and refusals. */
  store: StoreFigures
}

/** Check the options a caller can get wrong; throws InvalidConfigError naming the option. */
export function checkLanInit(init: LanNodeInit): void {
  checkPeerAddrs('peers', init.peers)
  resolveLimits(init.storeLimits)
  checkPositiveInts(init, ['requestTimeoutMs', 'redialMs'])
}
