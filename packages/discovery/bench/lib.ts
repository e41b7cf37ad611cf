/** Helpers shared by the discovery benchmarks (not a benchmark itself: the runner only picks *.bench.ts). */
import { peerIdFromString } from '@libp2p/peer-id'
import { xor } from 'uint8arrays/xor'
import { xorCompare } from 'uint8arrays/xor-compare'
import { createDiscoveryNode, type DiscoveryNode, type DiscoveryNodeInit } from '../src/index.ts'
import { sha256 } from '../src/lib/bytes.ts'

export interface Stats {
  n: number
  p50: number
  p95: number
  mean: number
  min: number
  max: number
}

const round = (x: number): number => Math.round(x * 1000) / 1000

/** p50/p95/mean/min/max of ms samples (nearest-rank percentiles). */
export function stats(samples: number[]): Stats | undefined {
  if (samples.length === 0) return undefined
  const s = [...samples].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number
  return { n: s.length, p50: round(q(0.5)), p95: round(q(0.95)), mean: round(s.reduce((a, b) => a + b, 0) / s.length), min: round(s[0] as number), max: round(s.at(-1) as number) }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

/** One operation at a time, with an untimed pause between them for background work to finish. */
export async function samples(n: number, fn: (i: number) => Promise<unknown> | unknown, gapMs = 0): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    out.push(await time(() => fn(i)))
    if (gapMs > 0) await sleep(gapMs)
  }
  return out
}

/** `--name value` from the command line, as a number. */
export function numberArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? dflt : Number(process.argv[i + 1])
}

/** The `count` nodes closest to a key by XOR distance: where a put stores it. */
export function storingSet(nodes: DiscoveryNode[], key: string, count: number): DiscoveryNode[] {
  const target = sha256(new TextEncoder().encode(key))
  const dist = (n: DiscoveryNode) => xor(sha256(peerIdFromString(n.peerId).toMultihash().bytes), target)
  return [...nodes].sort((a, b) => xorCompare(dist(a), dist(b))).slice(0, count)
}

/** Indexes of the `count` peer IDs closest to a key by XOR distance: where a put stores it. */
export function closestIndexes(peerIds: string[], key: string, count: number): number[] {
  const target = sha256(new TextEncoder().encode(key))
  const dist = peerIds.map((id) => xor(sha256(peerIdFromString(id).toMultihash().bytes), target))
  return peerIds.map((_, i) => i).sort((a, b) => xorCompare(dist[a] as Uint8Array, dist[b] as Uint8Array)).slice(0, count)
}

/** A node that does not store `key` itself (and is not `not`). */
export function far(nodes: DiscoveryNode[], key: string, not?: DiscoveryNode): DiscoveryNode {
  return nodes.find((n) => n !== not && n.getLocalRecord(key) === undefined) ?? (nodes.at(-1) as DiscoveryNode)
}

/**
 * `n` nodes on 127.0.0.1 (the first is everyone's bootstrap); resolves once every routing table
 * holds min(8, n-1) peers and the joining traffic has calmed down (bounded waits).
 */
export async function startQuietNetwork(n: number, init: DiscoveryNodeInit, nodes: DiscoveryNode[]): Promise<{ startMs: number; tablesReadyMs: number; quietAfterMs: number; minRoutingTable: number }> {
  const t0 = performance.now()
  const first = await createDiscoveryNode(init)
  nodes.push(first)
  const bootstrap = [first.multiaddrs()[0] as string]
  nodes.push(...(await Promise.all(Array.from({ length: n - 1 }, () => createDiscoveryNode({ ...init, bootstrap })))))
  const startMs = Math.round(performance.now() - t0)
  for (let i = 0; i < 600 && !nodes.every((x) => x.stats().routingTableSize >= Math.min(n - 1, 8)); i++) await sleep(50)
  const tablesReadyMs = Math.round(performance.now() - t0)
  // Joining nodes look themselves up for ~15 s: measure on a quiet network.
  const quietFrom = performance.now()
  for (let i = 0; i < 60; i++) {
    const c0 = process.cpuUsage()
    await sleep(500)
    const c = process.cpuUsage(c0)
    if ((c.user + c.system) / 1000 / 500 < 0.1) break
  }
  return { startMs, tablesReadyMs, quietAfterMs: Math.round(performance.now() - quietFrom), minRoutingTable: Math.min(...nodes.map((x) => x.stats().routingTableSize)) }
}
