/**
 * The `/baran/msg/1.0.0` endpoint of a libp2p node: answers inbound streams, keeps one verified
 * stream per peer for outgoing envelopes (reused, reopened when closed) and turns every failure
 * into a typed error.
 *
 * Smaller surface: the opener of a stream proves itself first. The dialler chose the PeerId it dials (from a
 * verified presence record) and Noise authenticated it, so its HELLO goes only where it meant it to; the side
 * that accepts a stream sends its certificate and binding only after the opener's HELLO verified. A peer that
 * opens a stream and proves nothing reads a CLOSE frame and nothing else, and it can hold only a few such
 * streams (per peer and in total) for at most the handshake timeout.
 */
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { decodeRecord, encodeRecord, isTrustError, type SignedRecord, verifyChain } from '@baran/trust'
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_STREAMS_PER_PEER,
  DEFAULT_MAX_UNVERIFIED_STREAMS,
  DEFAULT_MAX_UNVERIFIED_STREAMS_PER_PEER,
  DEFAULT_SEND_TIMEOUT_MS,
  PROTOCOL,
} from './constants.ts'
import {
  AbortedError,
  FrameTooLargeError,
  HandshakeFailedError,
  HostStoppedError,
  InvalidArgumentError,
  InvalidEnvelopeError,
  NoCredentialsError,
  TimeoutError,
  TransportError,
  UnreachableError,
} from './errors.ts'
import { encodeFrame, type HelloFrame } from './frames.ts'
import type { Logger } from './logger.ts'
import { refuse, StreamAdmission } from './admission.ts'
import { RevokedDevices, revokedDevicesOf } from './revocations.ts'
import { type EnvelopeHandler, HelloRefusedError, Session, SessionLostError } from './session.ts'
import type { VerifiedChain } from '@baran/trust'

/** This device's credentials, issued (signed) by the identity actor. */
export interface Credentials {
  /** 'device-cert' signed by the account key. */
  deviceCert: SignedRecord
  /** 'peer-binding' signed by the device key, for this host's PeerId. */
  peerBinding: SignedRecord
  /** The account's 'revocations' record, if it has one. */
  revocations?: SignedRecord
}

/** Revocation policy injected by the caller (e.g. the revocation lists learnt from presence). */
export type IsRevoked = (accountId: string, deviceId: string) => boolean | Promise<boolean>

export interface MessageProtocolInit {
  credentials?: Credentials
  isRevoked?: IsRevoked
  /** @default 262144 (256 KiB) */
  maxFrameBytes?: number
  /** @default 30000 */
  idleTimeoutMs?: number
  /** @default 5000 */
  handshakeTimeoutMs?: number
  /** Envelope handlers running at once per stream before the stream is paused. @default 64 */
  maxInFlight?: number
  /** Clock skew tolerated when verifying the remote's records. @default 60000 (trust's default) */
  clockSkewMs?: number
  /** Inbound streams of one peer that may wait for its HELLO at once; more are refused. @default 4 */
  maxUnverifiedStreamsPerPeer?: number
  /** Inbound streams of all peers that may wait for a HELLO at once; more are refused. @default 64 */
  maxUnverifiedStreams?: number
  /** Verified streams with one peer; its further inbound streams are refused. @default 16 */
  maxStreamsPerPeer?: number
  log?: Logger
}

/** What revokeDevice() cut. */
export interface RevokedSessions {
  accountId: string
  deviceId: string
  /** Streams closed with CLOSE revoked. */
  closed: number
  /** PeerIds those streams went to. */
  peerIds: string[]
}

export interface SendTarget {
  /** The receiver's PeerId (string form). */
  peerId: string
  /** Multiaddrs to try (direct or `/p2p-circuit`); added to the peer store before dialling. */
  addrs?: string[]
  /** The account the receiver must be a device of (a PeerId bound to another is refused). */
  accountId?: string
  /** The device the receiver must be. */
  deviceId?: string
}

export interface Envelope {
  /** 1..64 bytes of UTF-8; the receiver de-duplicates by it. */
  id: string
  payload: Uint8Array
}

export interface SendOptions {
  /** Overall deadline: dial + handshake + ACK. @default 10000 */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface SendResult {
  status: 'stored' | 'duplicate'
  /** ms from writing the ENVELOPE to receiving its ACK (dial and handshake excluded). */
  rtt: number
  connection: 'direct' | 'relayed'
}

/** Settles with `p`, or rejects with the signal's reason once it aborts. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

export class MessageProtocol {
  private readonly node: Libp2p
  private readonly init: MessageProtocolInit
  private readonly maxFrameBytes: number
  private hello: Uint8Array | undefined
  private handler: EnvelopeHandler | undefined
  private readonly sessions = new Map<string, Set<Session>>()
  private readonly all = new Set<Session>()
  private readonly dialing = new Map<string, Promise<Session>>()
  /** Bounds the inbound streams still waiting for their opener's HELLO, and the streams per peer. */
  private readonly admission: StreamAdmission<Session>
  private readonly revoked = new RevokedDevices()
  /** This host's account, once its own credentials verified: its revocations are kept for good. */
  private ownAccountId: string | undefined
  private readonly revokedListeners = new Set<(r: RevokedSessions) => void>()
  private stopped = false
  private readonly selfId: string
  /**
   * Direct connections found beside a relayed message stream (a relayed connection upgraded by
   * WebRTC) on which a stream was tried: once per connection, so a direct connection that refuses
   * streams does not fail every send. Weak: entries go with their connections.
   */
  private readonly triedDirect = new WeakSet<Connection>()

  constructor(node: Libp2p, init: MessageProtocolInit = {}) {
    this.node = node
    this.selfId = node.peerId.toString()
    this.init = init
    this.maxFrameBytes = positiveInt(init.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes')
    positiveInt(init.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS, 'idleTimeoutMs')
    positiveInt(init.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 'handshakeTimeoutMs')
    positiveInt(init.maxInFlight, DEFAULT_MAX_IN_FLIGHT, 'maxInFlight')
    this.admission = new StreamAdmission({
      unverifiedPerPeer: positiveInt(init.maxUnverifiedStreamsPerPeer, DEFAULT_MAX_UNVERIFIED_STREAMS_PER_PEER, 'maxUnverifiedStreamsPerPeer'),
      unverified: positiveInt(init.maxUnverifiedStreams, DEFAULT_MAX_UNVERIFIED_STREAMS, 'maxUnverifiedStreams'),
      verifiedPerPeer: positiveInt(init.maxStreamsPerPeer, DEFAULT_MAX_STREAMS_PER_PEER, 'maxStreamsPerPeer'),
    })
    if (init.credentials !== undefined) this.setCredentials(init.credentials)
  }

  async start(): Promise<void> {
    await this.node.handle(PROTOCOL, (stream, connection) => this.onInboundStream(stream, connection), {
      runOnLimitedConnection: true,
    })
  }

  /** Closes every stream with CLOSE going_away; pending sends fail with HostStoppedError. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const s of [...this.all]) s.close('going_away', 'host is stopping')
    await this.node.unhandle(PROTOCOL).catch(() => {})
  }

  /**
   * Replaces this device's credentials (they get renewed); new streams use them. A chain that
   * does not verify locally is still used (the remote will refuse it) but logged as a warning.
   */
  setCredentials(creds: Credentials): void {
    if (typeof creds !== 'object' || creds === null) throw new InvalidArgumentError('credentials must be an object')
    const hello = encodeFrame(
      {
        type: 'hello',
        deviceCert: encodeRecord(creds.deviceCert),
        peerBinding: encodeRecord(creds.peerBinding),
        revocations: creds.revocations === undefined ? undefined : encodeRecord(creds.revocations),
      },
      this.maxFrameBytes,
    )
    let own: VerifiedChain | undefined
    try {
      own = verifyChain({ ...creds, expect: { peerId: this.node.peerId.toString() }, clockSkewMs: this.init.clockSkewMs })
    } catch (err) {
      this.init.log?.warn({ err }, 'own credentials do not verify: peers will refuse the handshake')
    }
    this.hello = hello
    // our own account's revocations (checked by verifyChain above): those devices are cut and refused from now on
    if (own !== undefined) {
      this.ownAccountId = own.accountId
      for (const d of revokedDevicesOf(creds.revocations)) this.revokeDevice(own.accountId, d)
    }
  }

  /**
   * A device was revoked by its account after its handshake: closes every stream bound to it (CLOSE revoked; its
   * pending sends and ours fail with RevokedError) and refuses its HELLO from now on. Idempotent.
   */
  revokeDevice(accountId: string, deviceId: string): RevokedSessions {
    if (typeof accountId !== 'string' || typeof deviceId !== 'string') throw new InvalidArgumentError('revokeDevice needs an accountId and a deviceId')
    return this.cut(accountId, deviceId)
  }

  /** Called with what each revocation cut (only when it closed at least one stream); returns an unsubscribe function. */
  onRevoked(cb: (r: RevokedSessions) => void): () => void {
    this.revokedListeners.add(cb)
    return () => this.revokedListeners.delete(cb)
  }

  /** Whether this host refuses the device as revoked (told so, or learnt from a HELLO). */
  isKnownRevoked(accountId: string, deviceId: string): boolean {
    return this.revoked.has(accountId, deviceId)
  }

  /** The verified remotes of the open streams (one entry per device and PeerId). */
  remotes(): Array<{ peerId: string; accountId: string; deviceId: string }> {
    const out = new Map<string, { peerId: string; accountId: string; deviceId: string }>()
    for (const s of this.all) {
      if (s.remote === undefined) continue
      out.set(`${s.remotePeer}/${s.remote.deviceId}`, { peerId: s.remotePeer, accountId: s.remote.accountId, deviceId: s.remote.deviceId })
    }
    return [...out.values()]
  }

  private cut(accountId: string, deviceId: string): RevokedSessions {
    // a device known revoked before cannot have a stream now (its HELLO is refused): only a new one is looked for,
    // so a HELLO listing thousands of known revocations costs no scan of the streams
    const isNew = this.revoked.add(accountId, deviceId, accountId === this.ownAccountId)
    const reason = `revoked: device ${deviceId} of account ${accountId}`
    const hit = isNew ? [...this.all].filter((s) => s.isDevice(accountId, deviceId)) : []
    for (const s of hit) s.revoke(reason)
    const r: RevokedSessions = { accountId, deviceId, closed: hit.length, peerIds: [...new Set(hit.map((s) => s.remotePeer))] }
    if (hit.length > 0) {
      this.init.log?.warn({ accountId, deviceId, streams: hit.length, peerIds: r.peerIds }, 'closed the streams of a revoked device')
      for (const cb of this.revokedListeners) {
        try {
          cb(r)
        } catch (err) {
          this.init.log?.error({ err }, 'revocation listener threw')
        }
      }
    }
    return r
  }

  onEnvelope(handler: EnvelopeHandler): void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('onEnvelope needs a function')
    this.handler = handler
  }

  /** Number of message streams currently open (handshaking or verified). */
  get streamCount(): number {
    return this.all.size
  }

  async send(target: SendTarget, env: Envelope, opts: SendOptions = {}): Promise<SendResult> {
    if (this.stopped) throw new HostStoppedError()
    if (this.hello === undefined) throw new NoCredentialsError()
    if (typeof target !== 'object' || target === null || typeof target.peerId !== 'string') {
      throw new InvalidArgumentError('target must be { peerId: string, addrs?: string[] }')
    }
    const peerId = target.peerId
    if (peerId === this.selfId) throw new InvalidArgumentError('cannot send to this host itself')
    if (typeof env !== 'object' || env === null) throw new InvalidEnvelopeError('envelope must be an object')
    let frame: Uint8Array
    try {
      frame = encodeFrame({ type: 'envelope', id: env.id, payload: env.payload }, this.maxFrameBytes)
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        throw new InvalidEnvelopeError(`payload does not fit in a ${this.maxFrameBytes}-byte frame`, { cause: err })
      }
      throw err
    }
    const timeoutMs = positiveInt(opts.timeoutMs, DEFAULT_SEND_TIMEOUT_MS, 'timeoutMs')
    // one cleared timer per send: AbortSignal.timeout() timers cannot be cleared and pile up at
    // high message rates
    const ctl = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      ctl.abort(new TimeoutError())
    }, timeoutMs)
    const onAbort = () => ctl.abort(opts.signal?.reason)
    if (opts.signal?.aborted) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })

    try {
      for (let attempt = 0; ; attempt++) {
        try {
          // fast path: an open stream needs no PeerId or address parsing
          const session = this.pick(peerId) ?? (await this.sessionFor(target, ctl.signal, timeoutMs))
          expectRemote(session, target)
          const t0 = performance.now()
          const status = await session.request(env.id, frame, ctl.signal)
          return { status, rtt: performance.now() - t0, connection: session.kind }
        } catch (err) {
          if (this.stopped) throw new HostStoppedError(undefined, { cause: err })
          if (timedOut) throw new TimeoutError(`no ACK from ${peerId} within ${timeoutMs} ms`, { cause: err })
          if (ctl.signal.aborted) throw new AbortedError(undefined, { cause: opts.signal?.reason })
          // the stream died before the ACK: resend once on a new stream (the id makes it idempotent)
          if (err instanceof SessionLostError && attempt === 0) continue
          if (err instanceof TransportError) throw err
          throw new UnreachableError(`could not deliver to ${peerId}: ${(err as Error).message}`, { cause: err })
        }
      }
    } finally {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
    }
  }

  private parseTarget(target: SendTarget): { peerId: PeerId; addrs: Multiaddr[] } {
    let peerId: PeerId
    try {
      peerId = peerIdFromString(target.peerId)
    } catch (err) {
      throw new InvalidArgumentError(`not a PeerId: ${target.peerId}`, { cause: err })
    }
    if (target.addrs !== undefined && !Array.isArray(target.addrs)) {
      throw new InvalidArgumentError('target.addrs must be an array of multiaddrs')
    }
    const addrs: Multiaddr[] = []
    for (const a of target.addrs ?? []) {
      try {
        addrs.push(multiaddr(a))
      } catch (err) {
        throw new InvalidArgumentError(`not a multiaddr: ${String(a)}`, { cause: err })
      }
    }
    return { peerId, addrs }
  }

  /** A dial in progress to the peer, or a new one (addresses are parsed only here). */
  private async sessionFor(target: SendTarget, signal: AbortSignal, timeoutMs: number): Promise<Session> {
    const key = target.peerId
    let dialing = this.dialing.get(key)
    if (dialing === undefined) {
      const { peerId, addrs } = this.parseTarget(target)
      // shared by concurrent senders, so it gets its own deadline rather than one caller's signal
      dialing = this.open(peerId, addrs, timeoutMs)
      const entry = dialing
      this.dialing.set(key, entry)
      entry.then(
        () => this.dialing.get(key) === entry && this.dialing.delete(key),
        () => this.dialing.get(key) === entry && this.dialing.delete(key),
      )
    }
    return raceSignal(dialing, signal)
  }

  private pick(peer: string): Session | undefined {
    let relayed: Session | undefined
    for (const s of this.sessions.get(peer) ?? []) {
      if (!s.isOpen) continue
      if (s.kind === 'direct') return s
      relayed ??= s
    }
    // upgraded: open a stream on the new direct connection (dial() returns it), once; envelopes in
    // flight on the relayed stream finish there, and a resend after a loss is deduplicated by id
    if (relayed !== undefined) {
      const direct = this.node.getConnections(relayed.connection.remotePeer).find((c) => c.direct && c.status === 'open')
      if (direct !== undefined && !this.triedDirect.has(direct)) {
        this.triedDirect.add(direct)
        return undefined
      }
    }
    return relayed
  }

  private async open(peerId: PeerId, addrs: Multiaddr[], timeoutMs: number): Promise<Session> {
    if (addrs.length > 0) await this.node.peerStore.merge(peerId, { multiaddrs: addrs })
    const signal = AbortSignal.timeout(timeoutMs)
    let stream: Stream
    let connection: Connection
    try {
      connection = await this.node.dial(peerId, { signal })
      // negotiateFully: false sends the protocol id together with our HELLO (saves a round trip)
      stream = await connection.newStream(PROTOCOL, { signal, runOnLimitedConnection: true, negotiateFully: false })
    } catch (err) {
      throw new UnreachableError(`could not open a message stream to ${peerId}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    if (this.stopped) {
      stream.abort(new HostStoppedError())
      throw new HostStoppedError()
    }
    const session = this.createSession(stream, connection, 'opener')
    await session.ready
    return session
  }

  private onInboundStream(stream: Stream, connection: Connection): void {
    if (this.stopped || this.hello === undefined) {
      refuse(stream, this.stopped ? 'going_away' : 'handshake_failed', this.stopped ? 'host is stopping' : 'receiver has no credentials yet', this.maxFrameBytes)
      return
    }
    const peer = connection.remotePeer.toString()
    const tooMany = this.admission.refusal(peer, this.sessions.get(peer)?.size ?? 0)
    if (tooMany !== undefined) {
      this.init.log?.debug({ peer, reason: tooMany }, 'refused a message stream')
      refuse(stream, 'too_many_streams', tooMany, this.maxFrameBytes)
      return
    }
    const session = this.createSession(stream, connection, 'acceptor')
    // counted until it verifies or ends (onReady/onClose settle it)
    if (session.usable) this.admission.admit(peer, session)
  }

  private createSession(stream: Stream, connection: Connection, role: 'opener' | 'acceptor'): Session {
    const session = new Session({
      stream,
      connection,
      role,
      hello: this.hello!,
      verifyHello: (hello, remotePeerId) => this.verifyHello(hello, remotePeerId),
      handler: () => this.handler,
      maxFrameBytes: this.maxFrameBytes,
      idleTimeoutMs: this.init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      handshakeTimeoutMs: this.init.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      maxInFlight: this.init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      log: this.init.log,
      onReady: (s) => {
        this.admission.settle(s.remotePeer, s)
        const set = this.sessions.get(s.remotePeer) ?? new Set<Session>()
        this.sessions.set(s.remotePeer, set)
        set.add(s)
      },
      onClose: (s) => {
        this.admission.settle(s.remotePeer, s)
        this.all.delete(s)
        const set = this.sessions.get(s.remotePeer)
        set?.delete(s)
        if (set?.size === 0) this.sessions.delete(s.remotePeer)
      },
    })
    this.all.add(session)
    return session
  }

  /** Checks the remote's HELLO: chain bound to the Noise-authenticated PeerId, then the revocation policy. */
  private async verifyHello(hello: HelloFrame, remotePeerId: string): Promise<VerifiedChain & { peerId: string }> {
    let chain: VerifiedChain
    let revocations: SignedRecord | undefined
    try {
      revocations = hello.revocations === undefined ? undefined : decodeRecord(hello.revocations)
      chain = verifyChain({
        deviceCert: decodeRecord(hello.deviceCert),
        peerBinding: decodeRecord(hello.peerBinding),
        revocations,
        expect: { peerId: remotePeerId },
        clockSkewMs: this.init.clockSkewMs,
      })
    } catch (err) {
      const reason = isTrustError(err) ? `${err.code}: ${err.message}` : 'invalid credentials'
      throw new HelloRefusedError(reason, { cause: err, closeCode: isTrustError(err) && err.code === 'revoked' ? 'revoked' : 'handshake_failed' })
    }
    // the account's own revocation list came with it (its signature just checked): cut those siblings too
    for (const d of revokedDevicesOf(revocations)) this.cut(chain.accountId, d)
    if (this.revoked.has(chain.accountId, chain.deviceId)) {
      throw new HelloRefusedError(`revoked: device ${chain.deviceId} of account ${chain.accountId}`, { closeCode: 'revoked' })
    }
    const isRevoked = this.init.isRevoked
    if (isRevoked !== undefined) {
      let revoked: boolean
      try {
        revoked = await isRevoked(chain.accountId, chain.deviceId)
      } catch (err) {
        // fail closed: a device we cannot check is not trusted
        throw new HelloRefusedError('revocation check failed', { cause: err })
      }
      // it may have been revoked while the policy was being asked
      if (revoked || this.revoked.has(chain.accountId, chain.deviceId)) {
        throw new HelloRefusedError(`revoked: device ${chain.deviceId} of account ${chain.accountId}`, { closeCode: 'revoked' })
      }
    }
    return { ...chain, peerId: remotePeerId }
  }
}

/** Throws HandshakeFailedError when the send names an account or device the session's remote is not. */
function expectRemote(session: Session, target: SendTarget): void {
  const remote = session.remote
  if (remote === undefined || (target.accountId === undefined && target.deviceId === undefined)) return
  if ((target.accountId ?? remote.accountId) === remote.accountId && (target.deviceId ?? remote.deviceId) === remote.deviceId) return
  throw new HandshakeFailedError(
    `peer ${session.remotePeer} is device ${remote.deviceId} of account ${remote.accountId}, not the expected ${target.deviceId ?? 'device'} of ${target.accountId ?? 'the account'}`,
  )
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`)
  return value
}
