import { deadline, settleBy } from '@baran/actor/deadline'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  HEDGE_MAX_MS,
  HEDGE_MIN_MS,
  MAX_RPC_INFLIGHT,
  RPC_TIMEOUT_MS,
  UDP_FALLBACK_MAX_MS,
  UDP_FALLBACK_MS,
  UDP_LOSSES_TO_STOP,
  UDP_PROBE_MS,
  UDP_RETRY_MAX_MS,
  UDP_RETRY_MS,
} from './constants.ts'
import { discoveryErrorFromWire, MalformedFrameError, RpcFailedError } from './errors.ts'
import { ERROR, FrameReader, frame, HEADER, PING, PONG, REPLY, REQUEST, readChunks, readU32, writeU32 } from './rpc-frame.ts'
import { RPC_UDP_OFFER, type RpcHandler, RpcServer } from './rpc-serve.ts'
import { TO_CLIENT, type UdpEndpoint, type UdpSession } from './rpc-udp.ts'
import type { Logger } from './store.ts'

export { FrameReader } from './rpc-frame.ts'

/**
 * Multiplexed request/reply over one long-lived stream per peer (`/baran/rpc/1.0.0`): the fast
 * path of get, put and watch. kad-dht opens a new stream (and negotiates its protocol) for every
 * message, which costs more than the message itself on a warm connection; here the stream is
 * opened once and requests carry an ID, so a request costs one frame each way. Each side sends its
 * requests on its own outbound stream and answers the peer's requests on the inbound one.
 * Frames: rpc-frame.ts.
 *
 * With a UDP endpoint (rpc-udp.ts) on both sides, a link also asks its peer for a datagram
 * session over the stream; once a ping through it is answered, requests that fit a datagram go
 * that way, as OpenDHT's do, and their replies come back the same way (a reply too large for a
 * datagram comes on the stream). A request whose datagram gets no answer in time is sent again on
 * the stream (the methods are idempotent); a link that loses several in a row stops using UDP, and offers a new
 * session later (UDP_RETRY_MS, doubling while the new one's ping goes unanswered).
 */

export { RPC_UDP_OFFER, type RpcHandler } from './rpc-serve.ts'

/** What the RPC layer needs from its libp2p node. */
export interface RpcComponents {
  /** Open a new `/baran/rpc/1.0.0` stream to a peer. */
  openStream(peer: PeerId, signal: AbortSignal): Promise<Stream>
  /** The IP address a stream to `peer` reached it at, when datagrams can go there too (a direct TCP connection). */
  udpHost?(peer: PeerId, stream: Stream): string | undefined
  log?: Logger
  /** Where requests sent are counted by method (its owner may keep one across the node's restarts). */
  sentByMethod?: Map<number, number>
  /** First wait before a link whose datagrams went unanswered offers a new session. @default UDP_RETRY_MS */
  udpRetryMs?: number
}

interface Pending {
  resolve(payload: Uint8Array): void
  reject(err: Error): void
}

/** Our outbound stream to one peer and the requests waiting on it. */
interface Link {
  stream: Stream
  pending: Map<number, Pending>
  nextId: number
  /** The opening this link came from (in #links until the link ends). */
  opened?: Promise<Link>
  /** The datagram session requests go by, once its ping was answered. */
  udp?: UdpSession
  /** Requests in a row whose datagram went unanswered. */
  udpLost: number
  /** Where datagrams to the peer go (the stream's connection's IP), when they may. */
  udpHost?: string
  /** Sessions offered again that failed in a row, and the timer of the next offer. */
  udpRetries: number
  udpRetry?: ReturnType<typeof setTimeout>
  /** Called when the session's ping is answered. */
  onPong?: () => void
}

/** A link whose stream was closed or reset (its reader has not ended yet) cannot carry a request. */
const writable = (link: Link) => link.stream.writeStatus !== 'closed' && link.stream.writeStatus !== 'closing'

const decoder = new TextDecoder()
const NOTHING = new Uint8Array(0)

/** The RPC endpoint of one node: client links to peers and the handler of inbound streams. */
export class Rpc {
  readonly #c: RpcComponents
  readonly #links = new Map<string, Promise<Link>>()
  /** The links of #links that are open (no await needed to use them). */
  readonly #ready = new Map<string, Link>()
  #stopped = false
  /** Requests this side sent (each one frame out, one reply back), by method: for benches and stats. */
  readonly #sentByMethod: Map<number, number>
  /** Smoothed round trip of answered requests (ms), as TCP keeps it; undefined before the first. */
  #srtt?: number
  #udp?: UdpEndpoint

  readonly #server: RpcServer

  constructor(c: RpcComponents) {
    this.#c = c
    this.#sentByMethod = c.sentByMethod ?? new Map()
    this.#server = new RpcServer(() => this.#udp, c.log)
  }

  /** Serve `method` (0–254; 255 is the rpc's own). */
  handle(method: number, handler: RpcHandler): void {
    this.#server.handle(method, handler)
  }

  /** Use (and serve) datagram sessions through `endpoint` from now on; stop() closes it. */
  useUdp(endpoint: UdpEndpoint): void {
    if (this.#stopped) endpoint.stop()
    else this.#udp = endpoint
  }

  /** The datagram endpoint's counters (undefined without one). */
  get udp(): UdpEndpoint['stats'] | undefined {
    return this.#udp?.stats
  }

  /**
   * How long a caller may wait for an answer before asking another peer too: a few smoothed
   * round trips, bounded (before any answer, HEDGE_MAX_MS).
   */
  get hedgeMs(): number {
    if (this.#srtt === undefined) return HEDGE_MAX_MS
    return Math.min(HEDGE_MAX_MS, Math.max(HEDGE_MIN_MS, 4 * this.#srtt))
  }

  /** Peers with an open link (for warming and tests). */
  get links(): number {
    return this.#links.size
  }

  /** Links whose requests go by datagram (stats and tests). */
  get udpLinks(): number {
    let n = 0
    for (const link of this.#ready.values()) if (link.udp !== undefined) n++
    return n
  }

  /**
   * Send a request and wait for its reply. Throws RpcFailedError when the peer cannot be reached,
   * the link breaks, the deadline passes or the peer answers with an error (its code is kept in
   * `remoteCode`); a refusal that has a class of its own (StoreFullError, PeerQuotaError…) is thrown as that.
   */
  async request(peer: PeerId | string, method: number, payload: Uint8Array, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    if (this.#stopped) throw new RpcFailedError('rpc stopped')
    if (opts.signal?.aborted === true) throw new RpcFailedError(`rpc to ${peer} aborted`, { cause: opts.signal.reason })
    const timeoutMs = opts.timeoutMs ?? RPC_TIMEOUT_MS
    // (A datagram session's offer is the rpc's own business, not a DHT request.)
    if (method !== RPC_UDP_OFFER) this.#sentByMethod.set(method, (this.#sentByMethod.get(method) ?? 0) + 1)
    const sent = performance.now()
    // A warm link is used at once; only opening one needs an abort signal. (Plain timers, not
    // AbortSignal.timeout: those are tracked for GC and cost more than the request on this path.)
    // (A peer named by string is parsed only to open a link: parsing costs more than a request.)
    const key = peer.toString()
    let ready = this.#ready.get(key)
    if (ready !== undefined && !writable(ready)) {
      // Its stream ended (the connection closed under it) before the reader noticed: open a new one.
      this.#ready.delete(key)
      if (this.#links.get(key) === ready.opened) this.#links.delete(key)
      ready = undefined
    }
    const link = ready ?? (await this.#link(typeof peer === 'string' ? peerIdFromString(peer) : peer, timeoutMs, opts.signal))
    if (link.pending.size >= MAX_RPC_INFLIGHT) throw new RpcFailedError(`too many requests in flight to ${peer}`)
    const id = link.nextId
    link.nextId = (link.nextId + 1) >>> 0
    const signal = opts.signal
    return new Promise<Uint8Array>((resolve, reject) => {
      const fail = (e: Error): void => {
        done()
        reject(e)
      }
      const onAbort = (): void => fail(new RpcFailedError(`rpc to ${peer} aborted`, { cause: signal?.reason }))
      const timer = setTimeout(() => fail(new RpcFailedError(`rpc to ${peer} timed out after ${timeoutMs} ms`)), Math.max(0, timeoutMs - (performance.now() - sent)))
      let fallback: ReturnType<typeof setTimeout> | undefined
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => {
        link.pending.delete(id)
        clearTimeout(timer)
        clearTimeout(fallback)
        signal?.removeEventListener('abort', onAbort)
      }
      link.pending.set(id, {
        resolve: (p) => {
          done()
          const rtt = performance.now() - sent
          this.#srtt = this.#srtt === undefined ? rtt : 0.875 * this.#srtt + 0.125 * rtt
          resolve(p)
        },
        reject: fail,
      })
      const onStream = (bytes: Uint8Array): void => {
        try {
          link.stream.send(bytes)
        } catch (cause) {
          fail(new RpcFailedError(`rpc to ${peer} could not be sent`, { cause }))
        }
      }
      let bytes: Uint8Array
      try {
        bytes = frame(REQUEST, id, payload, method)
      } catch (cause) {
        fail(new RpcFailedError(`rpc to ${peer} could not be sent`, { cause }))
        return
      }
      const session = link.udp
      if (session !== undefined && this.#udp?.send(session, bytes.subarray(4)) === true) {
        // Unanswered in time: the datagram (or its answer) may be lost; the stream delivers.
        fallback = setTimeout(() => {
          if (++link.udpLost >= UDP_LOSSES_TO_STOP) {
            this.#dropUdp(link)
            this.#retryUdp(key, link)
          }
          onStream(bytes)
        }, Math.max(UDP_FALLBACK_MS, Math.min(4 * (this.#srtt ?? 0), UDP_FALLBACK_MAX_MS)))
      } else onStream(bytes)
    })
  }

  /** Open a link to a peer ahead of use (a failure is only logged). */
  warm(peer: PeerId): void {
    if (this.#stopped || this.#links.has(peer.toString())) return
    this.#link(peer, RPC_TIMEOUT_MS).catch((err) => this.#c.log?.debug({ err, peer: peer.toString() }, 'rpc warm-up failed'))
  }

  /** The link to a peer, opening it once; concurrent callers share the opening. */
  #link(peer: PeerId, timeoutMs: number, callerSignal?: AbortSignal): Promise<Link> {
    const key = peer.toString()
    let link = this.#links.get(key)
    if (link === undefined) {
      const { signal, release } = deadline(timeoutMs, callerSignal)
      // Bounded here too, not only by the signal: an open that never settles (a dial that missed its abort) would
      // otherwise hold this peer's slot in #links for good, and every later request to the peer would wait on it.
      link = settleBy(this.#open(peer, signal), signal, () => new RpcFailedError(`cannot open an rpc stream to ${peer}: no stream within ${timeoutMs} ms`))
      link.then(release, release)
      this.#links.set(key, link)
      link.catch(() => {
        if (this.#links.get(key) === link) this.#links.delete(key)
      })
    }
    return link
  }

  async #open(peer: PeerId, signal: AbortSignal): Promise<Link> {
    let stream: Stream
    try {
      stream = await this.#c.openStream(peer, signal)
    } catch (cause) {
      throw new RpcFailedError(`cannot open an rpc stream to ${peer}`, { cause })
    }
    const key = peer.toString()
    const opened = this.#links.get(key)
    const link: Link = { stream, pending: new Map(), nextId: 1, udpLost: 0, udpRetries: 0, ...(opened ? { opened } : {}) }
    this.#ready.set(key, link)
    const reader = new FrameReader()
    void readChunks(
      stream,
      (chunk) => {
        for (const body of reader.push(chunk)) this.#onReply(peer, link, body)
      },
      (err) => this.#c.log?.debug({ err, peer: peer.toString() }, 'rpc link failed'),
    ).finally(() => {
      // The next request opens a new link (the connection may have been replaced).
      if (this.#links.get(key) === opened) this.#links.delete(key)
      if (this.#ready.get(key) === link) this.#ready.delete(key)
      this.#dropUdp(link)
      clearTimeout(link.udpRetry)
      for (const p of [...link.pending.values()]) p.reject(new RpcFailedError(`rpc link to ${peer} closed`))
    })
    link.udpHost = this.#udp === undefined ? undefined : this.#c.udpHost?.(peer, stream)
    void this.#offerUdp(key, link)
    return link
  }

  /** A reply (or error) to one of this link's requests, from its stream or its datagram session. */
  #onReply(peer: PeerId | string, link: Link, body: Uint8Array): void {
    const kind = body[0]
    const pending = link.pending.get(readU32(body, 1))
    if (kind === REPLY) pending?.resolve(new Uint8Array(body.subarray(HEADER)))
    else if (kind === ERROR) {
      const text = decoder.decode(body.subarray(HEADER))
      const nl = text.indexOf('\n')
      const code = nl === -1 ? 'error' : text.slice(0, nl)
      const message = text.slice(nl + 1)
      // A refusal with a class of its own (a full store, a quota) comes back as that error.
      pending?.reject(discoveryErrorFromWire(code, message) ?? new RpcFailedError(`${peer} answered ${code}: ${message}`, { remoteCode: code }))
    } else throw new MalformedFrameError(`unexpected rpc frame kind ${kind}`)
  }

  /**
   * Ask the peer for a datagram session over the link's stream and ping through it; requests use it
   * once the ping is answered. A peer without UDP refuses (unknown method): the link keeps to its stream.
   */
  async #offerUdp(peer: string, link: Link): Promise<void> {
    const udp = this.#udp
    const host = link.udpHost
    if (host === undefined) return
    const session = udp?.open(peer, TO_CLIENT, (body) => {
      if (link.udp === session) link.udpLost = 0
      if (body[0] === PONG) link.onPong?.()
      else this.#onReply(peer, link, body)
    })
    if (udp === undefined || session === undefined) return
    try {
      const id = new Uint8Array(4)
      writeU32(id, 0, session.id)
      const offer = await this.request(peer, RPC_UDP_OFFER, id, { timeoutMs: UDP_PROBE_MS })
      if (offer.length !== 2 + 4 + 32) throw new MalformedFrameError(`udp offer of ${offer.length} bytes`)
      session.port = ((offer[0] as number) << 8) | (offer[1] as number)
      session.remoteId = readU32(offer, 2)
      session.key = Buffer.from(offer.subarray(6))
      session.host = host
      const answered = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), UDP_PROBE_MS)
        link.onPong = () => {
          clearTimeout(timer)
          resolve(true)
        }
      })
      udp.send(session, frame(PING, 0, NOTHING).subarray(4))
      const open = await answered
      link.onPong = undefined
      if (!open) {
        // Datagrams that went nowhere may go through later (a refusal will not: a peer without a socket keeps so).
        link.udpRetries++
        this.#retryUdp(peer, link)
        throw new RpcFailedError(`no answer to a datagram from ${host}:${session.port}`)
      }
      if (this.#ready.get(peer) !== link) throw new RpcFailedError('rpc link closed')
      link.udp = session
      link.udpRetries = 0
    } catch (err) {
      udp.close(session)
      this.#c.log?.debug({ err, peer }, 'rpc link keeps to its stream')
    }
  }

  #dropUdp(link: Link): void {
    if (link.udp === undefined) return
    this.#udp?.close(link.udp)
    link.udp = undefined
  }

  /** Offer the link a new datagram session later (once at a time; the wait doubles with each failed offer). */
  #retryUdp(peer: string, link: Link): void {
    if (this.#stopped || link.udpRetry !== undefined) return
    const wait = Math.min((this.#c.udpRetryMs ?? UDP_RETRY_MS) * 2 ** link.udpRetries, UDP_RETRY_MAX_MS)
    link.udpRetry = setTimeout(() => {
      link.udpRetry = undefined
      if (!this.#stopped && this.#ready.get(peer) === link && link.udp === undefined) void this.#offerUdp(peer, link)
    }, wait)
    link.udpRetry.unref?.()
  }

  /**
   * Serve one inbound stream (RpcServer, rpc-serve.ts): answer each request on it. `remoteHost`: the IP address of the
   * stream's connection when it is a direct TCP one; only then may its peer have a datagram session.
   */
  serve(stream: Stream, remotePeer: string, remoteHost?: string): Promise<void> {
    return this.#server.serve(stream, remotePeer, remoteHost)
  }

  /** Close every link, inbound stream and datagram session; pending requests fail. */
  stop(): void {
    this.#stopped = true
    for (const link of this.#links.values()) link.then((l) => l.stream.abort(new RpcFailedError('rpc stopped'))).catch(() => {})
    this.#links.clear()
    this.#ready.clear()
    this.#server.stop()
    this.#udp?.stop()
  }
}
