/**
 * A raw libp2p stream round trip, the baseline for Baran's message RTT: the lab peer (only it, never
 * the product) answers `/natlab/echo/1.0.0` by writing back every byte it reads. `compareRtt()`
 * times Baran's envelope → ACK and an echo of the same frame size over the same connection, with
 * the same warm-up, interleaved round by round so machine load hits both alike.
 */
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, pathOf, type TransportHost } from '@baran/transport'

export const ECHO_PROTOCOL = '/natlab/echo/1.0.0'

/** Thrown when the echo stream ends or the connection Baran uses cannot be found. */
export class EchoFailedError extends Error {
  override name = 'EchoFailedError'
}

/** Registers the echo handler on the host's libp2p node (relayed connections too). */
export async function handleEcho(host: TransportHost): Promise<void> {
  await host.libp2p.handle(
    ECHO_PROTOCOL,
    async (stream) => {
      for await (const chunk of stream) {
        if (!stream.send(chunk.subarray())) await stream.onDrain()
      }
      await stream.close().catch(() => undefined)
    },
    { runOnLimitedConnection: true },
  )
}

export interface RttComparison {
  /** The kind of connection Baran's messages went over (every timed one), and the echo too. */
  connection: 'direct' | 'relayed'
  /** The libp2p connection the echo stream ran on (its path, e.g. webrtc), and how many open ones of that kind there were. */
  connectionId: string
  path: string
  candidates: number
  /** Bytes each round trip wrote: Baran's envelope frame; the echo writes as many and reads them back. */
  frameBytes: number
  /** Timed round trips in ms (warm-up excluded): Baran (write → ACK read) and the raw echo (write → echo read). */
  baran: number[]
  raw: number[]
  /** Timed Baran sends that went over another kind of connection than the first (then not comparable). */
  switched: number
}

export interface CompareOptions {
  peerId: string
  addrs: string[]
  rounds: number
  warmup: number
  payloadBytes: number
  /** Makes each envelope id (the peer's unique ids). */
  nextId: () => string
}

/**
 * Warm-up rounds of both, then `rounds` interleaved pairs (the order alternates). Baran's clock is
 * the transport's own (`SendResult.rtt`: just before the frame is written → ACK read); the echo's
 * starts just before `send()` and stops when all bytes are back.
 */
export async function compareRtt(host: TransportHost, o: CompareOptions): Promise<RttComparison> {
  const payload = new Uint8Array(o.payloadBytes).fill(0x61)
  const sendBaran = async () => {
    const r = await host.send({ peerId: o.peerId, addrs: o.addrs }, { id: o.nextId(), payload })
    return { rtt: r.rtt, connection: r.connection as 'direct' | 'relayed' }
  }
  let first = await sendBaran()
  for (let i = 1; i < o.warmup; i++) first = await sendBaran()
  const kind = first.connection
  const frameBytes = encodeFrame({ type: 'envelope', id: o.nextId(), payload }, DEFAULT_MAX_FRAME_BYTES).length

  const open = host.libp2p.getConnections().filter((c) => c.remotePeer.toString() === o.peerId && c.status === 'open')
  // a WebRTC address names its relay (signalling) but the connection is direct: pathOf tells them apart
  const candidates = open.filter((c) => (pathOf(c.remoteAddr.toString()) === 'circuit') === (kind === 'relayed'))
  // the newest one: a direct connection made by the upgrade is the one Baran's session moved to
  const conn = candidates.at(-1)
  if (conn === undefined) throw new EchoFailedError(`no open ${kind} connection to ${o.peerId}`)
  const stream = await conn.newStream(ECHO_PROTOCOL, { runOnLimitedConnection: true, signal: AbortSignal.timeout(15_000) })
  const reader = stream[Symbol.asyncIterator]()
  const frame = new Uint8Array(frameBytes).fill(0x62)
  const echo = async () => {
    const t0 = performance.now()
    if (!stream.send(frame)) await stream.onDrain()
    let got = 0
    while (got < frameBytes) {
      const r = await reader.next()
      if (r.done) throw new EchoFailedError('the echo stream ended')
      got += r.value.byteLength
    }
    return performance.now() - t0
  }
  try {
    for (let i = 0; i < o.warmup; i++) await echo()
    const baran: number[] = []
    const raw: number[] = []
    let switched = 0
    for (let i = 0; i < o.rounds; i++) {
      const pair = i % 2 === 0 ? [sendBaran, echo] : [echo, sendBaran]
      for (const step of pair) {
        const r = await step()
        if (typeof r === 'number') raw.push(r)
        else if (r.connection === kind) baran.push(r.rtt)
        else switched++
      }
    }
    return { connection: kind, connectionId: conn.id, path: pathOf(conn.remoteAddr.toString()), candidates: candidates.length, frameBytes, baran, raw, switched }
  } finally {
    await stream.close().catch(() => stream.abort(new EchoFailedError('closing the echo stream failed')))
  }
}
