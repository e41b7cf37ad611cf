import { type Ping, type PingComponents, ping } from '@libp2p/ping'

/**
 * libp2p's connection monitor pings every open connection each interval and closes one whose ping fails.
 * `false` turns it off: right for many nodes in one process on loopback (a simulation), where a closed socket is
 * seen at once and a busy event loop would otherwise fail pings and close healthy connections.
 */
export type KeepAliveInit = false | { intervalMs?: number; closeOnFailure?: boolean }

/** libp2p's `connectionMonitor` option for a KeepAliveInit (undefined: libp2p's defaults, every 10 s). */
export function connectionMonitorOf(keepAlive: KeepAliveInit | undefined): { enabled?: boolean; pingInterval?: number; abortConnectionOnPingFailure?: boolean } | undefined {
  if (keepAlive === undefined) return undefined
  if (keepAlive === false) return { enabled: false }
  return {
    ...(keepAlive.intervalMs === undefined ? {} : { pingInterval: keepAlive.intervalMs }),
    ...(keepAlive.closeOnFailure === undefined ? {} : { abortConnectionOnPingFailure: keepAlive.closeOnFailure }),
  }
}

/**
 * Ping streams one connection may have open at once, each way. @libp2p/ping allows one outbound (two inbound), but
 * the connection monitor opens a new ping every interval while the last may still run (its timeout adapts to slow
 * answers: past 10 s on a loaded machine), and kad-dht pings peers too; the second stream then fails with
 * TooManyOutboundProtocolStreamsError, which the monitor takes for a dead peer and aborts a healthy connection
 * with every stream on it (seen failing a discovery RPC at load ~10). The inbound side allows what a peer's
 * monitor and DHT may send at once.
 */
export const PING_STREAMS = { maxOutboundStreams: 4, maxInboundStreams: 8 } as const

/** @libp2p/ping with room for the monitor's and the DHT's pings at once (PING_STREAMS). */
export function keepAlivePing(): (components: PingComponents) => Ping {
  return ping(PING_STREAMS)
}
