import { defineActor } from '@baran/actor'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { echoContracts, echoDependency, echoFail, echoSaid, echoSay, echoSlow } from './contracts.ts'

/** The example actor: small, but it uses every part of the runtime a real actor uses. */
export const echoActor = defineActor({
  name: 'echo',
  version: '0.1.0',
  implementation: '@baran/testkit/example-actor',
  contracts: echoContracts,
  config: z.object({ greeting: z.string().min(1).max(40).default('hello') }).strict(),
  async start(ctx) {
    ctx.serve(echoSay, ({ text }) => {
      ctx.publish(echoSaid, { text })
      return { text, greeting: ctx.config.greeting, pid: process.pid }
    })
    ctx.serve(echoFail, ({ message }) => {
      throw new Error(message)
    })
    ctx.serve(echoSlow, async ({ ms }) => {
      const started = Date.now()
      await sleep(ms)
      return { waitedMs: Date.now() - started }
    })
    // Must work while degraded: it is how a test brings the actor back.
    ctx.serve(
      echoDependency,
      ({ name, up }) => {
        if (up) ctx.recover(name)
        else ctx.degrade(name)
        return { ok: true as const }
      },
      { whenDegraded: 'serve' },
    )
    ctx.log.info({ greeting: ctx.config.greeting }, 'echo ready')
    return { health: () => ({ greeting: ctx.config.greeting }) }
  },
})

/** The name the supervisor looks for when it loads an implementation module. */
export { echoActor as actor }
