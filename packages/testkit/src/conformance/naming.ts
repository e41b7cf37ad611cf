import { type Bus, type NameRecordReply, namingInfo, namingLookup, namingRegister, namingRegistered, namingRegistration, namingReverse } from '@baran/bus'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { waitUntil } from '../lib/wait.ts'
import { checkDeclaredErrorCodes, checkMalformedBodies, expectCode, expectReply, expectShape, RuleViolation } from './assert.ts'
import type { TestSetup } from './types.ts'

/** What the naming suite needs: a running naming actor, and a way to put records where it reads them. */
export interface NamingImpl {
  node: string
  /** A bus client on `node` that may call naming (and subscribe to its events). */
  bus: Bus
  /** Puts a VALID record of a fresh account under `name` where the implementation reads names (chain, file…). */
  publish(name: string): Promise<NameRecordReply>
  /** Puts a record under `name` whose claim signature does not verify (someone else's key, a junk signature). */
  publishForged(name: string): Promise<void>
  /** A fresh valid name each call (names are never reused across tests). */
  freshName(prefix: string): string
  /**
   * When the implementation registers names: the account ID of the node's identity (which holds an account and
   * funds). Without it, register must still refuse an invalid name with invalid_name, and a valid one with a
   * typed error (a read-only implementation).
   */
  registers?: { accountId: string }
  /**
   * Makes the store the implementation reads (chain, file…) unreachable; resolves once it is, to a function that
   * brings it back. Without it the outage rule is skipped (the lifecycle suite still checks degraded refusals).
   */
  outage?(): Promise<() => Promise<void>>
}

/** The naming contract: lookup, reverse, info, register, their events and error codes. */
export default (common: TestSetup<NamingImpl>) =>
  describe('naming conformance', () => {
    checkDeclaredErrorCodes('naming conformance')
    let impl: NamingImpl
    beforeAll(async () => {
      impl = await common.setup()
    })
    afterAll(() => common.teardown())

    it('naming.lookup: a published name resolves to its verified record (account ID, account key, owner)', async () => {
      const name = impl.freshName('look')
      const record = await impl.publish(name)
      const got = await expectReply(impl.bus.request(namingLookup, { name }, { node: impl.node }), 'naming.lookup')
      expectShape(got, record, 'naming.lookup: the reply is the published record')
    })

    it('naming.lookup: a free name is not_found', async () => {
      await expectCode(impl.bus.request(namingLookup, { name: impl.freshName('free') }, { node: impl.node }), 'not_found', 'naming.lookup')
    })

    it('naming.lookup: a forged record is refused with forged_record', async () => {
      const name = impl.freshName('forged')
      await impl.publishForged(name)
      await expectCode(impl.bus.request(namingLookup, { name }, { node: impl.node }), 'forged_record', 'naming.lookup: a forged record is refused with forged_record')
    })

    it('naming.lookup: a name that breaks the name rule is invalid_name', async () => {
      for (const bad of ['Alice', 'ab', '-alice', 'al ice', 'a'.repeat(33)]) {
        await expectCode(impl.bus.request(namingLookup, { name: bad }, { node: impl.node }), 'invalid_name', `naming.lookup: ${JSON.stringify(bad)} is invalid_name`)
      }
    })

    it('naming.reverse: an account ID resolves to its verified name, an unknown one is not_found', async () => {
      const name = impl.freshName('rev')
      const record = await impl.publish(name)
      const got = await expectReply(impl.bus.request(namingReverse, { accountId: record.accountId }, { node: impl.node }), 'naming.reverse')
      expectShape(got, { name }, 'naming.reverse')
      await expectCode(impl.bus.request(namingReverse, { accountId: 'e7'.repeat(20) }, { node: impl.node }), 'not_found', 'naming.reverse: unknown account')
    })

    it('naming.info: describes the registry in use and this account (null fields while unknown)', async () => {
      const info = await expectReply(impl.bus.request(namingInfo, {}, { node: impl.node }), 'naming.info')
      if (!info.registry || !info.chainId) throw new RuleViolation('naming.info', 'no registry or chain id')
    })

    it('naming.register: a name that breaks the name rule is invalid_name, before any work', async () => {
      for (const bad of ['Bob', 'b', 'bob!']) {
        await expectCode(impl.bus.request(namingRegister, { name: bad }, { node: impl.node }), 'invalid_name', `naming.register: ${JSON.stringify(bad)} is invalid_name`)
      }
    })

    it('naming.register: registers this account, publishes progress and registered, and the name then resolves', async () => {
      const rule = 'naming.register'
      const name = impl.freshName('reg')
      if (!impl.registers) {
        // A read-only implementation: a typed refusal, never a crash or a hang.
        const err = await impl.bus.request(namingRegister, { name }, { node: impl.node, timeoutMs: 30_000 }).then(
          () => undefined,
          (e: { code?: unknown }) => e,
        )
        if (!err) throw new RuleViolation(rule, 'a read-only implementation replied to register')
        if (typeof err.code !== 'string' || ['internal', 'timeout'].includes(err.code)) throw new RuleViolation(rule, `refused with ${String(err.code)}, not a typed code`)
        return
      }
      const phases: string[] = []
      const done: unknown[] = []
      const s1 = await impl.bus.subscribe(namingRegistration, (e) => void (e.name === name && phases.push(e.phase)), { node: impl.node })
      const s2 = await impl.bus.subscribe(namingRegistered, (e) => void (e.name === name && done.push(e)), { node: impl.node })
      await impl.bus.flush()
      try {
        const reply = await expectReply(impl.bus.request(namingRegister, { name }, { node: impl.node, timeoutMs: 60_000 }), rule)
        expectShape(reply, { name, accountId: impl.registers.accountId }, rule)
        await waitUntil(() => phases.includes('registered') && done.length === 1, { timeoutMs: 10_000 }).catch(() => {
          throw new RuleViolation(`${rule}: events`, `phases ${phases.join(',')}, registered events ${done.length}`)
        })
        expectShape({ last: phases.at(-1) }, { last: 'registered' }, `${rule}: registered is the last phase`)
        const got = await expectReply(impl.bus.request(namingLookup, { name }, { node: impl.node }), `${rule}: the new name resolves`)
        expectShape(got, { name, accountId: impl.registers.accountId }, `${rule}: the new name resolves`)
        await expectCode(impl.bus.request(namingRegister, { name }, { node: impl.node, timeoutMs: 60_000 }), 'name_taken', `${rule}: a taken name is name_taken`)
      } finally {
        s1.unsubscribe()
        s2.unsubscribe()
      }
    })

    it('naming.unavailable: while its store is unreachable, lookups fail fast with unavailable, info is still served, and it serves again once back', async (t) => {
      if (!impl.outage) return t.skip()
      const rule = 'naming.unavailable'
      const name = impl.freshName('outage')
      const record = await impl.publish(name)
      const restore = await impl.outage()
      try {
        await waitUntil(
          () =>
            impl.bus.request(namingLookup, { name }, { node: impl.node, timeoutMs: 10_000 }).then(
              () => false,
              (e: { code?: unknown }) => e.code === 'unavailable',
            ),
          { timeoutMs: 20_000 },
        ).catch(() => {
          throw new RuleViolation(rule, 'lookups did not fail with unavailable while the store was down')
        })
        await expectReply(impl.bus.request(namingInfo, {}, { node: impl.node, timeoutMs: 10_000 }), `${rule}: info is served while the store is down`)
      } finally {
        await restore()
      }
      const back = await waitUntil(() => impl.bus.request(namingLookup, { name }, { node: impl.node }), { timeoutMs: 20_000 }).catch(() => {
        throw new RuleViolation(rule, 'lookups did not recover once the store was back')
      })
      expectShape(back, record, `${rule}: the same record once back`)
    })

    it('invalid_request: malformed naming bodies are refused with invalid_request', async () => {
      await checkMalformedBodies(impl.bus, impl.node, 'naming', 'lookup', ['{"name":42}', '{"name":"alice","x":1}', `{"name":"${'x'.repeat(300)}"}`], 'invalid_request: naming.lookup')
      await checkMalformedBodies(impl.bus, impl.node, 'naming', 'reverse', [`{"accountId":"${'z'.repeat(40)}"}`, '{}'], 'invalid_request: naming.reverse')
      await checkMalformedBodies(impl.bus, impl.node, 'naming', 'register', ['{"name":null}'], 'invalid_request: naming.register')
    })
  })
