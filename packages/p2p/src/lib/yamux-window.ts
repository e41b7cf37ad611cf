import { type YamuxMuxerInit, yamux } from '@chainsafe/libp2p-yamux'
import { StreamState } from '@chainsafe/libp2p-yamux/stream'
import type { StreamMuxerFactory } from '@libp2p/interface'

/**
 * @chainsafe/libp2p-yamux 8 answers every data frame it reads with a WindowUpdate frame, so each small DHT message
 * costs two frames (two Noise encryptions and socket writes), and on the put → push path the update goes out before
 * the message is handled. Go's yamux, the reference implementation, sends an update only once half of the receive
 * window has been consumed. `yamuxCoalesced()` is yamux whose streams do the same: a muxer passed in the libp2p
 * configuration of the hosts that want it (the discovery node), so no other host in the process is touched. The wire
 * protocol is unchanged (a peer's send window simply stays larger than half the window): updates that carry a flag
 * (SYN, ACK) and paused streams still take the library's own path.
 */

/** The yamux version whose stream fields this module reads (see YamuxInternalsChangedError). */
export const YAMUX_VERSION = '8.0.1'

/**
 * Thrown when a yamux stream lacks the fields window coalescing reads (`state`, `recvWindow`, `recvWindowCapacity`,
 * `sendWindowUpdate`): @chainsafe/libp2p-yamux was upgraded past the version this module was written for.
 */
export class YamuxInternalsChangedError extends Error {
  constructor(message = `@chainsafe/libp2p-yamux internals changed: expected ${YAMUX_VERSION}`, options?: ErrorOptions) {
    super(message, options)
    this.name = 'YamuxInternalsChangedError'
  }
}

/** The fields of a YamuxStream (private in the library) that the coalescing reads. */
interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

/** The parts of a yamux muxer (libp2p AbstractStreamMuxer) through which every new stream passes. */
interface StreamSource<S> {
  onCreateStream(options: unknown): S | Promise<S>
  onRemoteStream(stream: S): void
}

type YamuxFactory = ReturnType<ReturnType<typeof yamux>>

/** yamux(init) whose streams send one WindowUpdate per half window consumed, as Go's yamux does. */
export function yamuxCoalesced(init?: YamuxMuxerInit): () => StreamMuxerFactory {
  const make = yamux(init)
  return () => {
    const inner: YamuxFactory = make()
    // Everything else (protocol, capabilities) comes from the yamux factory itself.
    const outer: YamuxFactory = Object.create(inner)
    outer.createStreamMuxer = (maConn) => coalescingMuxer(inner.createStreamMuxer(maConn))
    return outer
  }
}

/** Make every stream this muxer creates or accepts coalesce its window updates. Returns `muxer` (wrapped in place). */
function coalescingMuxer<M extends StreamSource<S>, S extends object>(muxer: M): M {
  const create = muxer.onCreateStream.bind(muxer)
  const accept = muxer.onRemoteStream.bind(muxer)
  muxer.onCreateStream = (options) => {
    const stream = create(options)
    return stream instanceof Promise ? stream.then(coalesceWindowUpdates) : coalesceWindowUpdates(stream)
  }
  muxer.onRemoteStream = (stream) => accept(coalesceWindowUpdates(stream))
  return muxer
}

/**
 * Give one yamux stream a `sendWindowUpdate` that skips flagless updates while more than half the receive window is
 * left. Throws YamuxInternalsChangedError if the stream lacks the fields it reads.
 */
export function coalesceWindowUpdates<S extends object>(stream: S): S {
  const w = stream as unknown as Partial<WindowFields>
  if (typeof w.sendWindowUpdate !== 'function' || typeof w.recvWindow !== 'number' || typeof w.recvWindowCapacity !== 'number' || typeof w.state !== 'number') {
    throw new YamuxInternalsChangedError(
      `@chainsafe/libp2p-yamux internals changed: a stream has no sendWindowUpdate, recvWindow, recvWindowCapacity or state (expected ${YAMUX_VERSION})`,
    )
  }
  const fields = w as WindowFields
  const original = fields.sendWindowUpdate.bind(fields)
  fields.sendWindowUpdate = () => {
    const flagless = fields.state === StreamState.Established || fields.state === StreamState.SYNSent || fields.state === StreamState.Finished
    if (flagless && fields.recvWindowCapacity > fields.recvWindow / 2) return
    original()
  }
  return stream
}
