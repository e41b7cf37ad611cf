import type { Stream } from '@libp2p/interface'
import { SessionLostError } from './session-errors.ts'

/** Frames written in one turn (one run of the microtask queue), and the promise of their write. */
interface WriteBatch {
  frames: Uint8Array[]
  bytes: number
  sent: Promise<void>
}

/** What a write that went out at once returns (one promise for all of them). */
const SENT = Promise.resolve()

/** A batch is sent once it holds this much, whatever the turn (one full-size frame fits). */
const MAX_WRITE_BATCH_BYTES = 256 * 1024

/**
 * Writes a session's frames to its stream. The first frame of a turn, with nothing waiting and room in the stream,
 * is handed to the stream at once (a lone envelope or ACK saved the batch's nextTick and promise hops: ~10-30 µs a
 * frame in a trace between two lab nodes). The frames written after it in that turn (the ACKs of envelopes stored
 * together, the envelopes of sends made together: promise callbacks run in the same run of the microtask queue) go
 * out as one stream write: one yamux frame, one Noise message and one socket write for the lot instead of one each. The batch
 * closes with process.nextTick, i.e. once the microtasks running now are done, not with setImmediate: waiting for
 * the event loop's check phase cost every envelope and every ACK the rest of the loop's I/O phase (and whatever
 * else was queued for the check phase) before it left, ~0.1-0.3 ms per round trip on loopback.
 * A write resolves once its batch was handed to the stream, after waiting for the stream to drain when its
 * buffer is full (back-pressure), and rejects with SessionLostError when the stream is gone.
 */
export class StreamWriter {
  readonly #stream: Stream
  readonly #closed: () => boolean
  #batch: WriteBatch | undefined
  /** A frame went out at once in this turn: the next ones batch. */
  #turnStarted = false
  #drainWait: Promise<void> | undefined
  readonly #endTurn = () => {
    this.#turnStarted = false
  }

  constructor(stream: Stream, closed: () => boolean) {
    this.#stream = stream
    this.#closed = closed
  }

  write(frame: Uint8Array): Promise<void> {
    // The turn's first frame leaves at once (see above); the frames after it in this turn batch up.
    if (!this.#turnStarted && this.#batch === undefined && !this.#stream.writableNeedsDrain) {
      if (this.#closed()) return Promise.reject(new SessionLostError('stream_closed', 'stream closed'))
      this.#turnStarted = true
      try {
        this.#stream.send(frame)
      } catch (err) {
        return Promise.reject(new SessionLostError('stream_closed', (err as Error).message, { cause: err }))
      } finally {
        // registered once the frame is out: off the message's path (~4-15 µs on a process that was idle)
        process.nextTick(this.#endTurn)
      }
      return SENT
    }
    let batch = this.#batch
    // a full batch is left to its flush; this frame starts the next one
    if (batch === undefined || batch.bytes + frame.byteLength > MAX_WRITE_BATCH_BYTES) {
      const fresh: WriteBatch = { frames: [], bytes: 0, sent: Promise.resolve() }
      fresh.sent = new Promise<void>((resolve) => process.nextTick(resolve)).then(() => this.#flush(fresh))
      this.#batch = batch = fresh
    }
    batch.frames.push(frame)
    batch.bytes += frame.byteLength
    return batch.sent
  }

  /** Sends what is waiting at once, without waiting for a drain (before a CLOSE frame). */
  flushNow(): void {
    const batch = this.#batch
    this.#batch = undefined
    if (batch !== undefined && batch.frames.length > 0) this.#stream.send(joined(batch))
  }

  async #flush(batch: WriteBatch): Promise<void> {
    if (this.#batch === batch) this.#batch = undefined
    // flushNow() sent it already
    if (batch.frames.length === 0) return
    const data = joined(batch)
    try {
      while (this.#stream.writableNeedsDrain) await this.#drained()
      if (this.#closed()) throw new SessionLostError('stream_closed', 'stream closed')
      this.#stream.send(data)
    } catch (err) {
      if (err instanceof SessionLostError) throw err
      throw new SessionLostError('stream_closed', (err as Error).message, { cause: err })
    }
  }

  /**
   * Resolves on the stream's next 'drain' event. Not `stream.onDrain()`: in libp2p 3.3 it keeps
   * returning its first, already resolved promise, so a wait loop on it spins forever.
   */
  #drained(): Promise<void> {
    this.#drainWait ??= new Promise<void>((resolve, reject) => {
      const done = () => {
        this.#stream.removeEventListener('drain', onDrain)
        this.#stream.removeEventListener('close', onClose)
        this.#drainWait = undefined
      }
      const onDrain = () => {
        done()
        resolve()
      }
      const onClose = () => {
        done()
        reject(new SessionLostError('stream_closed', 'stream closed while waiting to drain'))
      }
      this.#stream.addEventListener('drain', onDrain)
      this.#stream.addEventListener('close', onClose)
    })
    return this.#drainWait
  }
}

/** The batch's frames as one buffer; empties the batch. */
function joined(batch: WriteBatch): Uint8Array {
  const frames = batch.frames
  batch.frames = []
  return frames.length === 1 ? (frames[0] as Uint8Array) : Buffer.concat(frames)
}
