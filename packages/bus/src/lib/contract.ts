import { z } from 'zod'

/** Who may call a contract: bus users are actor names plus `cli`, `ui` and `supervisor`. */
export type Caller = string

/** A request/reply contract: one subject per node, a zod schema at each end, a major version. */
export interface RequestContract<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType, Codes extends string = string> {
  readonly kind: 'request'
  readonly actor: string
  readonly verb: string
  /** Major version: a request carrying another major version is refused with `unsupported_version`. */
  readonly v: number
  readonly request: Req
  readonly reply: Res
  /** Bus users allowed to call it; the supervisor turns this into nats-server permissions. */
  readonly callers: readonly Caller[]
  readonly description: string
  /**
   * The domain error codes this verb may answer with, besides the generic ones every verb may (`BusErrorCode`):
   * a zod enum (`z.never()` when it has none), so callers switch on typed codes (`errorCodeOf`).
   */
  readonly errors: z.ZodType<Codes>
}

/** An event: published by one actor, validated by every subscriber. */
export interface EventContract<Body extends z.ZodType = z.ZodType> {
  readonly kind: 'event'
  readonly actor: string
  readonly event: string
  readonly v: number
  readonly body: Body
  /**
   * Bus users allowed to subscribe to it besides its publisher (`*`: every user); the supervisor turns this into
   * nats-server permissions. Events can carry contents (a received message's body), so name only who needs them.
   */
  readonly readers: readonly Caller[]
  readonly description: string
}

export type RequestOf<C extends RequestContract> = z.input<C['request']>
export type ParsedRequestOf<C extends RequestContract> = z.output<C['request']>
export type ReplyOf<C extends RequestContract> = z.output<C['reply']>
export type ReplyInputOf<C extends RequestContract> = z.input<C['reply']>
export type EventOf<C extends EventContract> = z.output<C['body']>
export type EventInputOf<C extends EventContract> = z.input<C['body']>

/** The domain error codes of a contract (without the generic `BusErrorCode` ones). */
export type DomainErrorOf<C extends RequestContract> = z.output<C['errors']>

export function contract<Req extends z.ZodType, Res extends z.ZodType, const Codes extends string = never>(def: {
  actor: string
  verb: string
  v?: number
  request: Req
  reply: Res
  callers: readonly Caller[]
  description: string
  /** The domain error codes the verb may answer with (see RequestContract.errors). */
  errors?: readonly Codes[]
}): RequestContract<Req, Res, Codes> {
  const { errors, ...rest } = def
  const codes = errors && errors.length > 0 ? (z.enum(errors as unknown as [Codes, ...Codes[]]) as unknown as z.ZodType<Codes>) : (z.never() as z.ZodType<Codes>)
  return Object.freeze({ kind: 'request', v: 1, ...rest, errors: codes })
}

export function event<Body extends z.ZodType>(def: {
  actor: string
  event: string
  v?: number
  body: Body
  /** Default: nobody but its publisher (an event of Baran's own contracts must name its readers). */
  readers?: readonly Caller[]
  description: string
}): EventContract<Body> {
  return Object.freeze({ kind: 'event', v: 1, readers: [], ...def })
}

/** True when the event's `readers` name `user` (its publisher reads its own subjects anyway). */
export function canRead(c: EventContract, user: Caller): boolean {
  return c.readers.includes('*') || c.readers.includes(user)
}
