import { noise } from '@chainsafe/libp2p-noise'
import { withFrameDecoder } from './noise-frames.ts'

/**
 * Noise hands each encrypted message to the connection as a list of two buffers (its 2-byte
 * length and the ciphertext), and @libp2p/tcp writes each buffer of a list with its own
 * `socket.write`: two system calls (and, with no delay, two TCP segments) per message. On the
 * DHT's hot path (a get is 12 messages, a put with a watcher about 40, each small) those writes
 * were a fifth of all CPU time (profile of bench/opendht.bench.ts). Here the connection gets each
 * message as one buffer instead (one copy of a few hundred bytes, one write). Nothing else
 * changes: same bytes on the wire, same backpressure (send's return value is the connection's).
 */

/** The part of a connection (libp2p MultiaddrConnection) this needs. */
interface Sendable {
  send(data: Uint8Array | ByteList): boolean
}

/** A Uint8ArrayList (duck-typed: no dependency on uint8arraylist's class). */
interface ByteList {
  readonly bufs: Uint8Array[]
  subarray(): Uint8Array
}

/** Make `conn.send` pass a multi-buffer list on as one buffer. Returns `conn` (patched in place). */
export function oneWritePerSend<T extends Sendable>(conn: T): T {
  const send = conn.send.bind(conn)
  conn.send = (data: Uint8Array | ByteList): boolean =>
    send(data instanceof Uint8Array || data.bufs.length <= 1 ? data : data.subarray())
  return conn
}

type NoiseInit = Parameters<typeof noise>[0]
type NoiseFactory = ReturnType<typeof noise>
type Encrypter = ReturnType<NoiseFactory>

/**
 * libp2p's noise() whose connections write each encrypted message with one write, and read their frames without an
 * exception per chunk (noise-frames.ts).
 */
export function noiseOneWrite(init?: NoiseInit): NoiseFactory {
  const make = noise(init)
  return (components) => {
    const inner = make(components)
    // Everything else (protocol, capabilities) comes from the noise instance itself.
    const outer: Encrypter = Object.create(inner)
    outer.secureInbound = async (conn, options) => {
      const secured = await inner.secureInbound(oneWritePerSend(conn as Sendable) as typeof conn, options)
      withFrameDecoder(secured.connection)
      return secured
    }
    outer.secureOutbound = async (conn, options) => {
      const secured = await inner.secureOutbound(oneWritePerSend(conn as Sendable) as typeof conn, options)
      withFrameDecoder(secured.connection)
      return secured
    }
    return outer
  }
}
