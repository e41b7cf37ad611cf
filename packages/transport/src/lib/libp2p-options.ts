/** Options of the host that translate into libp2p's own: keep-alive pings, relay server limits, connection limits. */
import type { circuitRelayServer } from '@libp2p/circuit-relay-v2'

export interface RelayServerOptions {
  /** Reservations the relay holds at once. @default 15 (libp2p's) */
  maxReservations?: number
  /**
   * Limits of each relayed connection; `false` relays without limits.
   * @default libp2p's: 2 minutes and 128 KiB per relayed connection
   */
  limits?: false | { durationMs?: number; dataBytes?: number | bigint }
}

export interface ConnectionLimitsInit {
  /** @default 300 */
  maxConnections?: number
  /** Inbound connections per second accepted from one host. @default 1000 */
  inboundConnectionThreshold?: number
  /** @default libp2p's (10) */
  maxIncomingPendingConnections?: number
}

/** circuitRelayServer()'s init for the host's relayServer option. */
export function relayServerInit(opts: true | RelayServerOptions): Parameters<typeof circuitRelayServer>[0] {
  if (opts === true) return {}
  const limits = opts.limits
  return {
    reservations: {
      maxReservations: opts.maxReservations,
      applyDefaultLimit: limits !== false,
      defaultDurationLimit: limits === false ? undefined : limits?.durationMs,
      defaultDataLimit:
        limits === false || limits?.dataBytes === undefined ? undefined : BigInt(limits.dataBytes),
    },
  }
}
