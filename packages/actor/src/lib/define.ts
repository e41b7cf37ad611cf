import type { Bus, BusOptions, EventContract, EventInputOf, EventMeta, EventOf, Handler, RequestContract, SubscribeOptions } from '@baran/bus'
import type { z } from 'zod'
import type { Logger } from './logger.ts'

export interface ServeOptions {
  /** Serve the request while the actor is degraded (default: refuse with `unavailable`). */
  whenDegraded?: 'serve' | 'refuse'
  /**
   * Serve the request while the actor is degraded only by these reasons (any other reason refuses it): for a
   * degradation the request itself can work around, e.g. a DHT node cut off from its bootstrap peers still
   * answers from its own store.
   */
  servedWhileDegradedBy?: readonly string[]
}

/** What an actor's `start` gets: its config, its bus, its data dir, and ways to report its own health. */
export interface ActorContext<Config> {
  readonly node: string
  readonly name: string
  readonly config: Config
  /** The node's data directory (each actor keeps its files in `<dataDir>/<actor>`). */
  readonly dataDir: string
  readonly log: Logger
  readonly bus: Bus
  /** Aborted when the actor stops: pass it to long work so a stop cancels it. */
  readonly signal: AbortSignal
  serve<C extends RequestContract>(contract: C, handler: Handler<C>, opts?: ServeOptions): void
  publish<C extends EventContract>(contract: C, body: EventInputOf<C>): void
  subscribe<C extends EventContract>(
    contract: C,
    handler: (body: EventOf<C>, meta: EventMeta) => void | Promise<void>,
    opts?: SubscribeOptions,
  ): Promise<{ unsubscribe(): void }>
  /** A dependency is down (chain, DHT…): the actor goes `degraded` until `recover(reason)`. */
  degrade(reason: string): void
  recover(reason: string): void
}

/** What `start` returns: how to stop, and extra health details. */
export interface RunningActor {
  stop?(): Promise<void> | void
  health?(): Record<string, unknown>
}

export interface ActorDefinition<Config = unknown> {
  readonly name: string
  /** The implementation's version (package version). */
  readonly version: string
  /** The package (or path) that implements the actor: reported in `baran status`. */
  readonly implementation: string
  /** Major version of the contracts it serves. */
  readonly contractVersion: number
  /** The contracts it serves (besides health): the supervisor grants bus permissions from their `callers`. */
  readonly contracts: readonly RequestContract[]
  /** Uses JetStream (the outbox): its bus user is granted the JetStream API. */
  readonly jetstream?: boolean
  readonly config: z.ZodType<Config>
  start(ctx: ActorContext<Config>): Promise<RunningActor>
}

export function defineActor<Config>(def: {
  name: string
  version: string
  implementation?: string
  contractVersion?: number
  contracts?: readonly RequestContract[]
  jetstream?: boolean
  config: z.ZodType<Config>
  start(ctx: ActorContext<Config>): Promise<RunningActor>
}): ActorDefinition<Config> {
  return Object.freeze({ implementation: `@baran/${def.name}`, contractVersion: 1, contracts: [], ...def })
}

/** How a runtime reaches the bus: its own connection, or one shared by many inline actors. */
export type BusAccess = { connect: Omit<BusOptions, 'node' | 'log'> } | { shared: Bus }
