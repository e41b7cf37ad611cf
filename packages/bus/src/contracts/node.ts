import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'
import { LifecycleStateSchema } from './lifecycle.ts'

/** The supervisor's own subjects: `baran.<node>.node.<verb>`. */
export const NODE_ACTOR = 'node'

export const ActorStatusSchema = z.object({
  state: z.union([LifecycleStateSchema, z.enum(['spawning', 'crashed', 'backoff', 'gave-up'])]),
  pid: z.number().int().nullable(),
  uptime: z.number().int().nonnegative(),
  restarts: z.number().int().nonnegative(),
  implementation: z.string(),
  lastExit: z.object({ code: z.number().int().nullable(), signal: z.string().nullable(), at: z.number().int() }).nullable(),
  /** Why the actor is not ready: the reason of its last failed or degraded state event. */
  reason: z.string().max(500).optional(),
  /** Resident memory of the actor's process (VmRSS), in bytes; null when it runs no process or /proc cannot tell. */
  rssBytes: z.number().int().nonnegative().nullable().optional(),
  /** The shared process the actor runs in as a thread (its pid and memory are that process's); absent: its own process. */
  process: z.string().max(64).optional(),
})
export type ActorStatus = z.infer<typeof ActorStatusSchema>

export const NodeStatusSchema = z.object({
  node: z.string(),
  state: z.string(),
  pid: z.number().int(),
  uptime: z.number().int().nonnegative(),
  dataDir: z.string(),
  bus: z.object({
    url: z.string(),
    embedded: z.boolean(),
    /** The embedded nats-server's process and its resident memory (VmRSS, bytes). */
    pid: z.number().int().nullable().optional(),
    rssBytes: z.number().int().nonnegative().nullable().optional(),
  }),
  actors: z.record(z.string(), ActorStatusSchema),
  /** Resident memory of the supervisor process (VmRSS), in bytes. */
  rssBytes: z.number().int().nonnegative().nullable().optional(),
  /** Supervisor + nats-server + every actor process (VmRSS, bytes). */
  totalRssBytes: z.number().int().nonnegative().optional(),
})
export type NodeStatus = z.infer<typeof NodeStatusSchema>

export const nodeStatus = contract({
  actor: NODE_ACTOR,
  verb: 'status',
  request: z.object({}).strict().optional(),
  reply: NodeStatusSchema,
  callers: ['cli', 'ui'],
  description: 'every actor of the node: state, pid, uptime, restarts',
})

export const nodeStop = contract({
  actor: NODE_ACTOR,
  verb: 'stop',
  request: z.object({ reason: z.string().max(200).optional() }).strict().optional(),
  reply: z.object({ stopping: z.literal(true) }),
  callers: ['cli'],
  description: 'stop the node: actors in reverse order, then the bus',
})

/** Published when the supervisor restarts an actor (dashboards show it). */
export const actorRestarted = event({
  actor: NODE_ACTOR,
  event: 'restarted',
  body: z.object({ actor: z.string(), restarts: z.number().int(), pid: z.number().int().nullable(), at: z.number().int() }),
  readers: ['ui'],
  description: 'an actor process was restarted after it exited',
})
