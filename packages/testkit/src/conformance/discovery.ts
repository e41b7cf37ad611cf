import { type Bus, discoveryDeleteValue, discoveryGetValue, discoveryInfo, discoveryLookup, discoveryLookupDeviceList, discoveryPublish, discoveryPutValue } from '@baran/bus'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { waitUntil } from '../lib/wait.ts'
import { checkDeclaredErrorCodes, checkMalformedBodies, expectCode, expectReply, expectShape, RuleViolation } from './assert.ts'
import type { TestSetup } from './types.ts'

/** What the discovery suite needs: two nodes that can find each other, each with identity holding an account. */
export interface DiscoveryImpl {
  a: { node: string; bus: Bus; accountId: string; deviceId: string }
  b: { node: string; bus: Bus }
}

/** The discovery contract: publish, lookup of an account's devices, opaque values, error codes. */
export default (common: TestSetup<DiscoveryImpl>) =>
  describe('discovery conformance', () => {
    checkDeclaredErrorCodes('discovery conformance')
    let impl: DiscoveryImpl
    beforeAll(async () => {
      impl = await common.setup()
    })
    afterAll(() => common.teardown())

    it('discovery.info: answers with the peer ID and what the node publishes', async () => {
      const info = await expectReply(impl.a.bus.request(discoveryInfo, {}, { node: impl.a.node }), 'discovery.info')
      if (!info.peerId) throw new RuleViolation('discovery.info', 'no peer ID')
    })

    it('discovery.lookup: a published device is found from another node with its addresses', async () => {
      const rule = 'discovery.lookup'
      await expectReply(impl.a.bus.request(discoveryPublish, {}, { node: impl.a.node, timeoutMs: 30_000 }), 'discovery.publish')
      const found = await waitUntil(
        async () => {
          const r = await impl.b.bus.request(discoveryLookup, { accountId: impl.a.accountId, fresh: true }, { node: impl.b.node, timeoutMs: 20_000 })
          return r.devices.some((d) => d.deviceId === impl.a.deviceId && d.online) ? r : undefined
        },
        { timeoutMs: 30_000, what: 'device online' },
      ).catch((e: Error) => {
        throw new RuleViolation(rule, `the published device was not found online: ${e.message}`)
      })
      expectShape(found, { accountId: impl.a.accountId }, rule)
      // The certificate its presence carries comes with it: a sender seals to it without asking for the device.
      const device = found.devices.find((d) => d.deviceId === impl.a.deviceId)
      if (device?.deviceCert?.body.deviceId !== impl.a.deviceId) {
        throw new RuleViolation(rule, "an online device comes without its presence's certificate")
      }
    })

    it("discovery.lookupDeviceList: a published account's signed device list, found from another node", async () => {
      const rule = 'discovery.lookupDeviceList'
      const r = await waitUntil(() => impl.b.bus.request(discoveryLookupDeviceList, { accountId: impl.a.accountId }, { node: impl.b.node, timeoutMs: 20_000 }), {
        timeoutMs: 30_000,
        what: 'device list',
      }).catch((e: Error) => {
        throw new RuleViolation(rule, `the published device list was not found: ${e.message}`)
      })
      expectShape(r, { accountId: impl.a.accountId, revoked: [] }, rule)
      if (!r.deviceList.body.devices.some((d) => d.deviceId === impl.a.deviceId)) throw new RuleViolation(rule, 'the device list does not name the published device')
      await expectCode(
        impl.b.bus.request(discoveryLookupDeviceList, { accountId: 'ef'.repeat(20) }, { node: impl.b.node, timeoutMs: 30_000 }),
        'not_found',
        `${rule}: unknown account`,
      )
    })

    it('discovery.lookup: an account nobody published is not_found', async () => {
      await expectCode(impl.b.bus.request(discoveryLookup, { accountId: 'ef'.repeat(20) }, { node: impl.b.node, timeoutMs: 30_000 }), 'not_found', 'discovery.lookup: unknown account')
    })

    it('discovery.putValue: an opaque value is found from another node, and deleted with its token', async () => {
      const rule = 'discovery.putValue'
      const key = randomBytes(20).toString('hex')
      const value = Buffer.from('sealed bytes').toString('base64')
      const put = await expectReply(impl.a.bus.request(discoveryPutValue, { key, value, ttlMs: 60_000 }, { node: impl.a.node, timeoutMs: 30_000 }), rule)
      const got = await waitUntil(() => impl.b.bus.request(discoveryGetValue, { key }, { node: impl.b.node, timeoutMs: 20_000 }), { timeoutMs: 30_000 }).catch(() => {
        throw new RuleViolation('discovery.getValue', 'a stored value was not found from another node')
      })
      expectShape(got, { key, value }, 'discovery.getValue')
      await expectReply(impl.a.bus.request(discoveryDeleteValue, { key, deleteToken: put.deleteToken }, { node: impl.a.node, timeoutMs: 30_000 }), 'discovery.deleteValue')
      await expectCode(impl.a.bus.request(discoveryGetValue, { key }, { node: impl.a.node, timeoutMs: 20_000 }), 'not_found', 'discovery.deleteValue: a deleted value is not_found')
    })

    it('invalid_request: malformed discovery bodies are refused with invalid_request', async () => {
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'discovery', 'lookup', ['{"accountId":"xyz"}'], 'invalid_request: discovery.lookup')
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'discovery', 'lookupDeviceList', ['{"accountId":"xyz"}', `{"accountId":"${'ab'.repeat(20)}","fresh":true}`], 'invalid_request: discovery.lookupDeviceList')
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'discovery', 'putValue', ['{"key":"00","value":"","ttlMs":1}'], 'invalid_request: discovery.putValue')
    })
  })
