import { type Bus, outboxDelivery, outboxInbox, outboxPending, outboxReceive, outboxReceived, outboxSend, outboxStatus } from '@baran/bus'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { waitUntil } from '../lib/wait.ts'
import { checkDeclaredErrorCodes, checkMalformedBodies, expectCode, expectReply, expectShape, RuleViolation } from './assert.ts'
import type { TestSetup } from './types.ts'

/** A whole-outbox listing's deadline (see its use). */
const LISTING_TIMEOUT_MS = 20_000

/** What the outbox suite needs: two full nodes (identity with accounts, discovery, transport, outbox) that reach each other. */
export interface OutboxImpl {
  a: { node: string; bus: Bus; accountId: string }
  b: { node: string; bus: Bus; accountId: string; deviceId: string }
}

/** The outbox contract: send persists then delivers, inbox, status, receive verdicts, error codes. */
export default (common: TestSetup<OutboxImpl>) =>
  describe('outbox conformance', () => {
    checkDeclaredErrorCodes('outbox conformance')
    let impl: OutboxImpl
    beforeAll(async () => {
      impl = await common.setup()
    })
    afterAll(() => common.teardown())

    it('outbox.send: replies once persisted (listed by status), then delivers and the receiver stores it once', async () => {
      const rule = 'outbox.send'
      const received: string[] = []
      const delivered: string[] = []
      const s1 = await impl.b.bus.subscribe(outboxReceived, (e) => void received.push(e.id), { node: impl.b.node })
      const s2 = await impl.a.bus.subscribe(outboxDelivery, (e) => void (e.state === 'delivered' && delivered.push(e.id)), { node: impl.a.node })
      await impl.a.bus.flush()
      await impl.b.bus.flush()
      try {
        const sent = await expectReply(impl.a.bus.request(outboxSend, { to: impl.b.accountId, body: 'conformance hello' }, { node: impl.a.node }), rule)
        const st = await expectReply(impl.a.bus.request(outboxStatus, { id: sent.id }, { node: impl.a.node }), `${rule}: persisted before the reply`)
        expectShape(st, { id: sent.id, to: impl.b.accountId }, `${rule}: persisted before the reply`)
        await waitUntil(() => received.includes(sent.id) && delivered.includes(sent.id), { timeoutMs: 40_000 }).catch(() => {
          throw new RuleViolation(`${rule}: delivery`, `received ${received.includes(sent.id)}, delivered event ${delivered.includes(sent.id)}`)
        })
        const inbox = await impl.b.bus.request(outboxInbox, { limit: 1000 }, { node: impl.b.node })
        const copies = inbox.messages.filter((m) => m.id === sent.id)
        expectShape({ copies: copies.length, body: copies[0]?.body, from: copies[0]?.from }, { copies: 1, body: 'conformance hello', from: impl.a.accountId }, `${rule}: stored exactly once`)
      } finally {
        s1.unsubscribe()
        s2.unsubscribe()
      }
    })

    it('outbox.send: a send retried with the same idempotency key is stored once', async () => {
      const rule = 'outbox.send idempotencyKey'
      const idempotencyKey = `conformance-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
      const req = { to: impl.b.accountId, body: 'conformance retried send', idempotencyKey }
      const first = await expectReply(impl.a.bus.request(outboxSend, req, { node: impl.a.node }), rule)
      // Two retries at once too: a retry may race another retry.
      const again = await Promise.all([0, 1].map(() => expectReply(impl.a.bus.request(outboxSend, req, { node: impl.a.node }), rule)))
      for (const r of again) expectShape({ id: r.id }, { id: first.id }, `${rule}: a retry answers with the first send's message`)
      // every record the suite made, with previews: on a machine loaded 5x over (load 10 on 2 cores) this took over
      // the default 5 s once; the rule here is about idempotency, not speed (the inbox bench times listings)
      const listed = await expectReply(impl.a.bus.request(outboxPending, { all: true, limit: 10_000 }, { node: impl.a.node, timeoutMs: LISTING_TIMEOUT_MS }), 'outbox.pending')
      const stored = listed.messages.filter((m) => m.preview === 'conformance retried send').map((m) => m.id)
      expectShape({ stored: stored.length }, { stored: 1 }, `${rule}: one outgoing message, however many retries`)
      await waitUntil(async () => (await impl.b.bus.request(outboxInbox, { limit: 1000 }, { node: impl.b.node })).messages.some((m) => m.id === first.id), {
        timeoutMs: 40_000,
      }).catch(() => {
        throw new RuleViolation(`${rule}: delivery`, 'the message never reached the receiver')
      })
      const inbox = await impl.b.bus.request(outboxInbox, { limit: 1000 }, { node: impl.b.node })
      const copies = inbox.messages.filter((m) => m.body === 'conformance retried send')
      expectShape({ copies: copies.length }, { copies: 1 }, `${rule}: the receiver stores it once`)
    })

    it('outbox.receive: an envelope that does not verify is rejected, never stored', async () => {
      const r = await expectReply(
        impl.b.bus.request(
          outboxReceive,
          { id: 'conformance-junk', payload: Buffer.from('{"v":1}').toString('base64'), from: { accountId: impl.a.accountId, deviceId: 'ab'.repeat(20), peerId: '12D3KooWJunk' } },
          { node: impl.b.node },
        ),
        'outbox.receive',
      )
      expectShape(r, { status: 'rejected' }, 'outbox.receive: junk is rejected')
    })

    it('outbox.status: an unknown message is not_found; outbox.pending lists with totals', async () => {
      await expectCode(impl.a.bus.request(outboxStatus, { id: 'no-such-message' }, { node: impl.a.node }), 'not_found', 'outbox.status: unknown id')
      const p = await expectReply(impl.a.bus.request(outboxPending, { all: true }, { node: impl.a.node, timeoutMs: LISTING_TIMEOUT_MS }), 'outbox.pending')
      if (p.total < p.messages.length) throw new RuleViolation('outbox.pending', 'total is below the listed count')
    })

    it('invalid_request: malformed outbox bodies are refused with invalid_request', async () => {
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'outbox', 'send', ['{"to":"x"}', '{"to":"x","body":""}'], 'invalid_request: outbox.send')
      await checkMalformedBodies(impl.b.bus, impl.b.node, 'outbox', 'receive', ['{"id":"x","payload":"!!"}'], 'invalid_request: outbox.receive')
    })
  })
