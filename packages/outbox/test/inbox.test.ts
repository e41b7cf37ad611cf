import { canonicalEncode } from '@baran/trust'
import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { createIdGenerator } from '../src/lib/ids.ts'
import { Inbox, type ReadReceiptEvent, type ReceivedMessage, type ReceiveRequest } from '../src/lib/inbox.ts'
import type { KvStore } from '../src/lib/kv.ts'
import { encodePayload, type MessagePayload } from '../src/lib/payload.ts'
import { OutboxRecordBucket } from '../src/lib/records.ts'
import { ALICE, ALICE_LAPTOP, ALICE_PHONE, BOB, BOB_LAPTOP, BOB_PHONE, CAROL, jetstream, outgoing } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const NOW = Date.UTC(2026, 0, 1)

/** Bob's phone's inbox: messages from Alice arrive here. */
async function bobInbox(wrap: (kv: KvStore) => KvStore = (kv) => kv) {
  const js = await jetstream(cleanup)
  const kv = await js.bucket('inbox')
  const outgoingStore = new OutboxRecordBucket(await js.bucket('outbox'))
  const received: ReceivedMessage[] = []
  const receipts: ReadReceiptEvent[] = []
  const now = NOW
  const inbox = new Inbox({
    kv: wrap(kv),
    outgoing: outgoingStore,
    self: () => ({ accountId: BOB, deviceId: BOB_PHONE }),
    now: () => now,
    onReceived: (m) => void received.push(m),
    onReadReceipt: (e) => void receipts.push(e),
  })
  await inbox.load()
  return { inbox, kv, outgoingStore, received, receipts }
}

const gen = createIdGenerator({ now: () => NOW })
function message(over: Partial<MessagePayload> = {}): MessagePayload {
  return { v: 1, kind: 'message', id: gen(), from: ALICE, fromDevice: ALICE_PHONE, to: BOB, body: 'hi Bob', sentAt: NOW, expiresAt: NOW + 60_000, sync: false, ...over }
}
function envelope(p: MessagePayload, from = { accountId: ALICE, deviceId: ALICE_PHONE }): ReceiveRequest {
  return { id: p.id, payload: encodePayload(p), from: { ...from, peerId: '12D3KooWAlice' } }
}

describe('inbox (real JetStream KV)', () => {
  it('stores a message once: the same ID again is a duplicate, nothing stored twice', async () => {
    const b = await bobInbox()
    const p = message()
    await expect(b.inbox.receive(envelope(p))).resolves.toEqual({ status: 'stored' })
    await expect(b.inbox.receive(envelope(p))).resolves.toEqual({ status: 'duplicate' })
    // a replayed ID with another body is still the same message: refused as a duplicate, not stored
    await expect(b.inbox.receive(envelope({ ...p, body: 'changed' }))).resolves.toEqual({ status: 'duplicate' })
    expect(await b.kv.keys()).toEqual([`${ALICE}.${p.id}`])
    expect(b.inbox.size).toBe(1)
    expect(b.received).toHaveLength(1)
    expect(b.received[0]).toMatchObject({ id: p.id, from: ALICE, fromDevice: ALICE_PHONE, body: 'hi Bob', read: false, receivedAt: NOW })
    const { messages } = await b.inbox.list()
    expect(messages.map((m) => m.body)).toEqual(['hi Bob'])
  })

  it('is safe against a crash between persist and reply: the retry gets duplicate, the message is there once', async () => {
    let crashAfterWrite = true
    const b = await bobInbox((kv) => ({
      ...bind(kv),
      async create(key, value) {
        const rev = await kv.create(key, value)
        if (crashAfterWrite) {
          crashAfterWrite = false
          throw new Error('process died before replying')
        }
        return rev
      },
    }))
    const p = message()
    await expect(b.inbox.receive(envelope(p))).rejects.toThrow(/died/)
    // the sender never got an ack, so it sends again
    await expect(b.inbox.receive(envelope(p))).resolves.toEqual({ status: 'duplicate' })
    expect((await b.inbox.list()).messages.map((m) => m.id)).toEqual([p.id])
  })

  it('refuses bad envelopes with a reason, storing nothing', async () => {
    const b = await bobInbox()
    const ok = message()
    const cases: Array<[ReceiveRequest, RegExp]> = [
      [{ ...envelope(ok), payload: new TextEncoder().encode('{bad json') }, /^malformed: /],
      [{ ...envelope(ok), payload: new TextEncoder().encode(JSON.stringify(ok)) }, /^malformed: .*canonical/],
      [{ ...envelope(ok), payload: canonicalEncode({ ...ok, body: 'x'.repeat(64 * 1024 + 1) }) }, /^too_large: /],
      [{ ...envelope(ok), payload: new Uint8Array(300_000) }, /^too_large: /],
      [{ ...envelope(ok), payload: canonicalEncode({ ...ok, v: 7 }) }, /^unsupported_version: /],
      [{ ...envelope(ok), id: gen() }, /^id_mismatch: /],
      [envelope(ok, { accountId: CAROL, deviceId: ALICE_PHONE }), /^sender_mismatch: /],
      [envelope(ok, { accountId: ALICE, deviceId: ALICE_LAPTOP }), /^sender_mismatch: /],
      [envelope(message({ to: CAROL })), /^wrong_recipient: /],
      // a sync copy is only accepted from this account's own devices
      [envelope(message({ to: CAROL, sync: true })), /^wrong_recipient: /],
      [envelope(message({ expiresAt: NOW })), /^expired: /],
    ]
    for (const [req, reason] of cases) {
      const r = await b.inbox.receive(req)
      expect(r.status).toBe('rejected')
      expect((r as { reason: string }).reason).toMatch(reason)
    }
    expect(await b.kv.keys()).toEqual([])
    expect(b.received).toEqual([])
  })

  it("accepts sync copies from this account's other devices", async () => {
    const b = await bobInbox()
    const copy = message({ from: BOB, fromDevice: BOB_LAPTOP, to: CAROL, sync: true, body: 'what I sent Carol' })
    await expect(b.inbox.receive(envelope(copy, { accountId: BOB, deviceId: BOB_LAPTOP }))).resolves.toEqual({ status: 'stored' })
    expect(b.received[0]).toMatchObject({ sync: true, to: CAROL, from: BOB })
  })

  it('lists oldest first, pages with next, filters unread, and marks read once', async () => {
    const b = await bobInbox()
    const ids: string[] = []
    for (let i = 0; i < 7; i++) {
      const t = NOW + i * 1000
      const p = message({ id: createIdGenerator({ now: () => t })(), body: `m${i}`, sentAt: t, from: i % 2 ? CAROL : ALICE, fromDevice: i % 2 ? 'c2'.repeat(20) : ALICE_PHONE })
      ids.push(p.id)
      // receive them out of order
      await b.inbox.receive(envelope(p, { accountId: p.from, deviceId: p.fromDevice }))
    }
    const page1 = await b.inbox.list({ limit: 3 })
    expect(page1.messages.map((m) => m.body)).toEqual(['m0', 'm1', 'm2'])
    expect(page1.total).toBe(7)
    expect(page1.next).toBe(ids[2])
    const page2 = await b.inbox.list({ limit: 10, after: page1.next })
    expect(page2.messages.map((m) => m.body)).toEqual(['m3', 'm4', 'm5', 'm6'])
    expect(page2.next).toBeUndefined()

    const read = await b.inbox.markRead([ids[1]!, ids[3]!, ids[1]!, 'not-an-id'])
    expect(read.map((m) => m.body).sort()).toEqual(['m1', 'm3'])
    expect(await b.inbox.markRead([ids[1]!])).toEqual([])
    const unread = await b.inbox.list({ unreadOnly: true })
    expect(unread.messages.map((m) => m.body)).toEqual(['m0', 'm2', 'm4', 'm5', 'm6'])
  })

  it('cuts a page short by size (NATS max_payload) and says where to go on', async () => {
    const b = await bobInbox()
    for (let i = 0; i < 20; i++) await b.inbox.receive(envelope(message({ body: 'y'.repeat(60_000) })))
    const page = await b.inbox.list({ limit: 100 })
    expect(page.messages.length).toBeGreaterThan(0)
    expect(page.messages.length).toBeLessThan(20)
    expect(page.next).toBe(page.messages.at(-1)?.id)
  })

  it('records a read receipt on the outgoing message once per device, and refuses receipts for unknown messages', async () => {
    const b = await bobInbox()
    // Bob sent a message to Alice; her phone reads it and sends a receipt back
    const sent = { ...outgoing({ now: NOW, to: ALICE }), from: BOB, fromDevice: BOB_PHONE, devicesResolved: true }
    await b.outgoingStore.create(sent)
    const receipt = (ref: string) => {
      const id = gen()
      return {
        id,
        payload: encodePayload({ v: 1, kind: 'receipt', id, ref, from: ALICE, fromDevice: ALICE_PHONE, to: BOB, receipt: 'read', at: NOW + 5 }),
        from: { accountId: ALICE, deviceId: ALICE_PHONE, peerId: 'p' },
      }
    }
    await expect(b.inbox.receive(receipt(sent.id))).resolves.toEqual({ status: 'stored' })
    await expect(b.inbox.receive(receipt(sent.id))).resolves.toEqual({ status: 'duplicate' })
    expect(b.receipts).toEqual([{ id: sent.id, from: ALICE, deviceId: ALICE_PHONE, at: NOW + 5 }])
    expect((await b.outgoingStore.get(sent.id))?.devices.find((d) => d.deviceId === ALICE_PHONE)?.readAt).toBe(NOW + 5)
    const unknown = await b.inbox.receive(receipt(gen()))
    expect(unknown).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^unknown_message: /) })
    expect(await b.kv.keys()).toEqual([])
  })

  it('fails loudly (no answer) while the node holds no account', async () => {
    const js = await jetstream(cleanup)
    const { NoAccountError } = await import('../src/lib/errors.ts')
    const inbox = new Inbox({
      kv: await js.bucket('inbox'),
      outgoing: new OutboxRecordBucket(await js.bucket('outbox')),
      self: () => {
        throw new NoAccountError()
      },
    })
    await expect(inbox.receive(envelope(message()))).rejects.toMatchObject({ name: 'NoAccountError', code: 'no_account' })
  })
})

/** The KV's methods bound to it, so a test can override one. */
function bind(kv: KvStore): KvStore {
  return {
    get: (k) => kv.get(k),
    create: (k, v) => kv.create(k, v),
    update: (k, v, r) => kv.update(k, v, r),
    put: (k, v) => kv.put(k, v),
    delete: (k) => kv.delete(k),
    keys: (f) => kv.keys(f),
    entries: () => kv.entries(),
  }
}
