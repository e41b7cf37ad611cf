/**
 * `/baran/dial-back/1.0.0`: a node asks a directly connected peer (its relay, usually) to open a new
 * TCP connection to one of its ports at the IP the request came from, and confirms its UPnP mapping
 * only once that dial-back arrived carrying the nonce it sent (upnp.ts).
 *
 * Why not AutoNAT v2 alone (@libp2p/autonat-v2 2.0.15): its dial-back connection is itself a new
 * connection to an AutoNAT server, so the asker's topology sends a second dial request on it; the
 * server then fails to close that connection gracefully ("Cannot write to a stream that is closing")
 * and reports E_DIAL_BACK_ERROR although the nonce came back. The client records the failed result
 * for the server's network segment (the first octet), asks each segment once per address and never
 * clears the record while the address stays unverified: a home node whose only AutoNAT server is its
 * relay (every peer of the lab is in segment 011) never gets its mapping verified. Seen in the lab
 * with DEBUG=libp2p:auto-nat-v2*: about one trial in two.
 *
 * Safe to serve from any node: it dials only the IP the request came from (no reflection to a third
 * party), only over a direct (not relayed) connection, with the requester's peer id in the address
 * (Noise proves it reached the requester), at most one request a second per peer, at most
 * MAX_CONCURRENT_DIAL_BACKS at once, each bounded in time; a malformed frame is answered with a
 * `refused` RESULT that says what was wrong.
 */
import { randomBytes } from 'node:crypto'
import { deadline } from '@baran/actor/deadline'
import type { Connection, PeerId, PeerStore, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { getNetConfig, lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeDialBackFrame, type DialBackFrame, type DialBackStatus, encodeDialBackFrame, MAX_DIAL_BACK_FRAME_BYTES, MalformedDialBackFrameError } from './dial-back-frames.ts'
import type { Logger } from './logger.ts'

export const DIAL_BACK_PROTOCOL = '/baran/dial-back/1.0.0'
/** One request a peer may make per this many ms (the asker backs off far longer between tries). */
export const DIAL_BACK_MIN_INTERVAL_MS = 1_000
export const MAX_CONCURRENT_DIAL_BACKS = 4
/** The dial and the nonce exchange on the new connection. */
export const DIAL_BACK_TIMEOUT_MS = 10_000
/** Peers remembered for the rate limit (the oldest is forgotten first). */
const MAX_RATE_ENTRIES = 1_024
/** Requests of ours awaiting their dial-back at once. */
const MAX_PENDING = 16
/** Peers asked per check (the first that reaches us is enough). */
const MAX_ASKED = 3

/** The peer asked dialled the port and could not connect. */
class DialFailedError extends Error {
  override name = 'DialFailedError'
}

export interface DialBackInit {
  /** Serve other peers' requests. @default true */
  serve?: boolean
  log?: Logger
}

export interface DialBackComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  peerStore: PeerStore
}

/**
 * The outcome of one check: whether a peer reached `host:port`, and why not if none did. `refuted`: a peer dialled
 * the port and could not connect (evidence that it is closed), rather than none being asked or answering.
 */
export type DialBackCheck = { reached: true; by: string } | { reached: false; reason: string; refuted: boolean }

/** The service (`services.dialBack`). */
export interface DialBack {
  /** Asks up to 3 directly connected peers that serve the protocol to dial `port` back; reached only if one came in at `host`. */
  check(host: string, port: number, options?: { signal?: AbortSignal }): Promise<DialBackCheck>
}

/** The libp2p service factory (`services.dialBack = baranDialBack(init)`). */
export function baranDialBack(init: DialBackInit = {}): (components: DialBackComponents) => DialBack & Startable {
  return (components) => new DialBackService(components, init)
}

interface Pending {
  peer: PeerId
  /** The IP the dial-back says it dialled, once it arrived. */
  host?: string
}

class DialBackService implements DialBack, Startable {
  private readonly components: DialBackComponents
  private readonly init: DialBackInit
  private readonly pending = new Map<string, Pending>()
  private readonly lastRequest = new Map<string, number>()
  private active = 0
  private abort = new AbortController()

  constructor(components: DialBackComponents, init: DialBackInit) {
    this.components = components
    this.init = init
  }

  readonly [Symbol.toStringTag] = '@baran/dial-back'

  async start(): Promise<void> {
    this.abort = new AbortController()
    // the asker's side (BACK frames) is always served; REQUESTs only when `serve` is on
    await this.components.registrar.handle(DIAL_BACK_PROTOCOL, (stream, connection) => this.onStream(stream, connection), {
      maxInboundStreams: 4,
      maxOutboundStreams: MAX_ASKED + MAX_CONCURRENT_DIAL_BACKS,
    })
  }

  async stop(): Promise<void> {
    this.abort.abort()
    await this.components.registrar.unhandle(DIAL_BACK_PROTOCOL)
    this.pending.clear()
    this.lastRequest.clear()
  }

  async check(host: string, port: number, options: { signal?: AbortSignal } = {}): Promise<DialBackCheck> {
    const candidates: Connection[] = []
    const seen = new Set<string>()
    for (const conn of this.components.connectionManager.getConnections()) {
      const peer = conn.remotePeer.toString()
      if (conn.limits !== undefined || conn.status !== 'open' || seen.has(peer)) continue
      const protocols = (await this.components.peerStore.get(conn.remotePeer).catch(() => undefined))?.protocols ?? []
      if (!protocols.includes(DIAL_BACK_PROTOCOL)) continue
      seen.add(peer)
      candidates.push(conn)
      if (candidates.length >= MAX_ASKED) break
    }
    if (candidates.length === 0) return { reached: false, reason: 'no directly connected peer serves dial-back', refuted: false }
    const reasons: string[] = []
    let refuted = false
    for (const conn of candidates) {
      try {
        const arrived = await this.ask(conn, port, options.signal)
        if (arrived === host) return { reached: true, by: conn.remotePeer.toString() }
        reasons.push(`${conn.remotePeer}: ${arrived === undefined ? 'no dial-back arrived' : `it dialled ${arrived}, not ${host}`}`)
      } catch (err) {
        if (err instanceof DialFailedError) refuted = true
        reasons.push(`${conn.remotePeer}: ${(err as Error).message}`)
      }
    }
    return { reached: false, reason: reasons.join('; '), refuted }
  }

  /** One request; the IP the dial-back came in for (undefined: it did not arrive). Throws when the peer refused or failed. */
  private async ask(conn: Connection, port: number, signal?: AbortSignal): Promise<string | undefined> {
    if (this.pending.size >= MAX_PENDING) throw new Error('too many dial-back requests of ours in flight')
    const nonce = randomBytes(16)
    const key = nonce.toString('hex')
    const pending: Pending = { peer: conn.remotePeer }
    this.pending.set(key, pending)
    const limit = deadline(DIAL_BACK_TIMEOUT_MS + 2_000, this.abort.signal, signal)
    const timeout = limit.signal
    try {
      const stream = await conn.newStream(DIAL_BACK_PROTOCOL, { signal: timeout })
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_DIAL_BACK_FRAME_BYTES })
        await lp.write(encodeDialBackFrame({ type: 'request', port, nonce }), { signal: timeout })
        const reply = decodeDialBackFrame((await lp.read({ signal: timeout })).subarray())
        await stream.close({ signal: timeout }).catch(() => stream.abort(new Error('closing')))
        if (reply.type !== 'result') throw new MalformedDialBackFrameError(`expected a result, got ${reply.type}`)
        if (reply.status === 'dial_failed') throw new DialFailedError(`${reply.status}: ${reply.reason}`)
        if (reply.status !== 'ok') throw new Error(`${reply.status}: ${reply.reason}`)
        return pending.host
      } catch (err) {
        stream.abort(err as Error)
        throw err
      }
    } finally {
      limit.release()
      this.pending.delete(key)
    }
  }

  private async onStream(stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_DIAL_BACK_FRAME_BYTES })
    const limit = deadline(DIAL_BACK_TIMEOUT_MS + 2_000, this.abort.signal)
    const signal = limit.signal
    const reply = async (status: DialBackStatus, reason: string) => {
      await lp.write(encodeDialBackFrame({ type: 'result', status, reason }), { signal })
      await stream.close({ signal })
    }
    try {
      let frame: DialBackFrame
      try {
        frame = decodeDialBackFrame((await lp.read({ signal })).subarray())
      } catch (err) {
        const reason = err instanceof MalformedDialBackFrameError ? `malformed frame: ${err.message}` : `unreadable frame: ${(err as Error).message}`
        this.init.log?.debug({ peer: connection.remotePeer.toString(), reason }, 'dial-back: bad frame')
        return await reply('refused', reason)
      }
      if (frame.type === 'back') return await this.onBack(frame, lp, stream, connection, signal)
      if (frame.type !== 'request') return await reply('refused', `expected a request or a back frame, got ${frame.type}`)
      if (this.init.serve === false) return await reply('refused', 'this node does not serve dial-backs')
      const { status, reason } = await this.serve(frame.port, frame.nonce, connection)
      await reply(status, reason)
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      limit.release()
    }
  }

  /** The asker's side: a dial-back of ours arrived on a new connection. */
  private async onBack(frame: Extract<DialBackFrame, { type: 'back' }>, lp: ReturnType<typeof lpStream>, stream: Stream, connection: Connection, signal: AbortSignal): Promise<void> {
    const pending = this.pending.get(Buffer.from(frame.nonce).toString('hex'))
    if (pending === undefined || !pending.peer.equals(connection.remotePeer)) {
      stream.abort(new Error('no dial-back of ours with this nonce from this peer'))
      return
    }
    pending.host = frame.host
    await lp.write(encodeDialBackFrame({ type: 'ack', nonce: frame.nonce }), { signal })
    await stream.close({ signal })
  }

  /** The server's side: checks the request, dials back, exchanges the nonce. */
  private async serve(port: number, nonce: Uint8Array, connection: Connection): Promise<{ status: DialBackStatus; reason: string }> {
    if (connection.limits !== undefined) return { status: 'refused', reason: 'only over a direct connection (this one is relayed)' }
    const net = getNetConfig(connection.remoteAddr)
    if ((net.type !== 'ip4' && net.type !== 'ip6') || net.host === undefined) return { status: 'refused', reason: `no IP address in ${connection.remoteAddr}` }
    const peer = connection.remotePeer.toString()
    const now = Date.now()
    const last = this.lastRequest.get(peer)
    if (last !== undefined && now - last < DIAL_BACK_MIN_INTERVAL_MS) return { status: 'refused', reason: `rate limited: one request per ${DIAL_BACK_MIN_INTERVAL_MS} ms` }
    this.lastRequest.delete(peer)
    this.lastRequest.set(peer, now)
    if (this.lastRequest.size > MAX_RATE_ENTRIES) this.lastRequest.delete(this.lastRequest.keys().next().value!)
    if (this.active >= MAX_CONCURRENT_DIAL_BACKS) return { status: 'refused', reason: 'busy: too many dial-backs at once' }
    this.active++
    const target = multiaddr(`/${net.type}/${net.host}/tcp/${port}/p2p/${peer}`)
    const limit = deadline(DIAL_BACK_TIMEOUT_MS, this.abort.signal)
    const signal = limit.signal
    let back: Connection | undefined
    try {
      back = await this.components.connectionManager.openConnection(target, { force: true, signal })
      const stream = await back.newStream(DIAL_BACK_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_DIAL_BACK_FRAME_BYTES })
      await lp.write(encodeDialBackFrame({ type: 'back', nonce, host: net.host }), { signal })
      const ack = decodeDialBackFrame((await lp.read({ signal })).subarray())
      if (ack.type !== 'ack' || Buffer.compare(ack.nonce, nonce) !== 0) throw new MalformedDialBackFrameError('the dial-back was not acknowledged with the nonce')
      await stream.close({ signal }).catch(() => undefined)
      return { status: 'ok', reason: '' }
    } catch (err) {
      return { status: 'dial_failed', reason: `${target}: ${(err as Error).message}` }
    } finally {
      limit.release()
      this.active--
      // the result is known: a failure to close gracefully changes nothing (AutoNAT v2 counts it as one)
      if (back !== undefined) await back.close({ signal: AbortSignal.timeout(2_000) }).catch((err: Error) => back?.abort(err))
    }
  }
}
