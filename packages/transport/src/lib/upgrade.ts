/**
 * Relayed → direct: once a relayed connection we dialled is identified and the peer speaks WebRTC
 * signalling, dial its `<relay>/p2p-circuit/webrtc/p2p/<peer>` address. @libp2p/webrtc sends the SDP
 * offer/answer and ICE candidates over the relayed connection, ICE punches UDP through both NATs
 * (server-reflexive candidates from the STUN servers we give it), and the result is a second,
 * direct connection to the same peer. The relayed connection stays (the fallback); the message
 * protocol moves new envelopes to the direct one (protocol.ts prefers direct sessions).
 */
import type { Connection, IdentifyResult, Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from './errors.ts'
import type { Logger } from './logger.ts'

/** STUN's registered port (RFC 8489); a relay serves STUN there unless told otherwise. */
export const DEFAULT_STUN_PORT = 3478

/**
 * Our bound on one WebRTC upgrade attempt (SDP over the relay, ICE checks, data channel); libp2p's own
 * per-address dial timeout (6 s in libp2p 3.3) ends a failing attempt first.
 */
export const UPGRADE_TIMEOUT_MS = 15_000

/** Upgrade attempts per relayed connection before it stays relayed. */
export const UPGRADE_ATTEMPTS = 2

/** A WebRTC dial that libp2p merged into another dial to the peer is tried again, at most this many times per upgrade. */
const MAX_JOINED_DIALS = 3
/** How often the upgrade looks whether other dials to the peer have ended. */
const DIAL_QUEUE_POLL_MS = 100

/** @libp2p/webrtc's signalling protocol (private-to-private). */
export const WEBRTC_SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1'

/** What a connection runs over: TCP, WebSockets, WebRTC (ICE/UDP, direct) or a circuit relay. */
export type ConnectionPath = 'tcp' | 'ws' | 'webrtc' | 'circuit'

/** The path of a connection from its remote address. A WebRTC one names its relay (signalling) but is direct. */
export function pathOf(remoteAddr: string): ConnectionPath {
  if (/\/webrtc(\/|$)/.test(remoteAddr)) return 'webrtc'
  if (remoteAddr.includes('/p2p-circuit')) return 'circuit'
  if (/\/wss?(\/|$)/.test(remoteAddr)) return 'ws'
  return 'tcp'
}

/**
 * The WebRTC address of the peer behind a relayed connection: `<relay>/p2p-circuit/webrtc/p2p/<peer>`,
 * or undefined when the address is not a circuit one.
 */
export function webrtcAddrOf(relayedAddr: string, peerId: string): string | undefined {
  const at = relayedAddr.lastIndexOf('/p2p-circuit')
  if (at < 0) return undefined
  return `${relayedAddr.slice(0, at)}/p2p-circuit/webrtc/p2p/${peerId}`
}

/**
 * STUN URLs of the relays a node is configured with (`stun:<host>:<port>`): each relay (a helper
 * node) serves STUN on UDP beside its circuit relay. Relays named by DNS give `stun:<name>:<port>`.
 */
export function stunServersOf(relays: readonly string[], port = DEFAULT_STUN_PORT): string[] {
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) throw new InvalidArgumentError('stunPort must be a port number (1..65535)')
  const out = new Set<string>()
  for (const r of relays) {
    const first = multiaddr(r).getComponents()[0]
    if (first === undefined || first.value === undefined) continue
    if (first.name === 'ip4' || first.name === 'dns4' || first.name === 'dns' || first.name === 'dns6') out.add(`stun:${first.value}:${port}`)
    else if (first.name === 'ip6') out.add(`stun:[${first.value}]:${port}`)
  }
  return [...out]
}

/** Checks ICE server URLs: stun:/turn:/turns: only (no public default is ever added). */
export function parseIceServers(urls: unknown): string[] {
  if (!Array.isArray(urls)) throw new InvalidArgumentError('iceServers must be an array of stun:/turn: URLs')
  return urls.map((u) => {
    if (typeof u !== 'string' || !/^(stun|turns?):[^\s]+$/.test(u)) throw new InvalidArgumentError(`iceServers: not a stun:/turn: URL: ${String(u)}`)
    return u
  })
}

/** One upgrade attempt's outcome, for logs, `transport.info` and benchmarks. */
export interface UpgradeEvent {
  peerId: string
  result: 'direct' | 'failed'
  /** ms from the dial of the WebRTC address to the direct connection (or the failure). */
  ms: number
  attempt: number
  /** Why it failed. */
  reason?: string
}

interface UpgraderInit {
  log?: Logger
  onEvent: (evt: UpgradeEvent) => void
  timeoutMs?: number
  attempts?: number
}

/**
 * Upgrades relayed connections in the background. Only the side that dialled the relayed
 * connection starts the upgrade (both doing it would make two WebRTC connections).
 */
export class DirectUpgrader {
  private readonly node: Libp2p
  private readonly init: UpgraderInit
  /** Peers with an upgrade running, so identify pushes do not start a second one. */
  private readonly running = new Set<string>()
  private stopped = false
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>) => this.maybeUpgrade(evt.detail.connection, evt.detail.protocols)

  constructor(node: Libp2p, init: UpgraderInit) {
    this.node = node
    this.init = init
    node.addEventListener('peer:identify', this.onIdentify)
  }

  stop(): void {
    this.stopped = true
    this.node.removeEventListener('peer:identify', this.onIdentify)
  }

  private hasDirect(peer: Connection['remotePeer']): boolean {
    return this.node.getConnections(peer).some((c) => c.direct && c.status === 'open')
  }

  private maybeUpgrade(conn: Connection, protocols: string[]): void {
    if (this.stopped || conn.direct || conn.direction !== 'outbound' || conn.status !== 'open') return
    if (!protocols.includes(WEBRTC_SIGNALING_PROTOCOL)) return
    const peerId = conn.remotePeer.toString()
    if (this.running.has(peerId) || this.hasDirect(conn.remotePeer)) return
    const addr = webrtcAddrOf(conn.remoteAddr.toString(), peerId)
    if (addr === undefined) return
    this.running.add(peerId)
    void this.upgrade(conn, addr).finally(() => this.running.delete(peerId))
  }

  private async upgrade(relayed: Connection, addr: string): Promise<void> {
    const peerId = relayed.remotePeer.toString()
    const attempts = this.init.attempts ?? UPGRADE_ATTEMPTS
    let joined = 0
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      if (this.hasDirect(relayed.remotePeer)) return
      const t0 = performance.now()
      const signal = AbortSignal.timeout(this.init.timeoutMs ?? UPGRADE_TIMEOUT_MS)
      try {
        await this.noDialPending(relayed.remotePeer, signal)
        const conn = await this.node.dial(multiaddr(addr), { signal })
        if (!conn.direct) {
          // libp2p joined a dial to this peer that started meanwhile and handed back its relayed connection: no ICE
          // ran, so that is not an attempt (bounded, in case something keeps dialling the peer).
          if (++joined <= MAX_JOINED_DIALS) {
            this.init.log?.debug({ peer: peerId, attempt }, 'the WebRTC dial joined another dial to the peer: trying again')
            attempt--
            continue
          }
          throw new Error(`dial of ${addr} gave a relayed connection`)
        }
        this.emit({ peerId, result: 'direct', ms: performance.now() - t0, attempt })
        return
      } catch (err) {
        const reason = (err as Error).message
        this.init.log?.debug({ peer: peerId, attempt, reason }, 'WebRTC upgrade failed')
        this.emit({ peerId, result: 'failed', ms: performance.now() - t0, attempt, reason })
        // nothing to upgrade any more, or it is shutting down
        if (this.stopped || relayed.status !== 'open') return
      }
    }
  }

  /**
   * Waits until libp2p has no dial to the peer queued (bounded by `signal`): a dial of the WebRTC address made while
   * one runs (e.g. a send dialling the peer's other addresses) joins it and gets its connection instead of ICE's.
   */
  private async noDialPending(peer: Connection['remotePeer'], signal: AbortSignal): Promise<void> {
    while (this.node.getDialQueue().some((d) => d.peerId?.equals(peer) === true)) {
      signal.throwIfAborted()
      await new Promise((r) => setTimeout(r, DIAL_QUEUE_POLL_MS))
    }
  }

  private emit(evt: UpgradeEvent): void {
    try {
      this.init.onEvent({ ...evt, ms: Math.round(evt.ms) })
    } catch (err) {
      this.init.log?.error({ err }, 'upgrade listener threw')
    }
  }
}
