import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'

/** Every actor's lifecycle, in order; `failed` can follow any state. */
export const LifecycleState = {
  Idle: 'idle',
  Connecting: 'connecting',
  Starting: 'starting',
  Ready: 'ready',
  Degraded: 'degraded',
  Stopping: 'stopping',
  Stopped: 'stopped',
  Failed: 'failed',
} as const
export type LifecycleState = (typeof LifecycleState)[keyof typeof LifecycleState]
export const LifecycleStateSchema = z.enum(['idle', 'connecting', 'starting', 'ready', 'degraded', 'stopping', 'stopped', 'failed'])

export const ActorNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'actor names are 1-32 of [a-z0-9-], starting with a letter')

/** Published on `baran.<node>.<actor>.evt.state` at every lifecycle transition. */
export const StateEventSchema = z.object({
  node: z.string(),
  actor: z.string(),
  state: LifecycleStateSchema,
  previous: LifecycleStateSchema.nullable(),
  reason: z.string().max(500).optional(),
  at: z.number().int(),
  pid: z.number().int(),
})
export type StateEvent = z.infer<typeof StateEventSchema>

/** The state event of one actor (subscribe with `{ actor: '*' }` to hear all of them). */
export function stateEventOf(actor: string) {
  return event({ actor, event: 'state', body: StateEventSchema, readers: ['*'], description: `lifecycle transitions of ${actor}` })
}

export const HealthSchema = z.object({
  node: z.string(),
  actor: z.string(),
  state: LifecycleStateSchema,
  since: z.number().int(),
  uptimeMs: z.number().int().nonnegative(),
  version: z.string(),
  implementation: z.string(),
  contractVersion: z.number().int(),
  pid: z.number().int(),
  reason: z.string().optional(),
  inFlight: z.number().int().nonnegative(),
  memory: z.object({ rss: z.number(), heapUsed: z.number() }),
  details: z.record(z.string(), z.unknown()).optional(),
})
export type Health = z.infer<typeof HealthSchema>

/** Every bus user may ask any actor for its health. */
export const ANY_CALLER = '*'

/** `baran.<node>.<actor>.health`, answered by the actor runtime from the lifecycle machine's snapshot. */
export function healthContractOf(actor: string) {
  return contract({
    actor,
    verb: 'health',
    request: z.object({}).strict().optional(),
    reply: HealthSchema,
    callers: [ANY_CALLER],
    description: `state, uptime, version and pid of ${actor}`,
  })
}
