import { connect, ErrorCode, headers as natsHeaders } from 'nats'
import type { Msg, MsgHdrs, NatsConnection, NatsError, Subscription } from 'nats'
import { decodeJson, encodeJson, issuesOf } from './codec.ts'
import type { EventContract, EventInputOf, EventOf, ReplyOf, RequestContract, RequestOf } from './contract.ts'
import { BusError, BusErrorCode, declaresCode, type ErrorEnvelope, reportUndeclaredCode, toBusError } from './errors.ts'
import { ActorService, VERSION_HEADER } from './actor-service.ts'
import { KvBucket, type KvBucketOptions } from './kv.ts'
import { ReplyRouter } from './replies.ts'
import { eventSubject, requestSubject } from './subjects.ts'

const SERVICE_ERROR_HEADER = 'Nats-Service-Error'
const SERVICE_ERROR_CODE_HEADER = 'Nats-Service-Error-Code'

/** The smallest logger the bus needs (pino satisfies it). */
export interface BusLogger {
  debug(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}
const silent: BusLogger = { debug() {}, warn() {}, error() {} }

export interface BusOptions {
  /** nats:// URL(s) of the node's bus. */
  servers: string | string[]
  /** This node's name: the default `<node>` of every subject. */
  node: string
  user?: string
  pass?: string
  /** Client name shown by the server (`baran-<node>-<actor>`). */
  name?: string
  /** Reply inbox prefix; defaults to `_INBOX_<user>` so each bus user can only read its own replies. */
  inboxPrefix?: string
  /** Keep retrying the first connection instead of failing (the actor runtime retries itself). */
  waitOnFirstConnect?: boolean
  /** Milliseconds between reconnect attempts (jittered). */
  reconnectTimeWaitMs?: number
  /** Default request timeout. */
  timeoutMs?: number
  /** How long the first connection may take (a busy event loop, e.g. many simulated nodes, needs longer). @default 2000 */
  connectTimeoutMs?: number
  log?: BusLogger
}

export type BusStatus = 'disconnected' | 'reconnecting' | 'reconnected' | 'closed' | 'error'

export interface RequestOptions {
  timeoutMs?: number
  /** Target node (default: this bus's node). */
  node?: string
  signal?: AbortSignal
}

export interface EventMeta {
  subject: string
  node: string
  actor: string
}

export interface SubscribeOptions {
  /** Node to listen to; `*` for every node (default: this bus's node). */
  node?: string
  /** Actor to listen to, or `*` (default: the contract's actor). */
  actor?: string
  /** Called for a message that fails validation (it is dropped, never delivered). */
  onInvalid?: (error: BusError, subject: string) => void
}

/** Each bus user reads only its own replies (`_INBOX_<user>`, the bus permissions say so). */
function inboxPrefixOf(opts: BusOptions): string {
  return opts.inboxPrefix ?? (opts.user ? `_INBOX_${opts.user}` : '_INBOX')
}

/** A typed client over one NATS connection: the only place in Baran that touches the NATS client. */
export class Bus {
  readonly node: string
  readonly log: BusLogger
  #nc: NatsConnection
  #timeoutMs: number
  #inboxPrefix: string
  /** Where this connection's requests get their replies (replies.ts: nats.js's own request costs more per call). */
  #replies: ReplyRouter
  #statusListeners = new Set<(s: BusStatus, detail?: string) => void>()
  #statusNow: BusStatus = 'reconnected'

  private constructor(nc: NatsConnection, opts: BusOptions) {
    this.#nc = nc
    this.node = opts.node
    this.log = opts.log ?? silent
    this.#timeoutMs = opts.timeoutMs ?? 5000
    this.#inboxPrefix = inboxPrefixOf(opts)
    this.#replies = new ReplyRouter(nc, this.#inboxPrefix)
    void this.#watchStatus()
  }

  static async connect(opts: BusOptions): Promise<Bus> {
    const user = opts.user
    try {
      const nc = await connect({
        servers: opts.servers,
        ...(user === undefined ? {} : { user, pass: opts.pass ?? '' }),
        name: opts.name ?? `baran-${opts.node}`,
        inboxPrefix: inboxPrefixOf(opts),
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: opts.reconnectTimeWaitMs ?? 250,
        reconnectJitter: 100,
        waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
        timeout: opts.connectTimeoutMs ?? 2000,
        pingInterval: 10_000,
        // Without it nats.js captures two stack traces per request (one for a timeout that rarely comes): 14 % of
        // a busy outbox's CPU. Our errors are BusErrors made where the request was awaited.
        noAsyncTraces: true,
      })
      return new Bus(nc, opts)
    } catch (e) {
      const ne = e as NatsError
      if (ne?.code === ErrorCode.AuthorizationViolation) {
        throw new BusError(BusErrorCode.Forbidden, `bus refused user ${user ?? '(none)'}`, { cause: e })
      }
      throw new BusError(BusErrorCode.Unavailable, `cannot reach the bus at ${String(opts.servers)}: ${ne?.message ?? e}`, { cause: e })
    }
  }

  /** False while the connection is lost (NATS keeps reconnecting) and after close. */
  get connected(): boolean {
    return !this.#nc.isClosed() && this.#statusNow !== 'disconnected' && this.#statusNow !== 'reconnecting'
  }

  /** Listen to connection changes (the actor runtime turns them into degraded/ready). */
  onStatus(listener: (s: BusStatus, detail?: string) => void): () => void {
    this.#statusListeners.add(listener)
    return () => this.#statusListeners.delete(listener)
  }

  async #watchStatus(): Promise<void> {
    const emit = (s: BusStatus, detail?: string) => {
      this.#statusNow = s
      for (const l of this.#statusListeners) l(s, detail)
    }
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') emit('disconnected', String(s.data))
      else if (s.type === 'reconnect') emit('reconnected', String(s.data))
      else if (s.type === 'reconnecting') emit('reconnecting')
      else if (s.type === 'error') {
        // A refused publish fails the request that made it (the server says which subject, not which request).
        if (s.permissionContext?.operation === 'publish') this.#replies.refused(s.permissionContext.subject)
        emit('error', String(s.data))
      }
    }
  }

  /** Sends a typed request and returns the validated reply, or throws a BusError. */
  async request<C extends RequestContract>(c: C, body: RequestOf<C>, opts: RequestOptions = {}): Promise<ReplyOf<C>> {
    const parsed = c.request.safeParse(body)
    if (!parsed.success) {
      throw new BusError(BusErrorCode.InvalidRequest, `request does not match ${c.actor}.${c.verb} v${c.v}`, {
        details: { issues: issuesOf(parsed.error) },
      })
    }
    const h = natsHeaders()
    h.set(VERSION_HEADER, String(c.v))
    const subject = requestSubject(opts.node ?? this.node, c.actor, c.verb)
    const msg = await this.#request(subject, encodeJson(parsed.data), h, opts)
    const failure = errorOf(msg)
    if (failure) {
      // A code the contract does not declare reaches the caller unchanged; conformance suites listen for it.
      if (!declaresCode(c, failure.code)) reportUndeclaredCode({ actor: c.actor, verb: c.verb, code: failure.code })
      throw failure
    }
    const reply = c.reply.safeParse(decodeJson(msg.data, BusErrorCode.InvalidReply))
    if (!reply.success) {
      throw new BusError(BusErrorCode.InvalidReply, `reply does not match ${c.actor}.${c.verb} v${c.v}`, {
        details: { issues: issuesOf(reply.error) },
      })
    }
    return reply.data as ReplyOf<C>
  }

  /**
   * Sends raw bytes to a subject and returns the raw reply (or its error envelope). For gateways, fuzzing and
   * tools that relay bodies they do not interpret; everything else uses `request`.
   */
  async requestRaw(subject: string, data: Uint8Array, opts: RequestOptions & { version?: number } = {}): Promise<{ data: Uint8Array; error?: BusError }> {
    let h: MsgHdrs | undefined
    if (opts.version !== undefined) {
      h = natsHeaders()
      h.set(VERSION_HEADER, String(opts.version))
    }
    const msg = await this.#request(subject, data, h, opts)
    const error = errorOf(msg)
    return error ? { data: msg.data, error } : { data: msg.data }
  }

  #request(subject: string, data: Uint8Array, h: MsgHdrs | undefined, opts: RequestOptions): Promise<Msg> {
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs
    return this.#replies.request(subject, data, { timeoutMs, ...(h ? { headers: h } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })
  }

  /** Publishes a validated event; an invalid body is a programming error and throws `invalid_request`. */
  publish<C extends EventContract>(c: C, body: EventInputOf<C>, opts: { node?: string; actor?: string } = {}): void {
    const parsed = c.body.safeParse(body)
    if (!parsed.success) {
      throw new BusError(BusErrorCode.InvalidRequest, `event does not match ${c.actor}.evt.${c.event} v${c.v}`, {
        details: { issues: issuesOf(parsed.error) },
      })
    }
    if (this.#nc.isClosed()) return
    this.#nc.publish(eventSubject(opts.node ?? this.node, opts.actor ?? c.actor, c.event), encodeJson(parsed.data))
  }

  /**
   * Subscribes to an event. Resolves once the server accepted the subscription; a subscription the bus user
   * may not make rejects with `forbidden`. Invalid messages are dropped and reported to `onInvalid`.
   */
  async subscribe<C extends EventContract>(
    c: C,
    handler: (body: EventOf<C>, meta: EventMeta) => void | Promise<void>,
    opts: SubscribeOptions = {},
  ): Promise<{ unsubscribe(): void }> {
    const subject = eventSubject(opts.node ?? this.node, opts.actor ?? c.actor, c.event)
    return this.#subscribe(subject, (msg) => {
      let body: unknown
      try {
        body = decodeJson(msg.data)
      } catch (e) {
        opts.onInvalid?.(toBusError(e), msg.subject)
        return
      }
      const parsed = c.body.safeParse(body)
      if (!parsed.success) {
        opts.onInvalid?.(
          new BusError(BusErrorCode.InvalidRequest, `event does not match ${c.actor}.evt.${c.event}`, { details: { issues: issuesOf(parsed.error) } }),
          msg.subject,
        )
        return
      }
      const [, node = '', actor = ''] = msg.subject.split('.')
      Promise.resolve()
        .then(() => handler(parsed.data as EventOf<C>, { subject: msg.subject, node, actor }))
        .catch((e: unknown) => this.log.error({ err: e, subject: msg.subject }, 'event handler failed'))
    })
  }

  /** Subscribes to raw subjects (gateways, tools). Same permission check as `subscribe`. */
  async subscribeRaw(subject: string, handler: (subject: string, data: Uint8Array) => void): Promise<{ unsubscribe(): void }> {
    return this.#subscribe(subject, (msg) => handler(msg.subject, msg.data))
  }

  async #subscribe(subject: string, onMsg: (msg: Msg) => void): Promise<{ unsubscribe(): void }> {
    let refused: NatsError | undefined
    const sub: Subscription = this.#nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          refused = err
          this.log.warn({ err, subject }, 'subscription closed by the bus')
          return
        }
        onMsg(msg)
      },
    })
    // The server answers a refused SUB with -ERR before the PONG of this flush.
    await this.#nc.flush()
    if (refused) throw subscriptionError(refused, subject)
    return { unsubscribe: () => sub.unsubscribe() }
  }

  /** Starts a NATS micro-service for an actor: `$SRV.PING/INFO/STATS` discovery comes with it. */
  async service(def: { name: string; version: string; description?: string; metadata?: Record<string, string> }): Promise<ActorService> {
    const svc = await this.#nc.services.add({
      name: def.name,
      version: def.version,
      description: def.description ?? `baran ${def.name} actor`,
      metadata: { node: this.node, ...def.metadata },
    })
    return new ActorService(this, svc, def.name)
  }

  /** Opens (or creates) a durable JetStream key/value bucket. */
  kv(bucket: string, opts?: KvBucketOptions): Promise<KvBucket> {
    return KvBucket.open(this.#nc, bucket, opts ?? {}, this.#inboxPrefix, this.#replies)
  }

  /** Waits until the server has processed everything sent so far. */
  async flush(): Promise<void> {
    await this.#nc.flush()
  }

  /** Lets in-flight messages finish, then closes. */
  async drain(): Promise<void> {
    if (this.#nc.isClosed() || this.#nc.isDraining()) return
    await this.#nc.drain().catch(() => this.#nc.close())
  }

  async close(): Promise<void> {
    if (!this.#nc.isClosed()) await this.#nc.close()
  }

  /** Resolves when the connection is closed for good. */
  closed(): Promise<void> {
    return this.#nc.closed().then(() => undefined)
  }

  get serverUrl(): string {
    return this.#nc.getServer()
  }
}

function errorOf(msg: Msg): BusError | undefined {
  const code = msg.headers?.get(SERVICE_ERROR_CODE_HEADER)
  if (!code) return undefined
  let envelope: ErrorEnvelope | undefined
  try {
    envelope = decodeJson(msg.data) as ErrorEnvelope
  } catch {
    envelope = undefined
  }
  const e = envelope?.error
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    return new BusError(e.code, e.message, { details: e.details })
  }
  // A foreign NATS service: keep its description.
  return new BusError(BusErrorCode.Internal, msg.headers?.get(SERVICE_ERROR_HEADER) || `service error ${code}`)
}

/** Why the server ended a subscription (requests fail in replies.ts). */
function subscriptionError(e: NatsError, subject: string): BusError {
  switch (e.code) {
    case ErrorCode.PermissionsViolation:
      return new BusError(BusErrorCode.Forbidden, `the bus refused this user access to ${subject}`, { cause: e })
    case ErrorCode.ConnectionClosed:
      return new BusError(BusErrorCode.Closed, 'bus connection is closed', { cause: e })
    case ErrorCode.Disconnect:
    case ErrorCode.ConnectionRefused:
      return new BusError(BusErrorCode.Unavailable, `bus unavailable: ${e.message}`, { cause: e })
    default:
      return new BusError(BusErrorCode.Internal, e.message, { cause: e })
  }
}
