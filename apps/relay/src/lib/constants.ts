/** Defaults of the relay. */

/** Relay listen addresses when none are given: loopback, TCP and WebSockets on random ports. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] as const

/** Clients that may hold a reservation at once (libp2p's default, 15, suits a home peer, not a helper node). */
export const DEFAULT_MAX_RESERVATIONS = 256

/**
 * Bytes one relayed connection may carry before the relay resets it. libp2p's default (128 KiB) is less than
 * one 256 KiB frame of Baran's message protocol; this is 256 such frames.
 */
export const DEFAULT_DATA_LIMIT_BYTES = 64 * 1024 * 1024

/** How long one relayed connection may stay open (libp2p's default, 2 minutes, cuts off a quiet chat). */
export const DEFAULT_DURATION_LIMIT_MS = 30 * 60_000

/** Open connections the relay's host accepts (each reservation holds one, each relayed pair uses two). */
export const DEFAULT_MAX_CONNECTIONS = 1024

/** Files in the data dir: the two libp2p keys (0600) and, while it runs, where it listens. */
export const RELAY_KEY_FILE = 'relay.key'
export const DHT_KEY_FILE = 'dht.key'
export const RELAY_INFO_FILE = 'relay.json'
export const RELAY_LOG_FILE = 'relay.log'

/** How often the running relay logs its counters. */
export const STATS_INTERVAL_MS = 60_000
