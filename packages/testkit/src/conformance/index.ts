/**
 * Conformance suites, one per actor contract (js-libp2p interface-compliance-tests style): each is
 * `(common: TestSetup<Impl>) => describe(...)`, and each test title names the rule it checks, so an
 * implementation that fails is told which rule it broke.
 *
 * @example
 * import { namingSuite } from '@baran/testkit/conformance'
 * namingSuite({ setup: async () => ({ node, bus, publish, publishForged, freshName }), teardown: () => cleanup.run() })
 */
export type { TestSetup, ActorUnderTest } from './types.ts'
export { RuleViolation, expectCode, expectReply, expectShape, checkMalformedBodies, checkDeclaredErrorCodes, rawErrorCode } from './assert.ts'
export { default as lifecycleSuite } from './lifecycle.ts'
export type { LifecycleImpl } from './lifecycle.ts'
export { default as identitySuite } from './identity.ts'
export type { IdentityImpl } from './identity.ts'
export { default as namingSuite } from './naming.ts'
export type { NamingImpl } from './naming.ts'
export { default as discoverySuite } from './discovery.ts'
export type { DiscoveryImpl } from './discovery.ts'
export { default as transportSuite } from './transport.ts'
export type { TransportImpl } from './transport.ts'
export { default as outboxSuite } from './outbox.ts'
export type { OutboxImpl } from './outbox.ts'
export { TEST_KDF, LOOPBACK_LISTEN, LOOPBACK_WS_LISTEN, bootstrapOf, accountNode, lifecycleOf } from './inline.ts'
export type { LifecyclePrior } from './inline.ts'
