/**
 * The conformance suites (@baran/testkit/conformance) that fit in no single package, inline on real nats-servers and
 * real libp2p nodes over loopback: the example static-file naming (examples/custom-naming) runs the naming suite, and
 * the outbox suite runs on two nodes with the real identity, transport and discovery (the transport's own tests use
 * the outbox, so the outbox package cannot depend on transport back). Every package runs its other suites itself
 * (packages/<actor>/test/conformance.test.ts).
 */
import type { ActorDefinition } from '@baran/actor'
import { discoveryActor } from '@baran/discovery'
import { identityActor } from '@baran/identity'
import { actor as outboxActor } from '@baran/outbox'
import { Cleanup, type InlineNode } from '@baran/testkit'
import { accountNode, bootstrapOf, LOOPBACK_LISTEN, namingSuite, outboxSuite } from '@baran/testkit/conformance'
import { transportActor } from '@baran/transport'
import { actor as staticNamingActor } from '../../../examples/custom-naming/static-naming.ts'
import { staticNamingImpl } from './conformance-impls.ts'

// ---- naming: the example static-file implementation (examples/custom-naming) ----
{
  const cleanup = new Cleanup()
  namingSuite({ setup: () => staticNamingImpl(cleanup, staticNamingActor as ActorDefinition<unknown>, 'ns'), teardown: () => cleanup.run() })
}

// ---- outbox: two nodes over loopback libp2p ----
/** A node with identity (an account), transport, discovery (bootstrapped from `from`) and the outbox. */
async function outboxNode(cleanup: Cleanup, name: string, from?: InlineNode) {
  const node = await accountNode(cleanup, name, identityActor as ActorDefinition<unknown>)
  await node.n.start(transportActor as ActorDefinition<unknown>, LOOPBACK_LISTEN)
  await node.n.start(discoveryActor as ActorDefinition<unknown>, { ...LOOPBACK_LISTEN, ...(from ? { bootstrap: await bootstrapOf(from) } : {}) })
  await node.n.start(outboxActor as ActorDefinition<unknown>, { backoff: { initialMs: 200, maxMs: 1000 } })
  return node
}
{
  const cleanup = new Cleanup()
  outboxSuite({
    async setup() {
      const a = await outboxNode(cleanup, 'oa')
      const b = await outboxNode(cleanup, 'ob', a.n)
      return { a: { node: a.n.name, bus: a.n.bus, accountId: a.acc.accountId }, b: { node: b.n.name, bus: b.n.bus, accountId: b.acc.accountId, deviceId: b.acc.deviceId } }
    },
    teardown: () => cleanup.run(),
  })
}
