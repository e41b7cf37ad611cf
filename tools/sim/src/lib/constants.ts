/** Cheap scrypt for the identity actor: a simulation creates many accounts and never exports archives. */
export const SIM_KDF = { N: 1024, r: 8, p: 1 } as const
/**
 * libp2p settings of every simulated node's hosts. No connection-monitor pings: on loopback a stopped node's
 * sockets close at once, and with 100 nodes in one event loop the pings (one new stream per connection every 10 s)
 * were most of the idle CPU, and pings that missed their deadline on a busy loop closed healthy connections.
 * The transport also skips AutoNAT (nothing to learn about reachability on loopback).
 */
export const SIM_LIBP2P = { keepAlive: false } as const
/** Nodes that never churn and serve as everyone's DHT bootstrap. */
export const ANCHOR_NODES = 3
/** Nodes whose actors start at once during setup (more starve the event loop on a 2-core machine: bus requests time out). */
export const START_CONCURRENCY = 3
/** Outbox back-off in a sim: presence events drive resends; back-off is the fallback and must fit in the run. */
export const SIM_BACKOFF = { initialMs: 250, maxMs: 4000, jitter: 0.5 } as const
/** Messages are sent during the first part of the run; churned nodes are all back by the second mark. */
export const LOAD_FRACTION = 0.7
export const BACK_BY_FRACTION = 0.75
/** After `durationMs`, wait at most this long (default) for the last deliveries before reporting. */
export const DEFAULT_DRAIN_MS = 60_000
/** DHT lookups timed after setup (the discovery library does not expose hop counts). */
export const DEFAULT_LOOKUPS = 30
/** The lookup phase stops after this long, whatever the count. */
export const LOOKUP_BUDGET_MS = 20_000
/** Outbox.send requests in flight at once from the load generator. */
export const SEND_CONCURRENCY = 16
/** Bus connection attempts per node start (a busy event loop can miss one connect deadline). */
export const CONNECT_ATTEMPTS = 5
/** Attempts to bring a churned node back (each start has its own deadlines). */
export const RESTART_ATTEMPTS = 3
/** Nodes stopped at once at teardown. */
export const STOP_CONCURRENCY = 50
/**
 * Open files a simulation of n nodes needs: both ends of every loopback connection are in this process, and a DHT
 * node of a few hundred keeps a connection to most of its routing table, so it grows as n²/2 (200 nodes used up a
 * limit of 20 000 by about the 195th node's start), plus each node's listeners and bus connection.
 */
export function descriptorsFor(nodes: number): number {
  return Math.ceil((nodes * nodes) / 2 + nodes * 20)
}
/** The open-file limit a simulation of n nodes asks for: half again its estimate, for headroom. */
export function filesFor(nodes: number): number {
  return Math.ceil(1.5 * descriptorsFor(nodes))
}
/** With `kill: 'sigkill'`, churned and stay-offline nodes each run in a process of their own: at most this many. */
export const MAX_PROCESS_NODES = 40
