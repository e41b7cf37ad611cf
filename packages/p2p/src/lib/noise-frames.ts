/**
 * Noise frames its messages with a 2-byte big-endian length. @chainsafe/libp2p-noise 17 reads them with libp2p's
 * LengthPrefixedDecoder, which ends every incoming chunk by asking for the next length on an empty (or one-byte)
 * buffer: the length reader throws a RangeError there and the decoder catches it. One thrown error per chunk read
 * from the socket was the largest single cost of Baran's own code paths on the DHT: ~10 % of the CPU of a get
 * (profile of 1,000 quorum-8 gets in one event loop). `NoiseFrameDecoder` reads the same frames without throwing,
 * and `withFrameDecoder` gives one noise connection that decoder: same bytes, same frames, same limit.
 */

/** The noise version whose connection field this module replaces (see NoiseInternalsChangedError). */
export const NOISE_VERSION = '17.0.0'

/** Noise's own limit on buffered undecoded bytes (its LengthPrefixedDecoder's maxBufferSize). */
export const NOISE_MAX_BUFFERED = 16 * 1024 * 1024

/**
 * Thrown when a noise connection lacks the `decoder` (a LengthPrefixedDecoder: `decode`, `buffer`) this module
 * replaces: @chainsafe/libp2p-noise was upgraded past the version it was written for.
 */
export class NoiseInternalsChangedError extends Error {
  constructor(message = `@chainsafe/libp2p-noise internals changed: expected ${NOISE_VERSION}`, options?: ErrorOptions) {
    super(message, options)
    this.name = 'NoiseInternalsChangedError'
  }
}

/** A Uint8ArrayList (duck-typed): its length and its bytes joined. */
interface ByteList {
  readonly byteLength: number
  subarray(): Uint8Array
}

/** Noise's 2-byte-length framing, read without exceptions. Frames are views of the bytes read (noise decrypts in place). */
export class NoiseFrameDecoder {
  readonly #maxBuffered: number
  /** The start of a frame not yet complete (a copy: the chunk it came in may be reused). */
  #pending: Uint8Array | undefined

  constructor(maxBuffered = NOISE_MAX_BUFFERED, pending?: Uint8Array) {
    this.#maxBuffered = maxBuffered
    this.#pending = pending !== undefined && pending.length > 0 ? pending : undefined
  }

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.#pending?.length ?? 0
  }

  /** The complete frames these bytes finish, in order (empty ones skipped, as noise's decoder does). */
  *decode(data: Uint8Array | ByteList): Generator<Uint8Array> {
    let buf = data instanceof Uint8Array ? data : data.subarray()
    if (this.#pending !== undefined) {
      const joined = new Uint8Array(this.#pending.length + buf.length)
      joined.set(this.#pending)
      joined.set(buf, this.#pending.length)
      buf = joined
      this.#pending = undefined
    }
    if (buf.length > this.#maxBuffered) throw new RangeError(`noise buffer limit exceeded: ${buf.length} of ${this.#maxBuffered} bytes`)
    let at = 0
    while (buf.length - at >= 2) {
      const length = ((buf[at] as number) << 8) | (buf[at + 1] as number)
      if (buf.length - at - 2 < length) break
      const frame = buf.subarray(at + 2, at + 2 + length)
      at += 2 + length
      if (length > 0) yield frame
    }
    // A copy (a Buffer's slice would be a view of the chunk).
    if (at < buf.length) this.#pending = new Uint8Array(buf.subarray(at))
  }
}

/** The part of noise's connection (its EncryptedMessageStream) this replaces. */
interface Decoding {
  decoder?: { decode?: unknown; buffer?: Partial<ByteList> }
}

/**
 * Give a connection noise just secured a NoiseFrameDecoder in place of its own (bytes its decoder already holds carry
 * over). Returns `connection` (changed in place). Throws NoiseInternalsChangedError if it has no such decoder.
 */
export function withFrameDecoder<C extends object>(connection: C): C {
  const c = connection as Decoding
  const own = c.decoder
  if (typeof own?.decode !== 'function' || typeof own.buffer?.byteLength !== 'number' || typeof own.buffer.subarray !== 'function') {
    throw new NoiseInternalsChangedError(
      `@chainsafe/libp2p-noise internals changed: a secured connection has no decoder with decode and buffer (expected ${NOISE_VERSION})`,
    )
  }
  const held = own.buffer.byteLength > 0 ? own.buffer.subarray() : undefined
  c.decoder = new NoiseFrameDecoder(NOISE_MAX_BUFFERED, held)
  return connection
}
