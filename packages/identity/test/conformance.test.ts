/**
 * The identity actor runs the identity and lifecycle conformance suites (@baran/testkit/conformance), inline on
 * real nats-servers.
 */
import type { ActorDefinition } from '@baran/actor'
import { identityCreate, identityStatus } from '@baran/bus'
import { Cleanup, inlineNode } from '@baran/testkit'
import { identitySuite, lifecycleOf, TEST_KDF } from '@baran/testkit/conformance'
import { identityActor } from '../src/index.ts'

const identity = identityActor as ActorDefinition<unknown>
{
  const cleanup = new Cleanup()
  identitySuite({
    async setup() {
      const a = await inlineNode(cleanup, 'ia', [[identity, { kdf: TEST_KDF }]])
      const b = await inlineNode(cleanup, 'ib', [[identity, { kdf: TEST_KDF }]])
      return { a: { node: a.name, bus: a.bus }, b: { node: b.name, bus: b.bus } }
    },
    teardown: () => cleanup.run(),
  })
}

lifecycleOf('li', {
  actor: 'identity',
  verb: 'verifyChain',
  impl: () => [identity, { kdf: TEST_KDF }],
  probe: (n) => n.bus.request(identityStatus, {}, { timeoutMs: 5000 }),
  busy: (n) => n.bus.request(identityCreate, {}, { timeoutMs: 10_000 }),
})
