/**
 * The outbox actor runs the lifecycle conformance suite (@baran/testkit/conformance), inline on a real nats-server
 * with the real identity actor. Its outbox suite needs two nodes with the real transport and discovery, so it runs in
 * apps/node/test/conformance.test.ts (transport's own suite uses the outbox: a dev dependency back would close a cycle).
 */
import type { ActorDefinition } from '@baran/actor'
import { outboxPending } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { lifecycleOf } from '@baran/testkit/conformance'
import { outboxActor } from '../src/index.ts'

lifecycleOf('lo', {
  actor: 'outbox',
  verb: 'send',
  prior: { identity: identityActor as ActorDefinition<unknown>, account: true },
  impl: () => [outboxActor as ActorDefinition<unknown>, {}],
  probe: (n) => n.bus.request(outboxPending, {}, { timeoutMs: 5000 }),
})
