/**
 * Both discovery implementations run the discovery and lifecycle conformance suites (@baran/testkit/conformance),
 * inline on real nats-servers with the real identity and transport actors and real libp2p nodes over loopback: the
 * DHT discovery (@baran/discovery) and the LAN-only discovery (@baran/discovery/lan).
 */
import type { ActorDefinition } from '@baran/actor'
import { discoveryLookup } from '@baran/bus'
import { discoveryActor } from '@baran/discovery'
import { actor as lanDiscoveryActor } from '@baran/discovery/lan'
import { identityActor } from '@baran/identity'
import { Cleanup, type InlineNode } from '@baran/testkit'
import { accountNode, bootstrapOf, discoverySuite, lifecycleOf, LOOPBACK_LISTEN } from '@baran/testkit/conformance'
import { transportActor } from '@baran/transport'

const identity = identityActor as ActorDefinition<unknown>
const discovery = discoveryActor as ActorDefinition<unknown>
const lanDiscovery = lanDiscoveryActor as ActorDefinition<unknown>
const transport = transportActor as ActorDefinition<unknown>

/** A node with identity (an account), the shipped transport and `def` as discovery, which bootstraps from `from`. */
async function discoveryNode(cleanup: Cleanup, name: string, def: ActorDefinition<unknown>, config: (from: string[]) => object, from?: InlineNode) {
  const node = await accountNode(cleanup, name, identity)
  await node.n.start(transport, LOOPBACK_LISTEN)
  await node.n.start(def, { ...LOOPBACK_LISTEN, ...config(from ? await bootstrapOf(from) : []) })
  return node
}

function suiteOf(prefix: string, def: ActorDefinition<unknown>, config: (from: string[]) => object): void {
  const cleanup = new Cleanup()
  discoverySuite({
    async setup() {
      const a = await discoveryNode(cleanup, `${prefix}a`, def, config)
      const b = await discoveryNode(cleanup, `${prefix}b`, def, config, a.n)
      return { a: { node: a.n.name, bus: a.n.bus, accountId: a.acc.accountId, deviceId: a.acc.deviceId }, b: { node: b.n.name, bus: b.n.bus } }
    },
    teardown: () => cleanup.run(),
  })
}

// The DHT (@baran/discovery): b bootstraps from a.
suiteOf('d', discovery, (from) => (from.length > 0 ? { bootstrap: from } : {}))
// LAN-only (@baran/discovery/lan), peers met from a static list (mDNS off: no multicast in tests).
suiteOf('l', lanDiscovery, (from) => ({ mdns: false, ...(from.length > 0 ? { peers: from } : {}) }))

// ---- lifecycle: both implementations ----
const probeDiscovery = (n: InlineNode) => n.bus.request(discoveryLookup, { accountId: 'ee'.repeat(20) }, { timeoutMs: 10_000 })
const prior = { identity, account: true }
lifecycleOf('lld', { actor: 'discovery', verb: 'lookup', prior, impl: () => [lanDiscovery, { ...LOOPBACK_LISTEN, mdns: false }], probe: probeDiscovery })
lifecycleOf('ld', { actor: 'discovery', verb: 'lookup', prior, impl: () => [discovery, LOOPBACK_LISTEN], probe: probeDiscovery })
