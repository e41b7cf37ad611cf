import { contract, event } from '@baran/bus'
import { z } from 'zod'

/** Contracts of the example `echo` actor: the runtime's own tests and the "write your own actor" guide use it. */
export const echoSay = contract({
  actor: 'echo',
  verb: 'say',
  request: z.object({ text: z.string().max(1000) }).strict(),
  reply: z.object({ text: z.string(), greeting: z.string(), pid: z.number().int() }),
  callers: ['cli', 'ui'],
  description: 'echoes the text with the configured greeting',
})

export const echoFail = contract({
  actor: 'echo',
  verb: 'fail',
  request: z.object({ message: z.string().max(200) }).strict(),
  reply: z.object({}),
  callers: ['cli'],
  description: 'throws, to show that a failing handler never crashes the actor',
})

export const echoSlow = contract({
  actor: 'echo',
  verb: 'slow',
  request: z.object({ ms: z.number().int().min(0).max(60_000) }).strict(),
  reply: z.object({ waitedMs: z.number() }),
  callers: ['cli'],
  description: 'answers after a delay, to test draining on stop',
})

export const echoDependency = contract({
  actor: 'echo',
  verb: 'dependency',
  request: z.object({ name: z.string().min(1).max(40), up: z.boolean() }).strict(),
  reply: z.object({ ok: z.literal(true) }),
  callers: ['cli'],
  description: 'marks a pretend dependency down or up (degraded ⇄ ready)',
})

export const echoSaid = event({
  actor: 'echo',
  event: 'said',
  body: z.object({ text: z.string() }),
  description: 'something was echoed',
})

export const echoContracts = [echoSay, echoFail, echoSlow, echoDependency] as const
