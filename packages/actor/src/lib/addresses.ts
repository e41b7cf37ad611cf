import { createServer } from 'node:net'
import { networkInterfaces } from 'node:os'

/**
 * Which addresses a node listens on by default and which of its addresses it tells others about. A node listens
 * on every interface (IPv4 and IPv6) so that machines on its LAN can reach it, but announces only addresses
 * someone else can use: never a link-local one (valid on one link only, without its zone), and loopback only
 * when the node has nothing else (then every peer that can reach it is on this machine anyway).
 */

/** Listen on every interface, IPv4 and IPv6, on ports chosen once and kept in the data dir (stableListen). */
export const ALL_INTERFACES: readonly string[] = ['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/0']

/** Where an address leads: this machine, one link, a private network, or anywhere. */
export type AddressScope = 'loopback' | 'link-local' | 'unspecified' | 'private' | 'public'

function ip4Scope(ip: string): AddressScope | undefined {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined
  const [a = 0, b = 0] = parts
  if (a === 0) return 'unspecified'
  if (a === 127) return 'loopback'
  if (a === 169 && b === 254) return 'link-local'
  // RFC 1918, and carrier-grade NAT space (RFC 6598): not reachable from the internet either
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) return 'private'
  return 'public'
}

function ip6Scope(ip: string): AddressScope {
  const lower = ip.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped?.[1]) return ip4Scope(mapped[1]) ?? 'public'
  if (/^(0*:)*:?0*$/.test(lower) || lower === '::') return 'unspecified'
  if (/^(0*:)*:?0*1$/.test(lower)) return 'loopback'
  const first = Number.parseInt(lower.split(':')[0] || '0', 16)
  if ((first & 0xffc0) === 0xfe80) return 'link-local'
  if ((first & 0xfe00) === 0xfc00) return 'private'
  return 'public'
}

/**
 * The scope of a multiaddr's first host (for a `/p2p-circuit` address, the relay's): `/ip4/10.0.0.2/tcp/1` is
 * private, `/ip6/fe80::1/tcp/1` link-local. A DNS name counts as public (someone set it up to be found), except
 * `localhost`; an address with no host at all (`/webrtc`) counts as public too, it is not ours to judge.
 */
export function addressScope(addr: string): AddressScope {
  const m = /^\/(ip4|ip6|dns|dns4|dns6|dnsaddr)\/([^/]+)/.exec(addr)
  if (!m?.[2]) return 'public'
  const host = m[2]
  if (m[1] === 'ip4') return ip4Scope(host) ?? 'public'
  if (m[1] === 'ip6') return ip6Scope(host)
  return host === 'localhost' || host.endsWith('.localhost') ? 'loopback' : 'public'
}

/**
 * The addresses worth announcing (to the DHT, in identify, in presence records, over mDNS): without link-local
 * and unspecified ones, and without loopback ones unless nothing else is left, which keeps a node that listens
 * only on loopback (a local network on one machine, tests) working. Works on strings and on libp2p Multiaddrs.
 */
export function announceable<T extends { toString(): string }>(addrs: readonly T[]): T[] {
  const usable = addrs.filter((a) => {
    const scope = addressScope(a.toString())
    return scope !== 'link-local' && scope !== 'unspecified'
  })
  // A relayed address through a relay on loopback is how the other nodes of this machine reach us through that
  // relay (nothing else stands in for it, as a LAN address does for a loopback one): the loopback rule is for direct
  // addresses only.
  const isCircuit = (a: T) => a.toString().includes('/p2p-circuit')
  const direct = usable.filter((a) => !isCircuit(a))
  const beyond = direct.filter((a) => addressScope(a.toString()) !== 'loopback')
  if (beyond.length === 0) return usable
  return usable.filter((a) => isCircuit(a) || addressScope(a.toString()) !== 'loopback')
}

/** True when some listen address reaches past this machine (a wildcard or a LAN address): mDNS is then worth it. */
export function listensBeyondLoopback(listen: readonly string[]): boolean {
  return listen.some((a) => addressScope(a) !== 'loopback')
}

/** True when this machine can listen on IPv6 (a namespace or host may have it disabled). */
export function ipv6Available(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ host: '::', port: 0, ipv6Only: true, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

interface ListenLogger {
  info(obj: object, msg?: string): void
}

/** True when some interface of this machine has an IPv6 address now (none where IPv6 is turned off). */
function hasIpv6Address(): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.family === 'IPv6'))
}

/**
 * The listen addresses this machine can have: without the `/ip6/` ones when IPv6 sockets cannot be bound (a log line
 * says so), so that a host without IPv6 still starts on IPv4. Where sockets work but no interface has an IPv6
 * address (IPv6 turned off by sysctl), the `/ip6/` listeners stay, to pick up an address that comes later, and a log
 * line says there is none now. Unchanged when IPv6 works or nothing asks for it.
 */
export async function listenableAddrs(listen: readonly string[], log?: ListenLogger): Promise<string[]> {
  const ip6 = listen.filter((a) => a.startsWith('/ip6/'))
  if (ip6.length === 0 || ip6.length === listen.length) return [...listen]
  if (!(await ipv6Available())) {
    log?.info({ skipped: ip6 }, 'IPv6 is not available on this machine: listening on IPv4 only')
    return listen.filter((a) => !a.startsWith('/ip6/'))
  }
  if (!hasIpv6Address()) log?.info({ listen: ip6 }, 'no IPv6 address on this machine: reachable on IPv4 only for now')
  return [...listen]
}
