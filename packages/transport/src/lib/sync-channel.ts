/**
 * `/baran/history-sync/1.0.0`: one history sync request between two devices of ONE account, one request per
 * stream (sync-frames.ts): the opener sends its HELLO and the request; the acceptor checks the HELLO exactly as the
 * message protocol does (chain bound to the Noise-authenticated PeerId, revocations), then that it is another device
 * of this node's own account, and only then sends its own HELLO and the answer (its outbox's). Anyone else reads a
 * REFUSED frame that says why, and the stream is closed. The opener checks the acceptor's HELLO the same way and
 * that it is the device it asked for, before it reads the answer.
 *
 * Bounded: frames of at most MAX_SYNC_FRAME_BYTES (a length prefix above it is refused before anything is buffered),
 * MAX_SYNC_SERVES requests served at once, the HELLO and request within SYNC_HANDSHAKE_TIMEOUT_MS, the answer within
 * SYNC_ANSWER_TIMEOUT_MS.
 */
import { type Deadline, deadline } from '@baran/actor/deadline'
import type { SyncAnswer, SyncRequest } from '@baran/bus'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import {
  AbortedError,
  FrameTooLargeError,
  HandshakeFailedError,
  HostStoppedError,
  InvalidArgumentError,
  MalformedFrameError,
  NoCredentialsError,
  NotOwnDeviceError,
  RevokedError,
  SyncRefusedError,
  TimeoutError,
  TransportError,
  UnreachableError,
} from './errors.ts'
import type { HelloFrame } from './frames.ts'
import type { VerifiedRemote } from './handshake.ts'
import type { Logger } from './logger.ts'
import { parseTarget } from './send.ts'
import { HelloRefusedError } from './session-errors.ts'
import { decodeSyncFrame, encodeSyncAnswer, encodeSyncRefused, encodeSyncRequest, MAX_SYNC_FRAME_BYTES, type SyncFrame, type SyncRefusal, syncHelloOf } from './sync-frames.ts'

export const SYNC_PROTOCOL = '/baran/history-sync/1.0.0'
/** Requests served at once, all peers together (each is a history read by the outbox); more are refused `busy`. */
export const MAX_SYNC_SERVES = 8
export const SYNC_HANDSHAKE_TIMEOUT_MS = 5_000
export const SYNC_ANSWER_TIMEOUT_MS = 30_000
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/** The verified other device a request came from. */
export interface SyncPeer {
  accountId: string
  deviceId: string
  peerId: string
}
export type SyncHandler = (request: SyncRequest, from: SyncPeer) => Promise<SyncAnswer>

export interface SyncTarget {
  peerId: string
  addrs?: string[]
  /** The device of this account expected at `peerId`. */
  deviceId: string
}

export interface SyncChannelDeps {
  node: Libp2p
  /** This device's HELLO (length-prefixed, as the message protocol sends it) and who it says it is; undefined without credentials. */
  self(): { hello: Uint8Array; accountId: string; deviceId: string } | undefined
  /** Checks a remote's HELLO (throws HelloRefusedError). */
  verify(hello: HelloFrame, remotePeerId: string): Promise<VerifiedRemote>
  log?: Logger
}

type SyncSelf = NonNullable<ReturnType<SyncChannelDeps['self']>>

export class SyncChannel {
  private readonly deps: SyncChannelDeps
  private handler: SyncHandler | undefined
  private active = 0
  private abort = new AbortController()
  private stopped = false

  constructor(deps: SyncChannelDeps) {
    this.deps = deps
  }

  async start(): Promise<void> {
    await this.deps.node.handle(SYNC_PROTOCOL, (stream, connection) => void this.onStream(stream, connection), {
      runOnLimitedConnection: true,
      maxInboundStreams: MAX_SYNC_SERVES,
      maxOutboundStreams: 16,
    })
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.abort.abort(new HostStoppedError())
    await this.deps.node.unhandle(SYNC_PROTOCOL).catch(() => undefined)
  }

  /** Sets what answers other own devices' requests (the outbox, through the actor). */
  onRequest(handler: SyncHandler): void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('onRequest needs a function')
    this.handler = handler
  }

  /** Asks another device of this account; resolves with its answer, or throws a TransportError saying why not. */
  async request(target: SyncTarget, request: SyncRequest, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<SyncAnswer> {
    if (this.stopped) throw new HostStoppedError()
    const self = this.deps.self()
    if (self === undefined) throw new NoCredentialsError()
    if (target.deviceId === self.deviceId) throw new InvalidArgumentError('cannot sync with this device itself')
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    const limit = deadline(timeoutMs, this.abort.signal, opts.signal)
    try {
      return await this.ask(target, request, self, limit, timeoutMs)
    } finally {
      limit.release()
    }
  }

  private async ask(target: SyncTarget, request: SyncRequest, self: SyncSelf, limit: Deadline, timeoutMs: number): Promise<SyncAnswer> {
    const { peerId, addrs } = parseTarget(target)
    const signal = limit.signal
    const failed = (err: unknown): Error => {
      if (this.stopped) return new HostStoppedError(undefined, { cause: err })
      if (limit.timedOut) return new TimeoutError(`no history sync answer from ${target.peerId} within ${timeoutMs} ms`, { cause: err })
      if (signal.aborted) return new AbortedError('history sync request aborted', { cause: err })
      if (err instanceof TransportError) return err
      return new UnreachableError(`history sync with ${target.peerId}: ${(err as Error).message}`, { cause: err })
    }
    let stream: Stream
    try {
      // Already connected: the addresses are not needed (merging them writes the peer store, each request again).
      if (addrs.length > 0 && this.deps.node.getConnections(peerId).length === 0) await this.deps.node.peerStore.merge(peerId, { multiaddrs: addrs })
      const connection = await this.deps.node.dial(peerId, { signal })
      // The HELLO and request go out with the protocol's name (this side writes first): no round trip before them.
      stream = await connection.newStream(SYNC_PROTOCOL, { signal, runOnLimitedConnection: true, negotiateFully: false })
    } catch (err) {
      throw failed(err)
    }
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
    try {
      await lp.write(syncHelloOf(self.hello), { signal })
      await lp.write(encodeSyncRequest(request), { signal })
      const hello = await readFrame(lp, signal)
      if (hello.type === 'refused') throw refusalError(hello.code, hello.reason)
      if (hello.type !== 'hello') throw new MalformedFrameError(`expected the other device's HELLO, got ${hello.type}`)
      let remote: VerifiedRemote
      try {
        remote = await this.deps.verify(hello, target.peerId)
      } catch (err) {
        if (err instanceof HelloRefusedError) throw err.closeCode === 'revoked' ? new RevokedError(err.reason, false, { cause: err }) : new HandshakeFailedError(err.reason, false, { cause: err })
        throw err
      }
      if (remote.accountId !== self.accountId) throw new NotOwnDeviceError(`${target.peerId} is a device of account ${remote.accountId}`)
      if (remote.deviceId !== target.deviceId) throw new NotOwnDeviceError(`${target.peerId} is device ${remote.deviceId}, not ${target.deviceId}`)
      const reply = await readFrame(lp, signal)
      if (reply.type === 'refused') throw refusalError(reply.code, reply.reason)
      if (reply.type !== 'answer') throw new MalformedFrameError(`expected an answer, got ${reply.type}`)
      if (reply.answer.op !== request.op) throw new MalformedFrameError(`asked ${request.op}, answered ${reply.answer.op}`)
      await stream.close({ signal }).catch((err: Error) => stream.abort(err))
      return reply.answer
    } catch (err) {
      stream.abort(err as Error)
      throw failed(err)
    }
  }

  private async onStream(stream: Stream, connection: Connection): Promise<void> {
    const whole = deadline(SYNC_HANDSHAKE_TIMEOUT_MS + SYNC_ANSWER_TIMEOUT_MS, this.abort.signal)
    const handshake = deadline(SYNC_HANDSHAKE_TIMEOUT_MS, whole.signal)
    try {
      await this.serve(stream, connection.remotePeer.toString(), whole.signal, handshake.signal)
    } finally {
      handshake.release()
      whole.release()
    }
  }

  private async serve(stream: Stream, peerId: string, signal: AbortSignal, hs: AbortSignal): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
    const refuse = async (code: SyncRefusal, reason: string) => {
      this.deps.log?.debug({ peer: peerId, code, reason }, 'history sync: refused a request')
      try {
        await lp.write(encodeSyncRefused(code, reason), { signal })
        await stream.close({ signal })
      } catch (err) {
        stream.abort(err as Error)
      }
    }
    if (this.active >= MAX_SYNC_SERVES) return refuse('busy', `more than ${MAX_SYNC_SERVES} history sync requests at once`)
    this.active++
    try {
      const self = this.deps.self()
      const handler = this.handler
      if (self === undefined || handler === undefined) return await refuse('unavailable', self === undefined ? 'this device has no credentials yet' : 'this device does not serve history sync')
      let hello: SyncFrame
      try {
        hello = await readFrame(lp, hs)
      } catch (err) {
        return await refuse(refusalOf(err), (err as Error).message)
      }
      if (hello.type !== 'hello') return await refuse('handshake_failed', `the first frame must be a HELLO, not ${hello.type}`)
      let remote: VerifiedRemote
      try {
        remote = await this.deps.verify(hello, peerId)
      } catch (err) {
        const refused = err instanceof HelloRefusedError ? err : new HelloRefusedError((err as Error).message)
        return await refuse(refused.closeCode, refused.reason)
      }
      if (remote.accountId !== self.accountId) return await refuse('not_own_device', 'history sync is only between devices of one account')
      if (remote.deviceId === self.deviceId) return await refuse('not_own_device', 'a device does not sync with itself')
      let req: SyncFrame
      try {
        req = await readFrame(lp, hs)
      } catch (err) {
        return await refuse(refusalOf(err), (err as Error).message)
      }
      if (req.type !== 'request') return await refuse('malformed_frame', `expected a request, got ${req.type}`)
      await lp.write(syncHelloOf(self.hello), { signal })
      let frame: Uint8Array
      try {
        frame = encodeSyncAnswer(await handler(req.request, { accountId: remote.accountId, deviceId: remote.deviceId, peerId }))
      } catch (err) {
        const code = (err as { code?: unknown }).code
        return await refuse(code === 'not_own_device' ? 'not_own_device' : 'unavailable', `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`)
      }
      if (frame.length > MAX_SYNC_FRAME_BYTES) return await refuse('frame_too_large', `the answer is ${frame.length} bytes, at most ${MAX_SYNC_FRAME_BYTES}`)
      await lp.write(frame, { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      this.active--
    }
  }
}

async function readFrame(lp: ReturnType<typeof lpStream>, signal: AbortSignal): Promise<SyncFrame> {
  let bytes: Uint8Array
  try {
    bytes = (await lp.read({ signal })).subarray()
  } catch (err) {
    if ((err as Error).name === 'InvalidDataLengthError') throw new FrameTooLargeError(`a frame longer than ${MAX_SYNC_FRAME_BYTES} bytes`, { cause: err })
    throw err
  }
  return decodeSyncFrame(bytes)
}

function refusalOf(err: unknown): SyncRefusal {
  if (err instanceof FrameTooLargeError) return 'frame_too_large'
  if (err instanceof TransportError && err.code === 'malformed_frame') return 'malformed_frame'
  return 'handshake_failed'
}

/** The error a REFUSED frame stands for (the remote refused us). */
function refusalError(code: SyncRefusal, reason: string): TransportError {
  switch (code) {
    case 'revoked':
      return new RevokedError(reason, true)
    case 'handshake_failed':
      return new HandshakeFailedError(reason, true)
    case 'not_own_device':
      return new NotOwnDeviceError(reason, true)
    case 'malformed_frame':
      return new MalformedFrameError(`the other device refused our frame: ${reason}`)
    case 'frame_too_large':
      return new FrameTooLargeError(`the other device refused a frame: ${reason}`)
    default:
      return new SyncRefusedError(code, reason)
  }
}
