/**
 * Both transport implementations run the transport and lifecycle conformance suites (@baran/testkit/conformance),
 * inline on real nats-servers with the real identity actor and real libp2p nodes over loopback: the shipped
 * transport (@baran/transport) and WebSockets only (@baran/transport/ws). On node b the real outbox receives.
 */
import type { ActorDefinition } from '@baran/actor'
import { transportInfo, transportSend } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { actor as outboxActor } from '@baran/outbox'
import { Cleanup, type InlineNode } from '@baran/testkit'
import { accountNode, lifecycleOf, LOOPBACK_LISTEN, LOOPBACK_WS_LISTEN, transportSuite } from '@baran/testkit/conformance'
import { transportActor } from '@baran/transport'
import { actor as wsTransportActor } from '@baran/transport/ws'

const identity = identityActor as ActorDefinition<unknown>
const outbox = outboxActor as ActorDefinition<unknown>
const transport = transportActor as ActorDefinition<unknown>
const wsTransport = wsTransportActor as ActorDefinition<unknown>
const OUTBOX = { backoff: { initialMs: 200, maxMs: 1000 } }

// ---- the shipped transport (@baran/transport) ----
{
  const cleanup = new Cleanup()
  transportSuite({
    async setup() {
      const a = await accountNode(cleanup, 'ta', identity)
      await a.n.start(transport, LOOPBACK_LISTEN)
      const b = await accountNode(cleanup, 'tb', identity)
      await b.n.start(transport, LOOPBACK_LISTEN)
      await b.n.start(outbox, OUTBOX)
      return { a: { node: a.n.name, bus: a.n.bus }, b: { node: b.n.name, bus: b.n.bus } }
    },
    teardown: () => cleanup.run(),
  })
}

// ---- WebSockets only (@baran/transport/ws) ----
{
  const cleanup = new Cleanup()
  transportSuite({
    async setup() {
      const a = await accountNode(cleanup, 'wa', identity)
      await a.n.start(wsTransport, LOOPBACK_WS_LISTEN)
      const b = await accountNode(cleanup, 'wb', identity)
      await b.n.start(outbox, OUTBOX)
      await b.n.start(wsTransport, LOOPBACK_WS_LISTEN)
      return { a: { node: a.n.name, bus: a.n.bus }, b: { node: b.n.name, bus: b.n.bus } }
    },
    teardown: () => cleanup.run(),
  })
}

// ---- lifecycle: both implementations ----
// info is served while degraded by design: send is the request degraded refuses.
const probeTransport = async (n: InlineNode) => {
  const me = await n.bus.request(transportInfo, {})
  return n.bus.request(transportSend, { peerId: me.peerId, addrs: [], id: 'probe', payload: '', timeoutMs: 1000 }, { timeoutMs: 5000 })
}
const prior = { identity, account: true }
lifecycleOf('lwt', { actor: 'transport', verb: 'send', prior, impl: () => [wsTransport, LOOPBACK_WS_LISTEN], probe: probeTransport })
lifecycleOf('lt', { actor: 'transport', verb: 'send', prior, impl: () => [transport, LOOPBACK_LISTEN], probe: probeTransport })
