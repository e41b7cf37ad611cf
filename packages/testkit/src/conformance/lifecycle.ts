import type { ActorRuntime } from '@baran/actor'
import { type Bus, type EventOf, healthContractOf, stateEventOf } from '@baran/bus'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { waitUntil } from '../lib/wait.ts'
import { checkMalformedBodies, expectCode, expectShape, RuleViolation } from './assert.ts'
import type { TestSetup } from './types.ts'

/** What the lifecycle suite needs of an implementation: a way to start fresh instances of it on a node. */
export interface LifecycleImpl {
  /** The role (actor name): identity, naming… */
  actor: string
  node: string
  /** A bus client on `node` allowed to call the actor. */
  bus: Bus
  /** Starts a new instance of the implementation on `node` (its dependencies already run) and waits until ready. */
  start(): Promise<ActorRuntime<unknown>>
  /** A request the actor answers while ready (a reply, or a domain error other than unavailable). */
  probe(): Promise<unknown>
  /** A request that takes a while, for "stop while busy" (default: probe). */
  busy?(): Promise<unknown>
  /** A verb of the actor that takes an object body, for the malformed-body rule. */
  verb: string
}

/** An answer to a probe: a reply or a domain error; `unavailable`, `no_responder` and `timeout` are not answers. */
async function answered(probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe()
    return true
  } catch (e) {
    const code = (e as { code?: unknown }).code
    return typeof code === 'string' && !['unavailable', 'no_responder', 'timeout', 'internal', 'closed'].includes(code)
  }
}

/**
 * The lifecycle every actor shares (idle → connecting → starting → ready ⇄ degraded → stopping → stopped): state
 * events, idempotent start, health from the snapshot, fail-fast while degraded, draining stop.
 */
export default (common: TestSetup<LifecycleImpl>) =>
  describe('lifecycle conformance', () => {
    let impl: LifecycleImpl
    const running: ActorRuntime<unknown>[] = []
    const stopAll = async () => {
      for (const rt of running.splice(0)) {
        await rt.stop('conformance cleanup').catch(() => undefined)
        await rt.close().catch(() => undefined)
      }
    }
    // One instance at a time: a leftover one (from a failed test) would answer in its place.
    const start = async () => {
      await stopAll()
      const rt = await impl.start()
      running.push(rt)
      return rt
    }
    beforeAll(async () => {
      impl = await common.setup()
    })
    afterAll(async () => {
      await stopAll()
      await common.teardown()
    })

    it('lifecycle.state: every transition from starting on is published on evt.state, in order', async () => {
      const rule = 'lifecycle.state'
      const seen: Array<EventOf<ReturnType<typeof stateEventOf>>> = []
      const sub = await impl.bus.subscribe(stateEventOf(impl.actor), (e) => void seen.push(e), { node: impl.node })
      await impl.bus.flush()
      const rt = await start()
      try {
        await waitUntil(() => seen.some((e) => e.state === 'ready' || e.state === 'degraded'), { timeoutMs: 10_000, what: 'ready state event' }).catch(() => {
          throw new RuleViolation(rule, `no ready/degraded state event, saw ${seen.map((e) => e.state).join(',') || 'none'}`)
        })
        // `connecting` happens before the actor has a bus to publish on: the first event heard is `starting`.
        const states = seen.map((e) => e.state)
        expectShape(states.slice(0, 2), ['starting', rt.state], `${rule}: transitions in order`)
        for (const e of seen) expectShape(e, { node: impl.node, actor: impl.actor }, `${rule}: events name the node and the actor`)
        await rt.stop('conformance')
        await waitUntil(() => seen.at(-1)?.state === 'stopped', { timeoutMs: 10_000 }).catch(() => {
          throw new RuleViolation(rule, `no stopped state event after stop, saw ${seen.map((e) => e.state).join(',')}`)
        })
        expectShape(seen.map((e) => e.state).slice(-2), ['stopping', 'stopped'], `${rule}: stop goes through stopping`)
      } finally {
        sub.unsubscribe()
      }
    })

    it('lifecycle.start: starting a running actor again is idempotent', async () => {
      const rt = await start()
      const before = rt.state
      await rt.start()
      expectShape({ state: rt.state }, { state: before }, 'lifecycle.start: a second start keeps the state')
      if (!(await answered(impl.probe))) throw new RuleViolation('lifecycle.start', 'the actor stopped serving after a second start')
      await rt.stop('conformance')
    })

    it('lifecycle.health: health answers from the lifecycle snapshot (state, implementation, contract version)', async () => {
      const rt = await start()
      const rule = 'lifecycle.health'
      const h = await impl.bus.request(healthContractOf(impl.actor), {}, { node: impl.node })
      expectShape(
        h,
        { node: impl.node, actor: impl.actor, state: rt.state, implementation: rt.def.implementation, contractVersion: rt.def.contractVersion, version: rt.def.version },
        rule,
      )
      if (!h.implementation) throw new RuleViolation(rule, 'health names no implementation')
      await rt.stop('conformance')
    })

    it('lifecycle.degraded: requests fail fast with unavailable, health says degraded and why, and ready again serves', async () => {
      const rt = await start()
      const rule = 'lifecycle.degraded'
      rt.lifecycle.send({ type: 'DEGRADE', reason: 'conformance-outage' })
      await waitUntil(() => rt.state === 'degraded', { timeoutMs: 5000 })
      await expectCode(impl.probe(), 'unavailable', `${rule}: a request while degraded`)
      const h = await impl.bus.request(healthContractOf(impl.actor), {}, { node: impl.node })
      expectShape(h, { state: 'degraded', reason: 'conformance-outage' }, `${rule}: health while degraded`)
      rt.lifecycle.send({ type: 'RECOVER', reason: 'conformance-outage' })
      // The implementation may hold reasons of its own; only ours cleared here.
      if (rt.state === 'ready' && !(await answered(impl.probe))) throw new RuleViolation(rule, 'not serving again once ready')
      await rt.stop('conformance')
    })

    it('lifecycle.stop: a request in flight when stop begins completes or fails with a typed error, then the actor is stopped', async () => {
      const rt = await start()
      const rule = 'lifecycle.stop'
      const inFlight = (impl.busy ?? impl.probe)().then(
        () => 'reply',
        (e: { code?: unknown }) => (typeof e.code === 'string' ? e.code : 'untyped'),
      )
      await sleep(5)
      await rt.stop('conformance: stop while busy')
      const outcome = await inFlight
      if (outcome === 'untyped' || outcome === 'internal' || outcome === 'timeout') {
        throw new RuleViolation(rule, `the in-flight request ended with ${outcome}, not a reply or a clean refusal`)
      }
      expectShape({ state: rt.state }, { state: 'stopped' }, rule)
      await rt.stop('again') // stopping a stopped actor is harmless
    })

    it('invalid_request: malformed bodies are refused with invalid_request and the actor keeps serving', async () => {
      await start()
      await checkMalformedBodies(impl.bus, impl.node, impl.actor, impl.verb, ['42', '{"unknownKey":1}'], 'invalid_request')
      if (!(await answered(impl.probe))) throw new RuleViolation('invalid_request', 'the actor stopped serving after malformed bodies')
    })
  })
