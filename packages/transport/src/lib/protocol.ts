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
import { deadline, settleBy } from '@baran/actor/deadline'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { type VerifiedChain, verifyChain } from '@baran/trust'
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
  HostStoppedError,
  InvalidArgumentError,
  NoCredentialsError,
  TimeoutError,
  TransportError,
  UnreachableError,
} from './errors.ts'
import { refuse, StreamAdmission } from './admission.ts'
import type { HelloFrame } from './frames.ts'
import { type Credentials, helloFrameOf, type VerifiedRemote, verifyHello } from './handshake.ts'
import { type MessageProtocolInit, positiveInt } from './protocol-options.ts'
import { RevokedDevices, revokedDevicesOf } from './revocations.ts'
import { dialFailureReason, type Envelope, envelopeFrameOf, expectRemote, parseTarget, type SendOptions, type SendResult, type SendTarget } from './send.ts'
import { type AnyEnvelopeHandler, Session, SessionLostError } from './session.ts'

/** What revokeDevice() cut. */
export interface RevokedSessions {
  accountId: string
  deviceId: string
  /** Streams closed with CLOSE revoked. */
  closed: number
  /** PeerIds those streams went to. */
  peerIds: string[]
}

export class MessageProtocol {
  private readonly node: Libp2p
  private readonly init: MessageProtocolInit
  private readonly maxFrameBytes: number
  private hello: Uint8Array | undefined
  private handler: AnyEnvelopeHandler | undefined
  private readonly sessions = new Map<string, Set<Session>>()
  private readonly all = new Set<Session>()
  private readonly dialing = new Map<string, Promise<Session>>()
  /** Bounds the inbound streams still waiting for their opener's HELLO, and the streams per peer. */
  private readonly admission: StreamAdmission<Session>
  private readonly revoked = new RevokedDevices()
  /** This host's account, once its own credentials verified: its revocations are kept for good. */
  private ownAccountId: string | undefined
  /** Who this device's certificate says it is (even when its own account revoked it: the remote decides then). */
  private certified: { accountId: string; deviceId: string } | undefined
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
    const hello = helloFrameOf(creds, this.maxFrameBytes)
    let own: VerifiedChain | undefined
    try {
      own = verifyChain({ ...creds, expect: { peerId: this.node.peerId.toString() }, clockSkewMs: this.init.clockSkewMs })
    } catch (err) {
      this.init.log?.warn({ err }, 'own credentials do not verify: peers will refuse the handshake')
    }
    this.hello = hello
    const body = creds.deviceCert.body as { accountId?: unknown; deviceId?: unknown } | undefined
    this.certified = typeof body?.accountId === 'string' && typeof body.deviceId === 'string' ? { accountId: body.accountId, deviceId: body.deviceId } : undefined
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

  /** This device's HELLO and who it says it is, for the history sync channel (same credentials); undefined without any. */
  ownHello(): { hello: Uint8Array; accountId: string; deviceId: string } | undefined {
    if (this.stopped || this.hello === undefined || this.certified === undefined) return undefined
    return { hello: this.hello, ...this.certified }
  }

  /** Checks a remote's HELLO exactly as a message stream's (chain, PeerId binding, revocations); throws HelloRefusedError. */
  verifyRemote(hello: HelloFrame, remotePeerId: string): Promise<VerifiedRemote> {
    return verifyHello(hello, remotePeerId, {
      clockSkewMs: this.init.clockSkewMs,
      revoked: this.revoked,
      isRevoked: this.init.isRevoked,
      cut: (accountId, deviceId) => this.cut(accountId, deviceId),
    })
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

  onEnvelope(handler: AnyEnvelopeHandler): void {
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
    const frame = envelopeFrameOf(env, this.maxFrameBytes)
    const timeoutMs = positiveInt(opts.timeoutMs, DEFAULT_SEND_TIMEOUT_MS, 'timeoutMs')
    // released when the send is over: AbortSignal.timeout() timers cannot be cleared and pile up at high message rates
    const limit = deadline(timeoutMs, opts.signal)
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          // fast path: an open stream needs no PeerId or address parsing
          const session = this.pick(peerId) ?? (await this.sessionFor(target, limit.signal, timeoutMs))
          expectRemote(session, target)
          const t0 = performance.now()
          const status = await session.request(env.id, frame, limit.signal)
          return { status, rtt: performance.now() - t0, connection: session.kind }
        } catch (err) {
          if (this.stopped) throw new HostStoppedError(undefined, { cause: err })
          if (limit.timedOut) throw new TimeoutError(`no ACK from ${peerId} within ${timeoutMs} ms`, { cause: err })
          if (limit.signal.aborted) throw new AbortedError(undefined, { cause: opts.signal?.reason })
          // the stream died before the ACK: resend once on a new stream (the id makes it idempotent)
          if (err instanceof SessionLostError && attempt === 0) continue
          if (err instanceof TransportError) throw err
          throw new UnreachableError(`could not deliver to ${peerId}: ${(err as Error).message}`, { cause: err })
        }
      }
    } finally {
      limit.release()
    }
  }

  /** A dial in progress to the peer, or a new one (addresses are parsed only here). */
  private async sessionFor(target: SendTarget, signal: AbortSignal, timeoutMs: number): Promise<Session> {
    const key = target.peerId
    let dialing = this.dialing.get(key)
    if (dialing === undefined) {
      const { peerId, addrs } = parseTarget(target)
      // shared by concurrent senders, so it gets its own deadline rather than one caller's signal
      dialing = this.open(peerId, addrs, timeoutMs)
      const entry = dialing
      this.dialing.set(key, entry)
      entry.then(
        () => this.dialing.get(key) === entry && this.dialing.delete(key),
        () => this.dialing.get(key) === entry && this.dialing.delete(key),
      )
    }
    return settleBy(dialing, signal)
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
    let stream: Stream | undefined
    let connection: Connection | undefined
    for (let attempt = 0; stream === undefined; attempt++) {
      connection = undefined
      try {
        connection = await this.node.dial(peerId, { signal })
        // negotiateFully: false sends the protocol id together with our HELLO (saves a round trip)
        stream = await connection.newStream(PROTOCOL, { signal, runOnLimitedConnection: true, negotiateFully: false })
      } catch (err) {
        // The connection dial() handed back closed under us (an upgraded one that failed, one being pruned):
        // dial once more, which opens another one or takes the relay.
        if (attempt === 0 && !signal.aborted && connection !== undefined && connection.status !== 'open') continue
        throw new UnreachableError(`could not open a message stream to ${peerId}: ${dialFailureReason(err)}`, { cause: err })
      }
    }
    if (connection === undefined) throw new UnreachableError(`could not open a message stream to ${peerId}: no connection`)
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
      verifyHello: (hello, remotePeerId) => this.verifyRemote(hello, remotePeerId),
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
}
