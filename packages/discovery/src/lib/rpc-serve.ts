import type { Stream } from '@libp2p/interface'
import { MAX_RPC_INFLIGHT } from './constants.ts'
import { MalformedFrameError, RpcFailedError } from './errors.ts'
import { errorFrame, FrameReader, frame, HEADER, PING, PONG, REPLY, REQUEST, readChunks, readU32, writeU32 } from './rpc-frame.ts'
import { TO_SERVER, type UdpEndpoint, type UdpSession } from './rpc-udp.ts'
import type { Logger } from './store.ts'

/** Method 255, served by the rpc itself: a datagram session for this stream's peer (rpc-udp.ts). */
export const RPC_UDP_OFFER = 255

/** Answers one method: the payload of the reply, or throws (its `code` and message go back). */
export type RpcHandler = (peer: string, payload: Uint8Array) => Uint8Array | Promise<Uint8Array>

const NOTHING = new Uint8Array(0)

/** The serving half of the rpc (rpc.ts): its methods' handlers, inbound streams, and the datagram sessions peers ask for. */
export class RpcServer {
  readonly #handlers = new Map<number, RpcHandler>()
  readonly #inbound = new Set<Stream>()
  readonly #udp: () => UdpEndpoint | undefined
  readonly #log?: Logger
  #stopped = false

  /** `udp`: the rpc's datagram endpoint, if it has one by now. */
  constructor(udp: () => UdpEndpoint | undefined, log?: Logger) {
    this.#udp = udp
    this.#log = log
  }

  handle(method: number, handler: RpcHandler): void {
    this.#handlers.set(method, handler)
  }

  /**
   * Serve one inbound stream: answer each request on it (handlers may run concurrently, up to
   * MAX_RPC_INFLIGHT). A frame that cannot be parsed ends the stream, never the node. `remoteHost`: the IP address
   * of the stream's connection when it is a direct TCP one; only then may its peer have a datagram session.
   */
  async serve(stream: Stream, remotePeer: string, remoteHost?: string): Promise<void> {
    if (this.#stopped) {
      stream.abort(new RpcFailedError('rpc stopped'))
      return
    }
    this.#inbound.add(stream)
    const reader = new FrameReader()
    const load = { inflight: 0 }
    const reply = (bytes: Uint8Array): void => {
      try {
        stream.send(bytes)
      } catch (err) {
        this.#log?.debug({ err, peer: remotePeer }, 'rpc reply not sent')
      }
    }
    // This stream's datagram session, if its peer asked for one (one at a time: a new offer replaces it).
    let session: UdpSession | undefined
    let sessionUdp: UdpEndpoint | undefined
    await readChunks(
      stream,
      (chunk) => {
        for (const body of reader.push(chunk)) {
          if (body[0] !== REQUEST || body.length < HEADER + 1) throw new MalformedFrameError('expected an rpc request')
          const udp = body[HEADER] === RPC_UDP_OFFER ? this.#udp() : undefined
          if (udp !== undefined && remoteHost !== undefined) {
            if (session !== undefined) sessionUdp?.close(session)
            session = this.#acceptUdp(udp, remotePeer, remoteHost, body, reply)
            sessionUdp = udp
          } else this.#dispatch(remotePeer, body, load, reply)
        }
      },
      (err) => this.#log?.debug({ err, peer: remotePeer }, 'rpc stream ended'),
    )
    if (session !== undefined) sessionUdp?.close(session)
    this.#inbound.delete(stream)
  }

  /** Open a datagram session for the peer of an inbound stream and answer its offer (port, session, key) on that stream. */
  #acceptUdp(udp: UdpEndpoint, remotePeer: string, remoteHost: string, body: Uint8Array, reply: (bytes: Uint8Array) => void): UdpSession | undefined {
    const id = readU32(body, 1)
    if (body.length !== HEADER + 1 + 4) {
      reply(errorFrame(id, 'malformed_frame', 'a udp offer carries a u32 session ID'))
      return undefined
    }
    const load = { inflight: 0 }
    const session = udp.open(remotePeer, TO_SERVER, (datagram) => {
      if (datagram[0] === PING) udp.send(session as UdpSession, frame(PONG, readU32(datagram, 1), NOTHING).subarray(4))
      else if (datagram[0] === REQUEST && datagram.length >= HEADER + 1 && datagram[HEADER] !== RPC_UDP_OFFER) {
        // An answer too large for a datagram goes on the stream the session came from.
        this.#dispatch(remotePeer, datagram, load, (bytes) => {
          if (!udp.send(session as UdpSession, bytes.subarray(4))) reply(bytes)
        })
      }
    }, { from: remoteHost })
    if (session === undefined) {
      reply(errorFrame(id, 'busy', 'no udp session free'))
      return undefined
    }
    session.remoteId = readU32(body, HEADER + 1)
    const out = new Uint8Array(2 + 4 + 32)
    out[0] = udp.port >>> 8
    out[1] = udp.port & 0xff
    writeU32(out, 2, session.id)
    out.set(session.key, 6)
    reply(frame(REPLY, id, out))
    return session
  }

  /** Run one request body's handler (at most MAX_RPC_INFLIGHT at once per stream or session) and send its answer. */
  #dispatch(remotePeer: string, body: Uint8Array, load: { inflight: number }, send: (bytes: Uint8Array) => void): void {
    const id = readU32(body, 1)
    const method = body[HEADER] as number
    const handler = this.#handlers.get(method)
    if (handler === undefined || load.inflight >= MAX_RPC_INFLIGHT) {
      send(handler === undefined ? errorFrame(id, 'unknown_method', `no rpc method ${method}`) : errorFrame(id, 'busy', 'too many requests in flight'))
      return
    }
    load.inflight++
    const answer = (out: Uint8Array): void => {
      load.inflight--
      let bytes: Uint8Array
      try {
        bytes = frame(REPLY, id, out)
      } catch (err) {
        bytes = errorFrame(id, 'error', String((err as Error).message))
      }
      send(bytes)
    }
    const refuse = (err: unknown): void => {
      load.inflight--
      const e = err as Error & { code?: unknown }
      send(errorFrame(id, typeof e.code === 'string' ? e.code : 'error', String(e.message)))
    }
    const payload = new Uint8Array(body.subarray(HEADER + 1)) // a copy: the chunk may be a view of a pooled buffer
    try {
      const out = handler(remotePeer, payload)
      // A synchronous answer goes out at once (a stored record's pushes already left: the
      // store calls its push listener as it stores).
      if (out instanceof Uint8Array) answer(out)
      else out.then(answer, refuse)
    } catch (err) {
      refuse(err)
    }
  }

  /** End every inbound stream; serve() refuses new ones. */
  stop(): void {
    this.#stopped = true
    for (const s of this.#inbound) s.abort(new RpcFailedError('rpc stopped'))
    this.#inbound.clear()
  }
}
