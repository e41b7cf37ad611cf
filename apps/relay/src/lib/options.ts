/**
 * Parsers for the relay's command-line values: byte sizes, durations, ports and multiaddrs. Each throws
 * InvalidRelayOptionError naming the option, never anything else, whatever the input.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidRelayOptionError } from './errors.ts'

/** STUN's registered UDP port (RFC 8489), which nodes assume for their relays. */
const DEFAULT_STUN_PORT = 3478

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 }
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Largest data limit accepted (1 TiB): beyond it, ask for `--unlimited`. */
export const MAX_DATA_LIMIT_BYTES = 1024 ** 4
/** Longest duration limit accepted (7 days). */
export const MAX_DURATION_LIMIT_MS = 7 * 86_400_000

function bad(option: string, value: unknown, expected: string): InvalidRelayOptionError {
  return new InvalidRelayOptionError(`${option}: ${shown(value)} is not ${expected}`)
}

/** A value as the error message shows it; never calls an object's own toString (which may throw or lie). */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === undefined) return String(value)
  return Array.isArray(value) ? '(an array)' : `(a ${typeof value})`
}

/** `65536`, `512KiB`, `64MiB`, `1GiB` (also `k`, `m`, `g`) → bytes, from 1 KiB to 1 TiB. */
export function parseByteSize(text: unknown, option = '--data-limit'): number {
  const m = typeof text === 'string' ? /^\s*(\d{1,16})\s*([a-zA-Z]{0,3})\s*$/.exec(text) : null
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) throw bad(option, text, 'a size like 65536, 512KiB or 64MiB')
  const bytes = Number(m[1]) * unit
  if (!Number.isSafeInteger(bytes) || bytes < 1024 || bytes > MAX_DATA_LIMIT_BYTES) throw bad(option, text, 'between 1KiB and 1TiB')
  return bytes
}

/** `500ms`, `90s`, `30m`, `2h`, `1d`, or plain milliseconds → ms, from 1 s to 7 days. */
export function parseDuration(text: unknown, option = '--duration-limit'): number {
  const m = typeof text === 'string' ? /^\s*(\d{1,16})\s*(ms|s|m|h|d)?\s*$/.exec(text) : null
  if (!m) throw bad(option, text, 'a duration like 90s, 30m or 2h')
  const ms = Number(m[1]) * (TIME_UNITS[m[2] ?? 'ms'] ?? 1)
  if (!Number.isSafeInteger(ms) || ms < 1000 || ms > MAX_DURATION_LIMIT_MS) throw bad(option, text, 'between 1s and 7d')
  return ms
}

/** A whole number in [min, max] (given as a string on the command line, or a number). */
export function parseInteger(value: unknown, option: string, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(option, value, `a whole number from ${min} to ${max}`)
  return n
}

/** A TCP port number (0: a free one). */
export function parsePort(value: unknown, option: string): number {
  return parseInteger(value, option, 0, 65_535)
}

/** A listen multiaddr: IPv4/IPv6 + TCP, optionally WebSockets (what the relay's hosts can bind). */
export function parseListenAddr(text: unknown, option = '--listen'): string {
  const expected = 'a listen multiaddr like /ip4/127.0.0.1/tcp/4001 or /ip4/0.0.0.0/tcp/4002/ws'
  if (typeof text !== 'string' || text.length === 0 || text.length > 512) throw bad(option, text, expected)
  let names: string[]
  let canonical: string
  try {
    const ma = multiaddr(text)
    names = ma.getComponents().map((c) => c.name)
    canonical = ma.toString()
  } catch (e) {
    throw new InvalidRelayOptionError(`${option}: ${JSON.stringify(text)} is not ${expected}`, { cause: e })
  }
  const shapeOk = (names[0] === 'ip4' || names[0] === 'ip6') && names[1] === 'tcp' && (names.length === 2 || (names.length === 3 && names[2] === 'ws'))
  if (!shapeOk) throw bad(option, text, expected)
  return canonical
}

/** A peer's multiaddr ending in /p2p/<peerId> (a DHT bootstrap node). */
export function parsePeerAddr(text: unknown, option = '--bootstrap'): string {
  const expected = 'a multiaddr ending in /p2p/<peerId>'
  if (typeof text !== 'string' || text.length === 0 || text.length > 512) throw bad(option, text, expected)
  try {
    const ma = multiaddr(text)
    const last = ma.getComponents().at(-1)
    if (last?.name !== 'p2p' || !last.value) throw bad(option, text, expected)
    peerIdFromString(last.value)
    return ma.toString()
  } catch (e) {
    if (e instanceof InvalidRelayOptionError) throw e
    throw new InvalidRelayOptionError(`${option}: ${JSON.stringify(text)} is not ${expected}`, { cause: e })
  }
}

/**
 * The DHT node's listen addresses when none are given: one per plain-TCP relay address, on the next port
 * (so a relay on a fixed port has a fixed DHT address too), or a free port when the relay's is free.
 */
export function defaultDhtListen(listen: readonly string[]): string[] {
  const out = new Set<string>()
  const hosts = new Set<string>()
  for (const addr of listen) {
    const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)(\/ws)?$/.exec(addr)
    if (!m) continue
    hosts.add(`/${m[1]}/${m[2]}`)
    if (m[4]) continue
    const port = Number(m[3])
    out.add(`/${m[1]}/${m[2]}/tcp/${port === 0 ? 0 : port < 65_535 ? port + 1 : port - 1}`)
  }
  // only WebSocket addresses: a free TCP port on the same hosts
  if (out.size === 0) for (const h of hosts.size > 0 ? hosts : ['/ip4/127.0.0.1']) out.add(`${h}/tcp/0`)
  return [...out]
}

/**
 * Where the relay's STUN server binds: the host of the first IP listen address (nodes derive
 * `stun:<relay host>:3478` from their relay addresses), on 3478 when that address has a fixed port,
 * a free port when it is 0. Undefined when no listen address names an IP.
 */
export function defaultStunHost(listen: readonly string[], given: { host?: string; port?: number }): { host: string; port: number } | undefined {
  const m = listen.map((a) => /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)/.exec(a)).find((x) => x !== null)
  const host = given.host ?? m?.[2]
  if (host === undefined) return undefined
  const port = given.port ?? (m?.[3] === '0' ? 0 : DEFAULT_STUN_PORT)
  return { host, port: parsePort(port, '--stun-port') }
}
