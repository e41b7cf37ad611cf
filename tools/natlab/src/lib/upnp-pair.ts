/**
 * One trial of a pair where a router may run UPnP: fresh peers A and B (both with the transport's
 * default, UPnP on), the UPnP side(s) map their TCP listen port on their router's IGD and get the
 * public address verified (AutoNAT dial-back from the relay); A sends to every address B
 * announces, and the trial waits for a direct TCP connection (A dials B's mapped port, or B dials
 * A's over DCUtR after the relayed first contact), then sends again. Used by test/upnp.test.ts
 * and bench/upnp.bench.ts.
 */
import type { HostEvent, LabHost } from './hosts.ts'
import type { NatLab } from './lab.ts'
import { expectedKind, type PairKind, startPair, storedBy } from './pair.ts'
import type { NatType } from './plan.ts'
import { reaches } from './reach.ts'

/**
 * What a pair reaches when the routers may run UPnP (on a public network the IGD counts as
 * public, no carrier NAT): direct as soon as one side has a mapped, verified TCP port (the other
 * dials it, or dials back over DCUtR); otherwise what WebRTC reaches (expectedKind).
 */
export function expectedUpnpKind(nat1: NatType, nat2: NatType, upnp: { nat1?: boolean; nat2?: boolean }): PairKind {
  return upnp.nat1 === true || upnp.nat2 === true ? 'direct' : expectedKind(nat1, nat2)
}

export interface UpnpPeerStatus {
  state: string
  reason?: string
  externalAddr?: string
  verified?: boolean
  leaseSeconds?: number
  /** Mappings a re-check found lost and made again. */
  remapped?: number
  /** What the last re-check of the mapping found. */
  lastCheck?: { outcome: 'reached' | 'refuted' | 'unknown'; at: number }
}

export interface UpnpTrial {
  /** What the messages after the wait went over. */
  kind: PairKind
  /** ms from the peers being up to each UPnP side's verified mapping. */
  verifiedMs: Partial<Record<'a' | 'b', number>>
  /** ms from the peers being up to the first direct connection between A and B (undefined: none). */
  directMs: number | undefined
  /** The direct TCP connections between them, from the dialling side: [side, remoteAddr]. */
  directConnections: Array<{ side: 'a' | 'b'; remoteAddr: string; path: string }>
  /** Each side's UPnP status at the end. */
  upnp: Record<'a' | 'b', UpnpPeerStatus | null>
  delivered: number
}

const POLL_MS = 200
/** How many times a first contact whose every dial failed is made (the outbox would go on). */
const FIRST_CONTACT_TRIES = 3

/** Asks a lab peer for its UPnP status (the {"cmd":"upnp"} command). */
export async function upnpStatusOf(peer: LabHost): Promise<{ status: UpnpPeerStatus | null; addrs: string[] }> {
  const from = peer.events.length
  peer.command({ cmd: 'upnp' })
  const e = await peer.waitFor((x) => x.event === 'upnp', { from, timeoutMs: 10_000 })
  return { status: (e.status as UpnpPeerStatus | null) ?? null, addrs: (e.addrs as string[]) ?? [] }
}

/** Polls until `peer`'s mapping is verified (or its state says there will be none); bounded by `timeoutMs`. */
export async function waitForUpnp(peer: LabHost, timeoutMs: number): Promise<UpnpPeerStatus | null> {
  const deadline = Date.now() + timeoutMs
  let last: UpnpPeerStatus | null = null
  while (Date.now() < deadline) {
    last = (await upnpStatusOf(peer)).status
    if (last === null || (last.state === 'mapped' && last.verified === true) || last.state === 'unusable' || last.state === 'failed') return last
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
  return last
}

/** A peer's UPnP status once its search has ended (bounded: the status as it is after `timeoutMs`). */
async function settledUpnp(peer: LabHost, timeoutMs = 15_000): Promise<UpnpPeerStatus | null> {
  const deadline = Date.now() + timeoutMs
  let last = (await upnpStatusOf(peer)).status
  while (last?.state === 'searching' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS))
    last = (await upnpStatusOf(peer)).status
  }
  return last
}

type Sent = HostEvent & { connection: string; id: string }

async function send(lab: NatLab, a: LabHost, b: LabHost, addrs: string[], count: number): Promise<Sent[]> {
  let lines: HostEvent[] = []
  // A first contact whose every dial failed (fresh-clone runs at load ~7-10: "All multiaddr dials failed", no
  // connection at all, not even to the relay) is tried again, 2 s then 4 s later, as a node's outbox resends with
  // back-off; one of the tries must work, and the last failure says what each dial saw and whether A's network got out.
  for (let attempt = 0; attempt < FIRST_CONTACT_TRIES; attempt++) {
    if (attempt > 0) {
      console.info(`[natlab] A's send to B failed (${JSON.stringify(lines.find((e) => e.event === 'send-failed'))}): sent again`)
      await new Promise((r) => setTimeout(r, 2000 * 2 ** (attempt - 1)))
    }
    const from = a.events.length
    a.command({ cmd: 'send', peerId: b.peerId, addrs, count })
    await a.waitFor((e) => e.event === 'send-done', { from, timeoutMs: 30_000 + count * 1000 })
    lines = a.events.slice(from)
    const unreachable = lines.some((e) => e.event === 'send-failed' && e.i === 0 && e.code === 'unreachable') && !lines.some((e) => e.event === 'sent')
    if (!unreachable) break
  }
  const failed = lines.filter((e) => e.event === 'send-failed')
  if (failed.length > 0) {
    const conns = a.events.filter((e) => e.event === 'connection' || e.event === 'upgrade').map((e) => `${e.event} ${e.type ?? e.result} ${e.kind ?? ''} ${e.path ?? e.reason ?? ''}`)
    // whether A's network still gets out right now tells a lab fault from a node's
    const path = await reaches(lab, 'a', lab.addresses.relay)
    throw new Error(
      `A could not send: ${JSON.stringify(failed[0])}; A's connection and upgrade events: ${conns.join(' | ') || 'none'}; A's namespace reaches the relay: ${path.outcome}`,
    )
  }
  return lines.filter((e): e is Sent => e.event === 'sent')
}

const directTcp = (peer: LabHost, other: string) =>
  peer.events.find((e) => e.event === 'connection' && e.type === 'open' && e.peerId === other && e.kind !== 'relayed' && e.path === 'tcp')

/**
 * One trial. `upnp` names the sides whose router runs an IGD (their mapping is waited for);
 * `probes` messages go before and after the wait for a direct connection (`directTimeoutMs`).
 */
export async function runUpnpTrial(
  lab: NatLab,
  relayAddr: string,
  opts: { probes?: number; directTimeoutMs?: number; mapTimeoutMs?: number; peerArgs?: string[] } = {},
): Promise<UpnpTrial> {
  const probes = opts.probes ?? 5
  const sides = (['a', 'b'] as const).filter((s) => lab.nats.upnp[s === 'a' ? 'nat1' : 'nat2'])
  const { a, b } = await startPair(lab, relayAddr, opts.peerArgs)
  const t0 = Date.now()
  try {
    const verifiedMs: UpnpTrial['verifiedMs'] = {}
    await Promise.all(
      sides.map(async (s) => {
        const st = await waitForUpnp(s === 'a' ? a : b, opts.mapTimeoutMs ?? 30_000)
        if (st?.state === 'mapped' && st.verified === true) verifiedMs[s] = Date.now() - t0
      }),
    )
    // what B announces now (its verified public address, if any, and its relayed one); not its
    // `/p2p-circuit/webrtc` one: the transport upgrades a relayed connection with WebRTC by itself, and
    // a first dial given both circuit forms fails between two symmetric NATs ("Remote closed
    // connection during opening"), where the plain circuit address alone works
    const bAddrs = (await upnpStatusOf(b)).addrs.filter((x) => !x.includes('/webrtc'))
    const targets = [...new Set([...bAddrs, `${relayAddr}/p2p-circuit/p2p/${b.peerId}`])]
    const before = await send(lab, a, b, targets, probes)
    const deadline = Date.now() + (opts.directTimeoutMs ?? 30_000)
    while (Date.now() < deadline && !directTcp(a, b.peerId) && !directTcp(b, a.peerId)) await new Promise((r) => setTimeout(r, POLL_MS))
    const first = [directTcp(a, b.peerId), directTcp(b, a.peerId)].filter((e) => e !== undefined).map((e) => Number(e.t))
    const after = await send(lab, a, b, targets, probes)
    const stored = await storedBy(b, a.peerId, [...before, ...after].map((s) => s.id))
    const directConnections = (
      [
        ['a', a, b.peerId],
        ['b', b, a.peerId],
      ] as const
    ).flatMap(([side, peer, other]) =>
      peer.events
        .filter((e) => e.event === 'connection' && e.type === 'open' && e.peerId === other && e.kind !== 'relayed' && e.direction === 'outbound')
        .map((e) => ({ side, remoteAddr: String(e.remoteAddr), path: String(e.path) })),
    )
    return {
      kind: after.every((s) => s.connection === 'direct') ? 'direct' : 'relayed',
      verifiedMs,
      directMs: first.length > 0 ? Math.max(0, Math.min(...first) - t0) : undefined,
      directConnections,
      upnp: { a: await settledUpnp(a), b: await settledUpnp(b) },
      delivered: stored.length,
    }
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}
