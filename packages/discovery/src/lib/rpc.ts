import { concatBytes } from '@baran/trust'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { HEDGE_MAX_MS, HEDGE_MIN_MS, MAX_RPC_FRAME_BYTES, MAX_RPC_INFLIGHT, RPC_TIMEOUT_MS } from './constants.ts'
import { discoveryErrorFromWire, MalformedFrameError, RpcFailedError } from './errors.ts'
import type { Logger } from './store.ts'

/**
 * Multiplexed request/reply over one long-lived stream per peer (`/baran/rpc/1.0.0`): the fast
 * path of get, put and watch. kad-dht opens a new stream (and negotiates its protocol) for every
 * message, which costs more than the message itself on a warm connection; here the stream is
 * opened once and requests carry an ID, so a request costs one frame each way, like OpenDHT's
 * UDP messages. Each side sends its requests on its own outbound stream and answers the peer's
 * requests on the inbound one.
 *
 * A frame: u32 big-endian length, then the body: u8 kind (0 request, 1 reply, 2 error), u32 ID,
 * and for a request a u8 method then its payload; for a reply the payload; for an error UTF-8
 * `code\nmessage`.
 */

const REQUEST = 0
const REPLY = 1
const ERROR = 2
const HEADER = 5 // kind + id

/** Answers one method: the payload of the reply, or throws (its `code` and message go back). */
export type RpcHandler = (peer: string, payload: Uint8Array) => Uint8Array | Promise<Uint8Array>

/** What the RPC layer needs from its libp2p node. */
export interface RpcComponents {
  /** Open a new `/baran/rpc/1.0.0` stream to a peer. */
  openStream(peer: PeerId, signal: AbortSignal): Promise<Stream>
  log?: Logger
  /** Where requests sent are counted by method (its owner may keep one across the node's restarts). */
  sentByMethod?: Map<number, number>
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
}

/** A link whose stream was closed or reset (its reader has not ended yet) cannot carry a request. */
const writable = (link: Link) => link.stream.writeStatus !== 'closed' && link.stream.writeStatus !== 'closing'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** u32 big-endian at `at` (no DataView: this runs for every frame). */
function readU32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0
}

function writeU32(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24
  b[at + 1] = n >>> 16
  b[at + 2] = n >>> 8
  b[at + 3] = n
}

/** One frame with its length prefix; `method` for a request (one buffer, one copy of the payload). */
function frame(kind: number, id: number, payload: Uint8Array, method?: number): Uint8Array {
  const head = method === undefined ? HEADER : HEADER + 1
  const size = head + payload.length
  if (size > MAX_RPC_FRAME_BYTES) throw new MalformedFrameError(`rpc frame of ${size} bytes is over ${MAX_RPC_FRAME_BYTES}`)
  const out = new Uint8Array(4 + size)
  writeU32(out, 0, size)
  out[4] = kind
  writeU32(out, 5, id)
  if (method !== undefined) out[4 + HEADER] = method
  out.set(payload, 4 + head)
  return out
}

/**
 * Splits a byte stream into frame bodies. Throws MalformedFrameError for a frame over the limit
 * or too short to hold a header, before buffering it.
 */
export class FrameReader {
  #buf: Uint8Array = new Uint8Array(0)

  push(chunk: Uint8Array): Uint8Array[] {
    this.#buf = this.#buf.length === 0 ? chunk : concatBytes(this.#buf, chunk)
    const bodies: Uint8Array[] = []
    while (this.#buf.length >= 4) {
      const size = readU32(this.#buf, 0)
      if (size > MAX_RPC_FRAME_BYTES) throw new MalformedFrameError(`rpc frame of ${size} bytes is over ${MAX_RPC_FRAME_BYTES}`)
      if (size < HEADER) throw new MalformedFrameError(`rpc frame of ${size} bytes is too short`)
      if (this.#buf.length < 4 + size) break
      bodies.push(this.#buf.subarray(4, 4 + size))
      this.#buf = this.#buf.subarray(4 + size)
    }
    return bodies
  }
}

function bytesOf(chunk: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

/**
 * Hand each chunk a stream receives to `onChunk` until the stream ends (resolves then). Listens
 * to the stream's events: its async iterator puts a queue and several promise hops in front of
 * every message. A chunk `onChunk` throws on aborts the stream (and is reported to `onError`).
 */
function readChunks(stream: Stream, onChunk: (chunk: Uint8Array) => void, onError: (err: Error) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }): void => {
      try {
        onChunk(bytesOf(evt.data))
      } catch (err) {
        onError(err as Error)
        stream.abort(err instanceof Error ? err : new MalformedFrameError())
      }
    }
    const onEnd = (): void => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onEnd)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      resolve()
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onEnd)
    stream.addEventListener('remoteCloseWrite', onEnd)
    if (stream.status !== 'open') onEnd()
  })
}

/** The RPC endpoint of one node: client links to peers and the handler of inbound streams. */
export class Rpc {
  readonly #c: RpcComponents
  readonly #handlers = new Map<number, RpcHandler>()
  readonly #links = new Map<string, Promise<Link>>()
  /** The links of #links that are open (no await needed to use them). */
  readonly #ready = new Map<string, Link>()
  readonly #inbound = new Set<Stream>()
  #stopped = false
  /** Requests this side sent (each one frame out, one reply back), by method: for benches and stats. */
  readonly #sentByMethod: Map<number, number>
  /** Smoothed round trip of answered requests (ms), as TCP keeps it; undefined before the first. */
  #srtt?: number

  constructor(c: RpcComponents) {
    this.#c = c
    this.#sentByMethod = c.sentByMethod ?? new Map()
  }

  /** Serve `method` (0–255). */
  handle(method: number, handler: RpcHandler): void {
    this.#handlers.set(method, handler)
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

  /**
   * Send a request and wait for its reply. Throws RpcFailedError when the peer cannot be reached,
   * the link breaks, the deadline passes or the peer answers with an error (its code is kept in
   * `remoteCode`); a refusal that has a class of its own (StoreFullError, PeerQuotaError…) is thrown as that.
   */
  async request(peer: PeerId | string, method: number, payload: Uint8Array, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    if (this.#stopped) throw new RpcFailedError('rpc stopped')
    if (opts.signal?.aborted === true) throw new RpcFailedError(`rpc to ${peer} aborted`, { cause: opts.signal.reason })
    const timeoutMs = opts.timeoutMs ?? RPC_TIMEOUT_MS
    this.#sentByMethod.set(method, (this.#sentByMethod.get(method) ?? 0) + 1)
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
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => {
        link.pending.delete(id)
        clearTimeout(timer)
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
      try {
        link.stream.send(frame(REQUEST, id, payload, method))
      } catch (cause) {
        fail(new RpcFailedError(`rpc to ${peer} could not be sent`, { cause }))
      }
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
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout
      // Bounded here too, not only by the signal: an open that never settles (a dial that missed its abort) would
      // otherwise hold this peer's slot in #links for good, and every later request to the peer would wait on it.
      link = settleBy(this.#open(peer, signal), signal, () => new RpcFailedError(`cannot open an rpc stream to ${peer}: no stream within ${timeoutMs} ms`))
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
    const link: Link = { stream, pending: new Map(), nextId: 1, ...(opened ? { opened } : {}) }
    this.#ready.set(key, link)
    void this.#readReplies(peer, link).finally(() => {
      // The next request opens a new link (the connection may have been replaced).
      if (this.#links.get(key) === opened) this.#links.delete(key)
      if (this.#ready.get(key) === link) this.#ready.delete(key)
      for (const p of [...link.pending.values()]) p.reject(new RpcFailedError(`rpc link to ${peer} closed`))
    })
    return link
  }

  async #readReplies(peer: PeerId, link: Link): Promise<void> {
    const reader = new FrameReader()
    await readChunks(
      link.stream,
      (chunk) => {
        for (const body of reader.push(chunk)) {
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
      },
      (err) => this.#c.log?.debug({ err, peer: peer.toString() }, 'rpc link failed'),
    )
  }

  /**
   * Serve one inbound stream: answer each request on it (handlers may run concurrently, up to
   * MAX_RPC_INFLIGHT). A frame that cannot be parsed ends the stream, never the node.
   */
  async serve(stream: Stream, remotePeer: string): Promise<void> {
    if (this.#stopped) {
      stream.abort(new RpcFailedError('rpc stopped'))
      return
    }
    this.#inbound.add(stream)
    const reader = new FrameReader()
    let inflight = 0
    const reply = (bytes: Uint8Array): void => {
      try {
        stream.send(bytes)
      } catch (err) {
        this.#c.log?.debug({ err, peer: remotePeer }, 'rpc reply not sent')
      }
    }
    const answer = (id: number, out: Uint8Array): void => {
      inflight--
      reply(frame(REPLY, id, out))
    }
    const refuse = (id: number, err: unknown): void => {
      inflight--
      const e = err as Error & { code?: unknown }
      reply(errorFrame(id, typeof e.code === 'string' ? e.code : 'error', String(e.message)))
    }
    await readChunks(
      stream,
      (chunk) => {
        for (const body of reader.push(chunk)) {
          if (body[0] !== REQUEST || body.length < HEADER + 1) throw new MalformedFrameError('expected an rpc request')
          const id = readU32(body, 1)
          const handler = this.#handlers.get(body[HEADER] as number)
          if (handler === undefined) {
            reply(errorFrame(id, 'unknown_method', `no rpc method ${body[HEADER]}`))
            continue
          }
          if (inflight >= MAX_RPC_INFLIGHT) {
            reply(errorFrame(id, 'busy', 'too many requests in flight'))
            continue
          }
          inflight++
          const payload = new Uint8Array(body.subarray(HEADER + 1)) // a copy: the chunk may be a view of a pooled buffer
          try {
            const out = handler(remotePeer, payload)
            // A synchronous answer goes out at once (a stored record's pushes already left: the
            // store calls its push listener as it stores).
            if (out instanceof Uint8Array) answer(id, out)
            else out.then((o) => answer(id, o), (err: unknown) => refuse(id, err))
          } catch (err) {
            refuse(id, err)
          }
        }
      },
      (err) => this.#c.log?.debug({ err, peer: remotePeer }, 'rpc stream ended'),
    )
    this.#inbound.delete(stream)
  }

  /** Close every link and inbound stream; pending requests fail. */
  stop(): void {
    this.#stopped = true
    for (const link of this.#links.values()) link.then((l) => l.stream.abort(new RpcFailedError('rpc stopped'))).catch(() => {})
    this.#links.clear()
    this.#ready.clear()
    for (const s of this.#inbound) s.abort(new RpcFailedError('rpc stopped'))
    this.#inbound.clear()
  }
}

function errorFrame(id: number, code: string, message: string): Uint8Array {
  return frame(ERROR, id, encoder.encode(`${code.slice(0, 64)}\n${message.slice(0, 512)}`))
}

/** `p`, or a rejection with `error()` once `signal` aborts, whichever comes first. */
function settleBy<T>(p: Promise<T>, signal: AbortSignal, error: () => Error): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined)
    return Promise.reject(error())
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(error())
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
