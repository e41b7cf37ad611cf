import { type Bus, transportInfo, transportSend } from '@baran/bus'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { checkDeclaredErrorCodes, checkMalformedBodies, expectCode, expectReply, expectShape, RuleViolation } from './assert.ts'
import type { TestSetup } from './types.ts'

/**
 * What the transport suite needs: two nodes running the implementation with real identities (accounts created),
 * and on node b a real receiver of `outbox.receive` (the outbox, or whatever stores envelopes there).
 */
export interface TransportImpl {
  a: { node: string; bus: Bus }
  b: { node: string; bus: Bus }
}

/** The transport contract: info, send (resolves only on the remote ack), unreachable peers, error codes. */
export default (common: TestSetup<TransportImpl>) =>
  describe('transport conformance', () => {
    checkDeclaredErrorCodes('transport conformance')
    let impl: TransportImpl
    beforeAll(async () => {
      impl = await common.setup()
    })
    afterAll(() => common.teardown())

    it('transport.info: names the PeerId and at least one listen address', async () => {
      const info = await expectReply(impl.a.bus.request(transportInfo, {}, { node: impl.a.node }), 'transport.info')
      if (!info.peerId || info.addrs.length === 0) throw new RuleViolation('transport.info', 'no PeerId or no address')
    })

    it('transport.send: a send to an unreachable peer fails with unreachable, not a hang', async () => {
      const b = await impl.b.bus.request(transportInfo, {}, { node: impl.b.node })
      await expectCode(
        impl.a.bus.request(
          transportSend,
          { peerId: b.peerId, addrs: ['/ip4/127.0.0.1/tcp/1'], id: 'conformance-unreachable', payload: '', timeoutMs: 3000 },
          { node: impl.a.node, timeoutMs: 15_000 },
        ),
        'unreachable',
        'transport.send: unreachable peer',
      )
    })

    it('transport.send: an envelope the remote does not accept is never reported stored', async () => {
      const b = await impl.b.bus.request(transportInfo, {}, { node: impl.b.node })
      const payload = Buffer.from('not an envelope').toString('base64')
      const outcome = await impl.a.bus
        .request(transportSend, { peerId: b.peerId, addrs: b.addrs, id: 'conformance-junk', payload, timeoutMs: 10_000 }, { node: impl.a.node, timeoutMs: 20_000 })
        .then(
          (r) => r.status,
          (e: { code?: unknown }) => String(e.code),
        )
      if (outcome === 'stored' || outcome === 'duplicate') throw new RuleViolation('transport.send: the ack is the remote verdict', `junk was reported ${outcome}`)
      expectShape({ typed: !['internal', 'timeout', 'undefined'].includes(outcome) }, { typed: true }, `transport.send: refusal is typed (got ${outcome})`)
    })

    it('invalid_request: malformed transport bodies are refused with invalid_request', async () => {
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'transport', 'send', ['{"peerId":""}', '{"peerId":"x","addrs":[],"id":"i","payload":"!!"}'], 'invalid_request: transport.send')
    })
  })
