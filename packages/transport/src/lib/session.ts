/**
 * One `/baran/msg/1.0.0` stream. The opener sends its HELLO first; the acceptor answers with its own only once
 * the opener's verified (so a peer that proved nothing learns nothing: no certificate, no binding). After that
 * the stream is symmetric: either end may send ENVELOPEs (answered by ACKs, matched by id, many in
 * flight) on it. Any protocol violation, timeout or failed handshake ends the stream with a CLOSE
 * frame and never throws out of the stream's event handlers.
 */
import type { Connection, Stream, StreamMessageEvent } from '@libp2p/interface'
import type { VerifiedChain } from '@baran/trust'
import { CLOSE_GRACE_MS } from './constants.ts'
import { AckWaiters } from './ack-waiters.ts'
import { ackFrameOf, type AnyEnvelopeHandler, type EnvelopeResult, type EnvelopeSender } from './envelope-handler.ts'
import { type AckStatus, type CloseCode, decodeFrame, encodeFrame, type Frame, FrameDecoder, type HelloFrame } from './frames.ts'
import { HandshakeFailedError, RevokedError, TransportError } from './errors.ts'
import { IdleTimer } from './idle-timer.ts'
import type { Logger } from './logger.ts'
import { HelloRefusedError, SessionLostError } from './session-errors.ts'
import { StreamWriter } from './stream-writer.ts'

export type { AnyEnvelopeHandler, EnvelopeHandler, EnvelopeResult, EnvelopeSender } from './envelope-handler.ts'
export { HelloRefusedError, SessionLostError }

export interface SessionOptions {
  stream: Stream
  connection: Connection
  /** 'opener' sends its HELLO at once; 'acceptor' only after the opener's HELLO verified. */
  role: 'opener' | 'acceptor'
  /** Our HELLO, already framed. */
  hello: Uint8Array
  /** Verifies the remote's HELLO against the Noise-authenticated PeerId; throws HelloRefusedError. */
  verifyHello: (hello: HelloFrame, remotePeerId: string) => Promise<VerifiedChain & { peerId: string }>
  /** The current envelope handler (read at each envelope, so it can be set later). */
  handler: () => AnyEnvelopeHandler | undefined
  maxFrameBytes: number
  idleTimeoutMs: number
  handshakeTimeoutMs: number
  maxInFlight: number
  onReady?: (session: Session) => void
  onClose?: (session: Session) => void
  log?: Logger
}

type State = 'handshake' | 'open' | 'closed'

export class Session {
  readonly stream: Stream
  readonly connection: Connection
  readonly remotePeer: string
  /** Resolves once the remote's HELLO verified; rejects if the stream ends before. */
  readonly ready: Promise<void>
  /** The verified remote, once ready. */
  remote: (VerifiedChain & { peerId: string }) | undefined
  /** What envelope handlers get as `from` (one frozen object per stream). */
  private sender: Readonly<EnvelopeSender> | undefined

  private readonly opts: SessionOptions
  private readonly decoder: FrameDecoder
  private state: State = 'handshake'
  private readonly queue: Frame[] = []
  private pumping = false
  private inFlight = 0
  private paused = false
  private remoteEnded = false
  private readonly waiters = new AckWaiters()
  private readonly idle: IdleTimer
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined
  private readonly writer: StreamWriter
  private resolveReady!: () => void
  private rejectReady!: (err: Error) => void

  constructor(opts: SessionOptions) {
    this.opts = opts
    this.stream = opts.stream
    this.connection = opts.connection
    this.remotePeer = opts.connection.remotePeer.toString()
    this.decoder = new FrameDecoder(opts.maxFrameBytes)
    this.writer = new StreamWriter(opts.stream, () => this.state === 'closed')
    this.idle = new IdleTimer({
      timeoutMs: opts.idleTimeoutMs,
      closed: () => this.state === 'closed',
      busy: () => this.inFlight > 0,
      onIdle: (idleFor) => this.close('idle_timeout', `no frame for ${idleFor} ms`),
    })
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
    })
    // nobody may await ready (inbound streams): a failed handshake must not be an unhandled rejection
    this.ready.catch(() => {})

    // the opener waits for two verifications in turn (the acceptor's of its HELLO, then its own of the answer)
    const handshakeMs = opts.role === 'opener' ? 2 * opts.handshakeTimeoutMs : opts.handshakeTimeoutMs
    this.handshakeTimer = setTimeout(() => {
      const reason = `no valid HELLO within ${handshakeMs} ms`
      this.close('handshake_timeout', reason, new HandshakeFailedError(reason))
    }, handshakeMs)
    this.handshakeTimer.unref?.()

    this.stream.addEventListener('message', (evt: StreamMessageEvent) => this.onData(evt.data))
    this.stream.addEventListener('end', () => this.onRemoteEnd())
    this.stream.addEventListener('close', (evt) => {
      this.finish('stream_closed', evt.error?.message ?? 'stream closed', undefined)
    })
    if (opts.role === 'opener') this.send(opts.hello)
  }

  /** 'direct' unless the connection runs through a relay. */
  get kind(): 'direct' | 'relayed' {
    return this.connection.direct ? 'direct' : 'relayed'
  }

  /** True while the stream can carry envelopes (or will, once the handshake completes). */
  get usable(): boolean {
    return this.state !== 'closed' && this.stream.writeStatus === 'writable'
  }

  get isOpen(): boolean {
    return this.state === 'open' && this.usable
  }

  /**
   * Sends one already-framed ENVELOPE and resolves with the ACK status. Rejects with RejectedError,
   * HandshakeFailedError, SessionLostError, or the signal's reason. Not an async function: each of its awaits was
   * one more microtask between the ACK's arrival and the caller.
   */
  request(id: string, frame: Uint8Array, signal?: AbortSignal): Promise<'stored' | 'duplicate'> {
    if (this.state !== 'open') return this.ready.then(() => this.requestOpen(id, frame, signal))
    return this.requestOpen(id, frame, signal)
  }

  private requestOpen(id: string, frame: Uint8Array, signal: AbortSignal | undefined): Promise<'stored' | 'duplicate'> {
    if (this.state !== 'open') return Promise.reject(new SessionLostError('stream_closed', 'stream is closing'))
    if (signal?.aborted) return Promise.reject(signal.reason)
    // the frame leaves first: the bookkeeping below runs while it is on its way (its ACK comes in a later event)
    const written = this.write(frame)
    const { waiter, acked } = this.waiters.wait(id)
    const fail = (err: unknown) => {
      this.waiters.drop(id, waiter)
      waiter.reject(err as Error)
    }
    written.catch(fail)
    if (signal === undefined) return acked
    const onAbort = () => fail(signal.reason ?? new Error('aborted'))
    signal.addEventListener('abort', onAbort, { once: true })
    // after the caller's own continuation (queued when the ACK settles it): off the ACK's path
    const removeListener = () => queueMicrotask(() => signal.removeEventListener('abort', onAbort))
    acked.then(removeListener, removeListener)
    return acked
  }

  /** Whether the remote ended up verified as this account's device. */
  isDevice(accountId: string, deviceId: string): boolean {
    return this.remote !== undefined && this.remote.accountId === accountId && this.remote.deviceId === deviceId
  }

  /** Cuts the stream of a device revoked after its handshake: CLOSE revoked; pending sends fail with RevokedError. */
  revoke(reason: string): void {
    this.close('revoked', reason, new RevokedError(reason, false))
  }

  /** Ends the stream: sends CLOSE (best effort), fails pending requests, resets after a grace period. */
  close(code: CloseCode, reason: string, err?: Error): void {
    if (this.state === 'closed') return
    this.opts.log?.debug({ peer: this.remotePeer, code, reason }, 'closing message stream')
    if (this.stream.writeStatus === 'writable') {
      try {
        // what was written before the CLOSE (ACKs of stored envelopes) still goes first
        this.writer.flushNow()
        this.stream.send(encodeFrame({ type: 'close', code, reason }, this.opts.maxFrameBytes))
      } catch {
        // the stream died under us; the reset below covers it
      }
    }
    this.finish(code, reason, err)
    this.shutdownStream(reason)
  }

  /** Waits for the remote to close its side after our close, then resets the stream. */
  private shutdownStream(reason: string): void {
    const stream = this.stream
    if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') return
    const timer = setTimeout(() => stream.abort(new Error(`message stream closed: ${reason}`)), CLOSE_GRACE_MS)
    timer.unref?.()
    stream.addEventListener('close', () => clearTimeout(timer), { once: true })
    if (stream.writeStatus === 'writable') {
      stream.close().catch(() => stream.abort(new Error(`message stream closed: ${reason}`)))
    }
  }

  /** Moves to 'closed' once: clears timers, fails waiters and the handshake, tells the owner. */
  private finish(code: CloseCode | 'stream_closed', reason: string, err: Error | undefined): void {
    if (this.state === 'closed') return
    if (code === 'stream_closed') this.opts.log?.debug({ peer: this.remotePeer, reason }, 'message stream ended')
    const wasHandshake = this.state === 'handshake'
    this.state = 'closed'
    clearTimeout(this.handshakeTimer)
    this.idle.stop()
    this.queue.length = 0
    const failure = err ?? new SessionLostError(code, reason)
    if (wasHandshake) this.rejectReady(failure)
    this.waiters.rejectAll(() => failure)
    this.opts.onClose?.(this)
  }

  /** Writes a frame (batched with the others of this turn, after back-pressure): see StreamWriter. */
  private write(frame: Uint8Array): Promise<void> {
    return this.writer.write(frame)
  }

  /** Fire-and-forget write for HELLO and ACKs; a failure closes the session. */
  private send(frame: Uint8Array): void {
    this.write(frame).catch((err: Error) => this.close('internal_error', `write failed: ${err.message}`))
  }

  private onData(data: StreamMessageEvent['data']): void {
    if (this.state === 'closed') return
    const queued = this.queue.length
    try {
      // a list is almost always one chunk, which subarray() returns as it is (its iterator is a generator: slower)
      this.enqueue(this.decoder.push(data instanceof Uint8Array ? data : data.subarray()))
    } catch (err) {
      this.protocolError(err)
      return
    }
    // only a complete frame counts as activity: a peer trickling one frame byte by byte is idle
    if (this.queue.length > queued) this.idle.touch()
    // hold further data in the muxer while work is queued: the remote's window fills up
    if (this.queue.length > this.opts.maxInFlight && !this.paused) {
      this.paused = true
      // deferred: this may run inside stream.resume(), which re-opens yamux's window after
      // dispatching; pausing synchronously here would be undone and the buffer would grow unbounded
      queueMicrotask(() => {
        if (this.paused && this.state !== 'closed' && this.stream.readStatus === 'readable') this.stream.pause()
      })
    }
    this.pump()
  }

  private enqueue(bodies: Uint8Array[]): void {
    for (const body of bodies) this.queue.push(decodeFrame(body))
  }

  private protocolError(err: unknown): void {
    const code: CloseCode =
      err instanceof TransportError && err.code === 'frame_too_large' ? 'frame_too_large' : 'protocol_error'
    this.close(code, err instanceof Error ? err.message : String(err))
  }

  /**
   * Handles queued frames in order; only HELLO verification is waited for (the pump goes on once it is done). Not an
   * async function: every frame would pay for its promise.
   */
  private pump(): void {
    if (this.pumping) return
    this.pumping = true
    let waiting = false
    try {
      while (this.state !== 'closed') {
        if (this.inFlight >= this.opts.maxInFlight) return // resumed when a handler settles
        const frame = this.queue.shift()
        if (frame === undefined) break
        const pending = this.handle(frame)
        if (pending !== undefined) {
          waiting = true
          pending.then(
            () => {
              this.pumping = false
              this.pump()
            },
            (err: unknown) => {
              this.pumping = false
              this.protocolError(err)
            },
          )
          return
        }
      }
      if (this.paused) {
        this.paused = false
        if (this.state !== 'closed' && this.stream.readStatus === 'paused') this.stream.resume()
      }
      this.maybeEndAfterRemote()
    } catch (err) {
      this.protocolError(err)
    } finally {
      if (!waiting) this.pumping = false
    }
  }

  private handle(frame: Frame): Promise<void> | undefined {
    if (frame.type === 'close') {
      this.onRemoteClose(frame.code, frame.reason)
      return undefined
    }
    if (this.state === 'handshake') {
      if (frame.type !== 'hello') {
        this.close('protocol_error', `expected HELLO, got ${frame.type.toUpperCase()}`)
        return undefined
      }
      return this.onHello(frame)
    }
    switch (frame.type) {
      case 'hello':
        this.close('protocol_error', 'HELLO sent twice')
        return undefined
      case 'envelope':
        this.onEnvelope(frame.id, frame.payload)
        return undefined
      case 'ack':
        this.onAck(frame.id, frame.status, frame.reason)
        return undefined
    }
  }

  private async onHello(frame: HelloFrame): Promise<void> {
    try {
      this.remote = await this.opts.verifyHello(frame, this.remotePeer)
    } catch (err) {
      const refused = err instanceof HelloRefusedError ? err : undefined
      const reason = refused?.reason ?? 'HELLO verification failed'
      if (refused?.closeCode === 'revoked') this.close('revoked', reason, new RevokedError(reason, false, { cause: err }))
      else this.close('handshake_failed', reason, new HandshakeFailedError(reason, false, { cause: err }))
      return
    }
    if (this.state !== 'handshake') return
    // the opener proved who it is: only now does it get our certificate and binding
    if (this.opts.role === 'acceptor') this.send(this.opts.hello)
    this.sender = Object.freeze({ ...this.remote, connection: this.kind })
    this.state = 'open'
    clearTimeout(this.handshakeTimer)
    this.idle.start()
    this.resolveReady()
    this.opts.onReady?.(this)
  }

  private onRemoteClose(code: CloseCode, reason: string): void {
    if (this.state === 'closed') return
    this.opts.log?.debug({ peer: this.remotePeer, code, reason }, 'remote closed message stream')
    // a refusal of our HELLO: pending sends fail for good, not as a lost stream to retry
    const err =
      code === 'handshake_failed'
        ? new HandshakeFailedError(reason, true)
        : code === 'revoked'
          ? new RevokedError(reason, true)
          : undefined
    this.finish(code, reason, err)
    this.shutdownStream(`remote closed: ${reason}`)
  }

  private onEnvelope(id: string, payload: Uint8Array): void {
    const remote = this.remote!
    if (remote.expiresAt !== undefined && Date.now() >= remote.expiresAt) {
      this.close('handshake_failed', 'remote credentials expired during the session')
      return
    }
    const handler = this.opts.handler()
    if (handler === undefined) {
      this.close('internal_error', 'no envelope handler registered')
      return
    }
    this.inFlight++
    const failed = (err: unknown) => {
      // never ack what was not stored: the sender retries after an internal error
      this.opts.log?.error({ err, id, peer: this.remotePeer }, 'envelope handler failed')
      this.close('internal_error', 'receiver failed to store the envelope')
    }
    const settled = () => {
      this.inFlight--
      this.pump()
    }
    let result: EnvelopeResult | Promise<EnvelopeResult>
    try {
      result = handler({ id, payload }, this.sender!)
    } catch (err) {
      failed(err)
      settled()
      return
    }
    // a handler that answers at once is ACKed in this turn, without a promise hop
    if (!isThenable(result)) {
      try {
        this.ack(id, result)
      } catch (err) {
        failed(err)
      }
      settled()
      return
    }
    Promise.resolve(result).then(
      (r) => {
        try {
          this.ack(id, r)
        } catch (err) {
          failed(err)
        }
        settled()
      },
      (err: unknown) => {
        failed(err)
        settled()
      },
    )
  }

  private ack(id: string, r: EnvelopeResult): void {
    if (this.state === 'closed') return
    this.send(ackFrameOf(id, r, this.opts.maxFrameBytes))
  }

  private onAck(id: string, status: AckStatus, reason: string | undefined): void {
    // false: a late ACK for a send that timed out, harmless
    if (!this.waiters.settle(id, status, reason)) {
      this.opts.log?.debug({ id, peer: this.remotePeer }, 'ACK for an unknown envelope id')
    }
  }

  /** The remote closed its writing side: answer what is in flight, then close. */
  private onRemoteEnd(): void {
    if (this.state === 'closed') return
    this.remoteEnded = true
    this.waiters.rejectAll(() => new SessionLostError('stream_closed', 'remote stopped sending'))
    this.pump()
  }

  private maybeEndAfterRemote(): void {
    if (!this.remoteEnded || this.queue.length > 0) return
    if (this.state === 'handshake') this.close('protocol_error', 'stream ended before HELLO')
    else if (this.state === 'open' && this.inFlight === 0) this.close('normal', 'remote ended the stream')
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function'
}
