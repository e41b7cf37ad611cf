import { readFileSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname } from 'node:path'
import { z } from 'zod'

/**
 * Listen ports that survive a restart. An actor that listens on `/tcp/0` (any free port) would come back on a
 * new port after a crash, and every peer that knows the old one (a DHT bootstrap list, a relay address in
 * `localnet.json`) would dial a dead port forever. So the port each `/tcp/0` address got is kept in a file in
 * the actor's data dir and asked for again at the next start, when it is still free. The port is chosen below the
 * kernel's ephemeral range (where `/tcp/0` would land): there, an outgoing connection of any process on the machine
 * can take it while the actor is down (seen in the suite: a killed actor came back on a new IPv6 port), so a port of
 * its own, from below that range, is kept instead.
 */
export interface StableListen {
  /** The addresses to listen on: each `/tcp/0` one carries its saved port when that port is free, else a chosen one. */
  readonly listen: string[]
  /** True when `listen` asks for at least one port of its own, saved or chosen (if listening fails, fall back to `configured`). */
  readonly ownPorts: boolean
  /**
   * The addresses of `listen` that carry a port saved by the last run: the ones peers may know. (A chosen port that
   * does not bind, e.g. IPv6 turned off, is no more missed than a `/tcp/0` that does not.)
   */
  readonly saved: string[]
  /** The addresses as configured (what to listen on when the saved ports cannot be had). */
  readonly configured: string[]
  /** Saves the port each `/tcp/0` address got, from the host's bound addresses (after it listens). */
  save(bound: readonly string[]): Promise<void>
}

interface PortLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

const SavedPortsSchema = z.object({ ports: z.record(z.string(), z.number().int().min(1).max(65_535)) })

interface TcpAddr {
  family: string
  host: string
  port: number
  /** What follows the port (`/ws`, `/tls/ws`…): tells a WebSockets listener from a TCP one. */
  tail: string
}

/** The TCP parts of a listen or bound multiaddr (without /p2p/…); undefined for relay and non-TCP addresses. */
function tcpAddr(addr: string): TcpAddr | undefined {
  if (addr.includes('/p2p-circuit')) return undefined
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)(.*)$/.exec(addr.replace(/\/p2p\/.*$/, ''))
  if (!m) return undefined
  return { family: m[1] ?? '', host: m[2] ?? '', port: Number(m[3]), tail: m[4] ?? '' }
}

/** True when nothing listens on host:port (a quick exclusive bind, closed at once). */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** Where a port of one's own is looked for: from here up to the ephemeral range. */
export const OWN_PORTS_FROM = 10_000
const PICK_ATTEMPTS = 32

/** The lowest port the kernel hands out to outgoing connections (Linux's default where /proc does not say). */
export function ephemeralPortsFrom(rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const lo = Number(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(lo) && lo > 0 && lo <= 65_535 ? lo : 32_768
  } catch {
    return 32_768
  }
}

/**
 * A free port on `host` below the ephemeral range and not in `avoid` (ports this start already asked for: an IPv6
 * wildcard may bind the IPv4 one too), or undefined when a few random tries find none.
 */
export async function freeOwnPort(host: string, avoid: ReadonlySet<number> = new Set(), random: () => number = Math.random, below = ephemeralPortsFrom()): Promise<number | undefined> {
  const span = below - OWN_PORTS_FROM
  if (span <= 0) return undefined
  for (let i = 0; i < PICK_ATTEMPTS; i++) {
    const port = OWN_PORTS_FROM + Math.floor(random() * span)
    if (!avoid.has(port) && (await portFree(host, port))) return port
  }
  return undefined
}

const withPort = (addr: string, port: number) => addr.replace(/\/tcp\/0(?=\/|$)/, `/tcp/${port}`)

/**
 * Reads the ports saved in `file` for the `/tcp/0` addresses of `configured` and returns the addresses to
 * listen on. A saved port that is taken now is left out (a log line says so); an address without a usable saved
 * port gets a free one below the ephemeral range (`/tcp/0` only when none is found).
 */
export async function stableListen(file: string, configured: readonly string[], log?: PortLogger): Promise<StableListen> {
  const saved = await readFile(file, 'utf8')
    .then((text) => SavedPortsSchema.parse(JSON.parse(text)).ports)
    .catch(() => ({}) as Record<string, number>)
  const listen: string[] = []
  const savedListen: string[] = []
  const asked = new Set(configured.flatMap((c) => tcpAddr(c)?.port || saved[c] || []))
  for (const addr of configured) {
    const a = tcpAddr(addr)
    const port = saved[addr]
    if (a?.port !== 0) {
      listen.push(addr)
      continue
    }
    if (port !== undefined) {
      if (await portFree(a.host, port)) {
        const withSaved = withPort(addr, port)
        listen.push(withSaved)
        savedListen.push(withSaved)
        continue
      }
      log?.warn({ addr, port }, `port ${port} used before this restart is taken: listening on a new port (peers that knew the old one must learn the new one)`)
    }
    const own = a.family === 'ip4' || a.family === 'ip6' ? await freeOwnPort(a.host, asked) : undefined
    listen.push(own === undefined ? addr : withPort(addr, own))
    if (own !== undefined) asked.add(own)
  }
  return {
    listen,
    // a port of its own wherever an address changed: a saved or a chosen one in place of /tcp/0
    ownPorts: listen.some((a, i) => a !== configured[i]),
    saved: savedListen,
    configured: [...configured],
    async save(bound) {
      const ports: Record<string, number> = {}
      const got = bound.map(tcpAddr).filter((b): b is TcpAddr => b !== undefined)
      for (const addr of configured) {
        const a = tcpAddr(addr)
        if (a?.port !== 0) continue
        // The same address, else the same kind of listener on the same IP family (0.0.0.0 binds every interface).
        const match = got.find((b) => b.family === a.family && b.host === a.host && b.tail === a.tail) ?? got.find((b) => b.family === a.family && b.tail === a.tail)
        if (match) ports[addr] = match.port
      }
      if (JSON.stringify(ports) === JSON.stringify(saved)) return
      await mkdir(dirname(file), { recursive: true, mode: 0o700 })
      const tmp = `${file}.${process.pid}.tmp`
      await writeFile(tmp, `${JSON.stringify({ ports })}\n`, { mode: 0o600 })
      await rename(tmp, file)
    },
  }
}

/**
 * The `key` array of strings in a JSON file (`bootstrap` or `relays` of the local network's description), read
 * now: peers an actor learns of while it runs. A missing file or a missing key is an empty list; a file that is
 * not JSON throws.
 */
export async function readAddressList(file: string, key: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const value = (JSON.parse(text) as Record<string, unknown>)[key]
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.startsWith('/') && v.length <= 512) : []
}
