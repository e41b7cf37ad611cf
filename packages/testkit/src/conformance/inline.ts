/**
 * Setup shared by the packages that run their conformance suites inline (each package's test/conformance.test.ts):
 * nodes with identity and an account, loopback listen addresses, bootstrap addresses, and one implementation's
 * lifecycle suite on a fresh inline node. Actor definitions are passed in: testkit imports no actor package.
 */
import type { ActorDefinition } from '@baran/actor'
import { discoveryInfo, identityCreate } from '@baran/bus'
import { Cleanup } from '../lib/cleanup.ts'
import { type InlineNode, inlineNode } from '../inline-node.ts'
import lifecycleSuite from './lifecycle.ts'

/** A cheap scrypt for tests: account archives are sealed in milliseconds. */
export const TEST_KDF = { N: 1024, r: 8, p: 1 }
/** libp2p over loopback TCP, on a free port. */
export const LOOPBACK_LISTEN = { listen: ['/ip4/127.0.0.1/tcp/0'] }
/** libp2p over loopback WebSockets, on a free port. */
export const LOOPBACK_WS_LISTEN = { listen: ['/ip4/127.0.0.1/tcp/0/ws'] }

/** Discovery's dialable loopback addresses (with /p2p/), to bootstrap another node from. */
export async function bootstrapOf(n: InlineNode): Promise<string[]> {
  const info = await n.bus.request(discoveryInfo, {})
  return info.addrs.filter((a) => a.startsWith('/ip4/127.0.0.1/')).map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${info.peerId}`))
}

/** An inline node running `identity` with a fresh account (device named after the node). */
export async function accountNode(cleanup: Cleanup, name: string, identity: ActorDefinition<unknown>) {
  const n = await inlineNode(cleanup, name, [[identity, { kdf: TEST_KDF }]])
  const acc = await n.bus.request(identityCreate, { deviceName: name })
  return { n, acc }
}

/** What runs before the implementation under the lifecycle suite: identity, with an account or not. */
export interface LifecyclePrior {
  identity: ActorDefinition<unknown>
  account: boolean
}

/**
 * One implementation's lifecycle suite on a fresh inline node. `prior` is what runs before it (nothing when absent);
 * `impl` names the definition and its config (it may prepare what the config points at).
 */
export function lifecycleOf(
  name: string,
  spec: {
    actor: string
    verb: string
    prior?: LifecyclePrior
    impl: (n: InlineNode, cleanup: Cleanup) => Promise<[ActorDefinition<unknown>, unknown]> | [ActorDefinition<unknown>, unknown]
    probe: (n: InlineNode) => Promise<unknown>
    busy?: (n: InlineNode) => Promise<unknown>
  },
): void {
  const cleanup = new Cleanup()
  lifecycleSuite({
    async setup() {
      const prior = spec.prior
      const n = await inlineNode(cleanup, name, prior ? [[prior.identity, { kdf: TEST_KDF }]] : [])
      if (prior?.account) await n.bus.request(identityCreate, {})
      const [def, config] = await spec.impl(n, cleanup)
      const busy = spec.busy
      return {
        actor: spec.actor,
        node: n.name,
        bus: n.bus,
        verb: spec.verb,
        start: () => n.start(def, config),
        probe: () => spec.probe(n),
        ...(busy ? { busy: () => busy(n) } : {}),
      }
    },
    teardown: () => cleanup.run(),
  })
}
