/**
 * One trial of the relayed → direct upgrade between two lab peers: A (home 1) sends to B (home 2)
 * through the relay, the transports upgrade the relayed connection with WebRTC (ICE over UDP, STUN
 * on the relay) when the two NATs allow it, and A sends again. Used by the NAT-matrix test and bench.
 */
import { ADDRESSES } from './constants.ts'
import type { RttComparison } from './echo.ts'
import type { HostEvent, LabHost } from './hosts.ts'
import { announcedIn, LAB_PEER_SCRIPT, startLabHost } from './hosts.ts'
import type { NatLab } from './lab.ts'
import type { NatType } from './plan.ts'

/** What the pair must reach: direct unless both mappings are endpoint-dependent (or see expectedKind). */
export type PairKind = 'direct' | 'relayed'

/**
 * The connection a NAT pair can reach with ICE (STUN candidates, no TURN), RFC 4787 reasoning: a
 * symmetric NAT's public port towards the peer is not the one STUN saw, so the peer can only answer
 * it if its own router lets in packets from any port (full cone). Everything else punches.
 */
export function expectedKind(nat1: NatType, nat2: NatType): PairKind {
  if (nat1 === 'symmetric' && nat2 === 'symmetric') return 'relayed'
  if (nat1 === 'symmetric' || nat2 === 'symmetric') return nat1 === 'full-cone' || nat2 === 'full-cone' ? 'direct' : 'relayed'
  return 'direct'
}

export interface PairTrial {
  /** What the first message after the upgrade window went over. */
  kind: PairKind
  /**
   * ms from A's first send (no connection to B yet; every address B announces, as its presence record lists them)
   * to that message's ACK: the dial, the handshake and one round trip. What a first message to a peer waits for.
   */
  firstContactMs: number | undefined
  /** What that first message went over. */
  firstContactOver: string | undefined
  /** ms from A's first relayed ACK to the direct connection (undefined when none came). */
  upgradeMs: number | undefined
  /** The upgrade attempts A reported. */
  upgrades: HostEvent[]
  /** RTTs of the probe messages, relayed (before the upgrade) and after it. */
  rttRelayed: number[]
  rttAfter: number[]
  /** Envelopes B stored (each id once) and resends it answered 'duplicate'. */
  delivered: number
  duplicates: number
  /** Baran's message RTT vs a raw libp2p echo over the same connection (when asked with `rttRounds`). */
  rtt?: RttComparison
}

type Sent = HostEvent & { rtt: number; wallMs: number; connection: string; t: number; id: string }

/**
 * A peer process loads the whole transport from source: on a loaded 2-core CI box (load 20+ seen)
 * that alone can take tens of seconds, so start-up gets a long bound; nothing after it does.
 */
const START_TIMEOUT_MS = 60_000

/** Starts B then A behind the lab's routers, both with a slot on the relay (and `peerArgs`, e.g. --no-webrtc); stop them with `.stop()`. */
export async function startPair(lab: NatLab, relayAddr: string, peerArgs: string[] = []): Promise<{ a: LabHost; b: LabHost }> {
  const opts = { readyTimeoutMs: START_TIMEOUT_MS }
  const b = await startLabHost(lab, 'b', LAB_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.b}/tcp/4001`, '--relay', relayAddr, ...peerArgs], opts)
  try {
    const a = await startLabHost(lab, 'a', LAB_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.a}/tcp/4001`, '--relay', relayAddr, ...peerArgs], opts)
    const circuit = `${relayAddr}/p2p-circuit/p2p/${b.peerId}`
    await b.waitFor((e) => announcedIn(e)?.includes(circuit) === true, { timeoutMs: START_TIMEOUT_MS }).catch(async (err) => {
      await a.stop()
      throw err
    })
    return { a, b }
  } catch (err) {
    await b.stop()
    throw err
  }
}

/** B's addresses as it last announced them: what its presence record would carry. */
export function announcedAddrs(b: LabHost): string[] {
  return b.events.map(announcedIn).findLast((addrs) => addrs !== undefined) ?? []
}

/**
 * A sends `count` envelopes (one at a time) and waits for them; returns the "sent" lines. A is given B's circuit
 * address, or `addrs`.
 */
export async function sendFrom(a: LabHost, b: LabHost, relayAddr: string, count: number, intervalMs = 0, addrs?: string[]): Promise<Sent[]> {
  const from = a.events.length
  a.command({ cmd: 'send', peerId: b.peerId, addrs: addrs ?? [`${relayAddr}/p2p-circuit/p2p/${b.peerId}`], count, intervalMs })
  await a.waitFor((e) => e.event === 'send-done', { from, timeoutMs: 30_000 + count * (intervalMs + 100) })
  const lines = a.events.slice(from)
  const failed = lines.filter((e) => e.event === 'send-failed')
  if (failed.length > 0) throw new Error(`A could not send: ${JSON.stringify(failed[0])}`)
  return lines.filter((e): e is Sent => e.event === 'sent')
}

/**
 * Waits until B has printed an "envelope" line for each of `ids` from A (its stdout can lag behind
 * A's ACK lines on a loaded machine), then returns the ids B stored, in order (resends excluded).
 */
export async function storedBy(b: LabHost, from: string, ids: readonly string[], timeoutMs = 15_000): Promise<string[]> {
  const want = new Set(ids)
  const seen = new Set<string>()
  await b
    .waitFor(
      (e) => {
        if (e.event === 'envelope' && e.from === from && want.has(String(e.id))) seen.add(String(e.id))
        return seen.size === want.size
      },
      { timeoutMs },
    )
    .catch(() => undefined) // the caller's assertion on the list shows what is missing
  return b.events.filter((e) => e.event === 'envelope' && e.from === from && e.duplicate !== true).map((e) => String(e.id))
}

/** The upgrade's outcome on A: a 'direct' upgrade line, or every attempt failed, within `timeoutMs`. */
export async function upgradeOutcome(a: LabHost, from: number, attempts: number, timeoutMs: number): Promise<HostEvent[]> {
  const failedAll = () => a.events.slice(from).filter((e) => e.event === 'upgrade' && e.result === 'failed').length >= attempts
  await a
    .waitFor((e) => e.event === 'upgrade' && (e.result === 'direct' || failedAll()), { from, timeoutMs })
    .catch(() => undefined) // no attempt at all (the peer had no WebRTC address): the caller sees no upgrade lines
  return a.events.slice(from).filter((e) => e.event === 'upgrade')
}

/** A compares Baran's message RTT with a raw echo stream to B over the connection its messages use (lib/echo.ts). */
export async function compareRttFrom(a: LabHost, b: LabHost, relayAddr: string, rounds: number, warmup = 5): Promise<RttComparison> {
  const from = a.events.length
  a.command({ cmd: 'rtt', peerId: b.peerId, addrs: [`${relayAddr}/p2p-circuit/p2p/${b.peerId}`], rounds, warmup })
  const e = await a.waitFor((x) => x.event === 'rtt' || x.event === 'rtt-failed', { from, timeoutMs: 30_000 + (rounds + warmup) * 2_000 })
  if (e.event === 'rtt-failed') throw new Error(`A could not compare RTTs: ${String(e.message)}`)
  const { event: _event, t: _t, ...r } = e
  return r as unknown as RttComparison
}

/**
 * One trial: fresh peers, `probes` relayed messages, the upgrade's outcome, `probes` more messages,
 * then (with `rttRounds`) Baran vs raw-stream RTTs over the connection those went over.
 * The pair's kind is what the messages after the upgrade window went over.
 */
export async function runPairTrial(
  lab: NatLab,
  relayAddr: string,
  opts: { probes?: number; attempts?: number; timeoutMs?: number; rttRounds?: number } = {},
): Promise<PairTrial> {
  const probes = opts.probes ?? 5
  const { a, b } = await startPair(lab, relayAddr)
  try {
    // The first messages go as a node's would after finding B's presence: to every address B announces, its
    // WebRTC one (through the relay) as well, once B has it.
    const webrtc = (e: HostEvent) => announcedIn(e)?.some((x) => x.includes('/p2p-circuit/webrtc/')) === true
    await b.waitFor(webrtc, { timeoutMs: START_TIMEOUT_MS }).catch(() => undefined)
    const from = a.events.length
    const before = await sendFrom(a, b, relayAddr, probes, 0, announcedAddrs(b))
    const upgrades = await upgradeOutcome(a, from, opts.attempts ?? 2, opts.timeoutMs ?? 45_000)
    const after = await sendFrom(a, b, relayAddr, probes)
    const direct = upgrades.find((u) => u.result === 'direct')
    const firstRelayed = before.find((s) => s.connection === 'relayed')
    const stored = await storedBy(b, a.peerId, [...before, ...after].map((s) => s.id))
    const rtt = opts.rttRounds ? await compareRttFrom(a, b, relayAddr, opts.rttRounds) : undefined
    const got = b.events.filter((e) => e.event === 'envelope' && e.from === a.peerId)
    return {
      kind: after.every((s) => s.connection === 'direct') ? 'direct' : 'relayed',
      firstContactMs: before[0]?.wallMs,
      firstContactOver: before[0]?.connection,
      upgradeMs: direct && firstRelayed ? Math.max(0, Number(direct.t) - firstRelayed.t) : undefined,
      upgrades,
      rttRelayed: before.filter((s) => s.connection === 'relayed').map((s) => s.rtt),
      rttAfter: after.map((s) => s.rtt),
      delivered: stored.length,
      duplicates: got.filter((e) => e.duplicate === true).length,
      rtt,
    }
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}
