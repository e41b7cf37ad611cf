/** The serving side of the bus: an actor's endpoints, each checking its contract's version, request and reply. */
import type { MsgHdrs, NatsError, Service, ServiceMsg } from 'nats'
import type { Bus } from './bus.ts'
import { decodeJson, encodeJson, issuesOf } from './codec.ts'
import type { ParsedRequestOf, ReplyInputOf, RequestContract } from './contract.ts'
import { BusError, BusErrorCode, declaresCode, reportUndeclaredCode, statusOfCode, toBusError } from './errors.ts'
import { requestSubject } from './subjects.ts'

/** The header that carries a request's contract major version. */
export const VERSION_HEADER = 'Baran-V'

export interface RequestContext {
  subject: string
  headers?: MsgHdrs
}

export type Handler<C extends RequestContract> = (
  body: ParsedRequestOf<C>,
  ctx: RequestContext,
) => ReplyInputOf<C> | Promise<ReplyInputOf<C>>

export interface ServeOptions {
  /** Called before each request is handled: throw a BusError (e.g. `unavailable`) to refuse it. */
  guard?: () => void
  /** Serve the contract for another node name (inline simulations). */
  node?: string
}

/** Handle on a served group of endpoints (one NATS micro-service per actor). */
export class ActorService {
  #service: Service
  #bus: Bus
  #inFlight = 0
  #idle: Array<() => void> = []
  readonly name: string

  constructor(bus: Bus, service: Service, name: string) {
    this.#bus = bus
    this.#service = service
    this.name = name
  }

  get inFlight(): number {
    return this.#inFlight
  }

  /** Serves one contract: validates requests and replies, maps thrown errors to error envelopes. */
  serve<C extends RequestContract>(c: C, handler: Handler<C>, opts: ServeOptions = {}): void {
    const subject = requestSubject(opts.node ?? this.#bus.node, c.actor, c.verb)
    const log = this.#bus.log
    this.#service.addEndpoint(`${c.verb}${opts.node ? `-${opts.node}` : ''}`, {
      subject,
      metadata: { contract: `${c.actor}.${c.verb}`, v: String(c.v) },
      handler: (err: NatsError | null, msg: ServiceMsg) => {
        if (err) {
          log.error({ err, subject }, 'endpoint failed')
          return
        }
        this.#inFlight++
        this.#handle(c, handler, msg, opts)
          .catch((e: unknown) => log.error({ err: e, subject }, 'could not reply'))
          .finally(() => {
            this.#inFlight--
            if (this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake()
          })
      },
    })
  }

  async #handle<C extends RequestContract>(c: C, handler: Handler<C>, msg: ServiceMsg, opts: ServeOptions): Promise<void> {
    let reply: unknown
    try {
      checkVersion(c, msg.headers)
      const parsed = c.request.safeParse(decodeJson(msg.data))
      if (!parsed.success) {
        throw new BusError(BusErrorCode.InvalidRequest, `request does not match ${c.actor}.${c.verb} v${c.v}`, {
          details: { issues: issuesOf(parsed.error) },
        })
      }
      opts.guard?.()
      const result = await handler(parsed.data as ParsedRequestOf<C>, { subject: msg.subject, headers: msg.headers })
      const checked = c.reply.safeParse(result)
      if (!checked.success) {
        this.#bus.log.error({ issues: issuesOf(checked.error), verb: c.verb }, 'handler reply breaks its contract')
        throw new BusError(BusErrorCode.Internal, `reply of ${c.actor}.${c.verb} does not match its contract`)
      }
      reply = checked.data
    } catch (e) {
      const be = toBusError(e)
      if (be.code === BusErrorCode.Internal) this.#bus.log.error({ err: e, verb: c.verb }, 'handler failed')
      else if (!declaresCode(c, be.code)) {
        this.#bus.log.warn({ code: be.code, verb: c.verb }, 'error code not declared by the contract')
        reportUndeclaredCode({ actor: c.actor, verb: c.verb, code: be.code })
      }
      msg.respondError(statusOfCode(be.code), be.message, encodeJson(be.toEnvelope()))
      return
    }
    msg.respond(encodeJson(reply ?? null))
  }

  /** Stops taking requests, then waits (up to the deadline) for the ones in flight to finish. */
  async drain(deadlineMs: number): Promise<boolean> {
    if (!this.#service.isStopped) await this.#service.stop().catch(() => undefined)
    if (this.#inFlight === 0) return true
    let timer: NodeJS.Timeout | undefined
    const idle = new Promise<boolean>((resolve) => this.#idle.push(() => resolve(true)))
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs)
    })
    const done = await Promise.race([idle, late])
    clearTimeout(timer)
    return done
  }
}

function checkVersion(c: RequestContract, h: MsgHdrs | undefined): void {
  const v = h?.get(VERSION_HEADER)
  if (v === undefined || v === '') return
  if (!/^\d+$/.test(v) || Number(v) !== c.v) {
    throw new BusError(BusErrorCode.UnsupportedVersion, `${c.actor}.${c.verb} speaks v${c.v}, not v${v}`, {
      details: { supported: [c.v], requested: v },
    })
  }
}
