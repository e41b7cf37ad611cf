import type { ActorRuntime } from '@baran/actor'
import type { Bus } from '@baran/bus'

/** How a suite gets the implementation under test (js-libp2p interface-compliance-tests style). */
export interface TestSetup<T> {
  setup(): Promise<T>
  teardown(): Promise<void>
}

/** One running actor under test: the node it runs on, a bus client that may call it, and its runtime. */
export interface ActorUnderTest {
  node: string
  /** A bus client allowed to call every verb of the actor on `node` (requests default to that node). */
  bus: Bus
  runtime: ActorRuntime<unknown>
}
