/** What the host reports about each libp2p connection that opens or closes, and how it tells their kinds apart. */
import type { Connection } from '@libp2p/interface'
import { type ConnectionPath, pathOf } from './upgrade.ts'

/** How a connection reaches the peer; 'upgraded' is a direct one that replaced a relayed one (DCUtR). */
export type ConnectionKind = 'direct' | 'relayed' | 'upgraded'

export interface ConnectionEvent {
  type: 'open' | 'close'
  kind: ConnectionKind
  peerId: string
  /** libp2p's connection id. */
  id: string
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  /** What it runs over: tcp, ws, webrtc (direct, ICE over UDP) or circuit (through a relay). */
  path: ConnectionPath
}

/**
 * Classifies a connection against the other connections to the same peer: a direct connection
 * that opens while a relayed one is still up is the product of a hole punch ('upgraded').
 */
export function classifyConnection(conn: { id: string; direct: boolean }, peerConns: Array<{ id: string; direct: boolean }>): ConnectionKind {
  if (!conn.direct) return 'relayed'
  return peerConns.some((c) => c.id !== conn.id && !c.direct) ? 'upgraded' : 'direct'
}

/** The event reporting `conn` as opened or closed, as a connection of `kind`. */
export function connectionEventOf(type: 'open' | 'close', kind: ConnectionKind, conn: Connection): ConnectionEvent {
  return {
    type,
    kind,
    peerId: conn.remotePeer.toString(),
    id: conn.id,
    remoteAddr: conn.remoteAddr.toString(),
    direction: conn.direction,
    path: pathOf(conn.remoteAddr.toString()),
  }
}
