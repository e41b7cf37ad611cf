import { canonicalEncode } from '@baran/trust'
import { Cleanup, spawnProcess, waitUntil } from '@baran/testkit'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createIdGenerator } from '../src/lib/ids.ts'
import { Inbox, type ReadReceiptEvent, type ReceivedMessage, type ReceiveRequest } from '../src/lib/inbox.ts'
import { legacyInboxKey } from '../src/lib/inbox-migrate.ts'
import { encodeJsonValue, type OrderedKvStore } from '../src/lib/kv.ts'
import { encodePayload, type MessagePayload } from '../src/lib/payload.ts'
import { OutboxRecordBucket } from '../src/lib/records.ts'
import { ALICE, ALICE_LAPTOP, ALICE_PHONE, BOB, BOB_LAPTOP, BOB_PHONE, CAROL, jetstream, outgoing, plainKv } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const NOW = Date.UTC(2026, 0, 1)

/** Bob's phone's inbox: messages from Alice arrive here. */
async function bobInbox(wrap: (kv: OrderedKvStore) => OrderedKvStore = (kv) => kv) {
  const js = await jetstream(cleanup)
  const kv = await js.bucket('inbox')
  const read = await js.bucket('inbox_read')
  const outgoingStore = new OutboxRecordBucket(await js.bucket('outbox'))
  const received: ReceivedMessage[] = []
  const receipts: ReadReceiptEvent[] = []
  const delivered: Array<{ id: string; deviceId: string }> = []
  const now = NOW
  const inbox = new Inbox({
    log: wrap(kv),
    read,
    outgoing: outgoingStore,
    self: () => ({ accountId: BOB, deviceId: BOB_PHONE }),
    now: () => now,
    onReceived: (m) => void received.push(m),
    onReadReceipt: (e) => void receipts.push(e),
    onDeliveredReceipt: (e) => void delivered.push(e),
  })
  await inbox.load()
  /** Another Inbox on the same buckets, as after a restart. */
  const reopen = async () => {
    const again = new Inbox({ log: kv, read, outgoing: outgoingStore, self: () => ({ accountId: BOB, deviceId: BOB_PHONE }), now: () => now })
    await again.load()
    return again
  }
  return { inbox, kv, read, outgoingStore, received, receipts, delivered, reopen }
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
    expect(await b.kv.keys()).toEqual([p.id])
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
    // the failed write was never announced: the duplicate is, once
    expect(b.received.map((m) => m.id)).toEqual([p.id])
    await expect(b.inbox.receive(envelope(p))).resolves.toEqual({ status: 'duplicate' })
    expect(b.received.map((m) => m.id)).toEqual([p.id])
  })

  it('announces once a message whose first write failed before landing (its retry stores it)', async () => {
    let failFirst = true
    const b = await bobInbox((kv) => ({
      ...bind(kv),
      async create(key, value) {
        if (failFirst) {
          failFirst = false
          throw new Error('JetStream did not answer')
        }
        return kv.create(key, value)
      },
    }))
    const p = message()
    await expect(b.inbox.receive(envelope(p))).rejects.toThrow(/did not answer/)
    await expect(b.inbox.receive(envelope(p))).resolves.toEqual({ status: 'stored' })
    await expect(b.inbox.receive(envelope(p))).resolves.toEqual({ status: 'duplicate' })
    expect(b.received.map((m) => m.id)).toEqual([p.id])
  })

  it('announces a duplicate of what an earlier run stored (it may have died before announcing it), not a mailbox copy of a direct one', async () => {
    const b = await bobInbox()
    const [p, q, m] = [message(), message({ body: 'second' }), message({ body: 'from the mailbox' })]
    await b.inbox.receive(envelope(p))
    await b.inbox.receive(envelope(q))
    await b.inbox.markRead([q.id])
    await b.inbox.receive({ ...envelope(m), via: 'mailbox' })
    expect(b.received.map((x) => x.id)).toEqual([p.id, q.id, m.id])
    // how it came is kept in the log, never shown
    expect(JSON.parse(new TextDecoder().decode((await b.kv.get(m.id))!.value))).toMatchObject({ mailbox: true })
    expect((await b.inbox.list()).messages.every((x) => !('mailbox' in x))).toBe(true)
    // The node restarts (a second later): a sender whose ack died with the first run sends again.
    const received: ReceivedMessage[] = []
    const later = new Inbox({
      log: b.kv,
      read: b.read,
      outgoing: b.outgoingStore,
      self: () => ({ accountId: BOB, deviceId: BOB_PHONE }),
      now: () => NOW + 1000,
      onReceived: (m) => void received.push(m),
    })
    await later.load()
    await expect(later.receive({ ...envelope(q), via: 'mailbox' })).resolves.toEqual({ status: 'duplicate' })
    expect(received).toEqual([])
    // a mailbox item taken by a run that died before deleting it: it may have died before announcing it too
    await expect(later.receive({ ...envelope(m), via: 'mailbox' })).resolves.toEqual({ status: 'duplicate' })
    expect(received.map((x) => x.id)).toEqual([m.id])
    received.length = 0
    await expect(later.receive(envelope(p))).resolves.toEqual({ status: 'duplicate' })
    await expect(later.receive(envelope(q))).resolves.toEqual({ status: 'duplicate' })
    // once in this run
    await expect(later.receive(envelope(p))).resolves.toEqual({ status: 'duplicate' })
    // announced as stored (its arrival time, its read flag), nothing stored twice
    expect(received).toMatchObject([
      { id: p.id, receivedAt: NOW, read: false },
      { id: q.id, receivedAt: NOW, read: true },
    ])
    expect((await later.list()).messages.map((x) => x.id)).toEqual([p.id, q.id, m.id])
    // a message this run stores is announced once, its duplicates are not
    const r = message({ body: 'third' })
    await later.receive(envelope(r))
    await later.receive(envelope(r))
    expect(received.map((m) => m.id)).toEqual([p.id, q.id, r.id])
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

  it("hands a 'delivered' receipt (a device took the message from its mailbox) to the engine while its delivery is queued", async () => {
    const b = await bobInbox()
    const queued = { deviceId: ALICE_PHONE, state: 'queued' as const, attempts: 1, sync: false }
    const sent = { ...outgoing({ now: NOW, to: ALICE }), from: BOB, fromDevice: BOB_PHONE, devicesResolved: true, devices: [queued] }
    await b.outgoingStore.create(sent)
    const receipt = (ref: string, fromDevice = ALICE_PHONE) => {
      const id = gen()
      return {
        id,
        payload: encodePayload({ v: 1, kind: 'receipt', id, ref, from: ALICE, fromDevice, to: BOB, receipt: 'delivered', at: NOW + 5 }),
        from: { accountId: ALICE, deviceId: fromDevice, peerId: '' },
      }
    }
    await expect(b.inbox.receive(receipt(sent.id))).resolves.toEqual({ status: 'stored' })
    expect(b.delivered).toEqual([{ id: sent.id, deviceId: ALICE_PHONE }])
    // a device the message was not addressed to, or an unknown message: refused
    await expect(b.inbox.receive(receipt(sent.id, ALICE_LAPTOP))).resolves.toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^unknown_message: /) })
    await expect(b.inbox.receive(receipt(gen()))).resolves.toMatchObject({ status: 'rejected' })
    // once the delivery is final, a receipt again is a duplicate
    await b.outgoingStore.update(sent.id, (r) => ({ ...r, devices: [{ ...queued, state: 'delivered' }] }))
    await expect(b.inbox.receive(receipt(sent.id))).resolves.toEqual({ status: 'duplicate' })
    expect(b.delivered).toHaveLength(1)
    expect(await b.kv.keys()).toEqual([])
  })

  it('fails loudly (no answer) while the node holds no account', async () => {
    const js = await jetstream(cleanup)
    const { NoAccountError } = await import('../src/lib/errors.ts')
    const inbox = new Inbox({
      log: await js.bucket('inbox'),
      read: await js.bucket('inbox_read'),
      outgoing: new OutboxRecordBucket(await js.bucket('outbox')),
      self: () => {
        throw new NoAccountError()
      },
    })
    await expect(inbox.receive(envelope(message()))).rejects.toMatchObject({ name: 'NoAccountError', code: 'no_account' })
  })
})

/** The KV's methods bound to it, so a test can override one. */
function bind(kv: OrderedKvStore): OrderedKvStore {
  return { ...plainKv(kv), state: () => kv.state(), range: (from, max, until) => kv.range(from, max, until) }
}

describe('inbox log: pages, counts and since cost the page (real JetStream)', () => {
  /** `n` messages, received one after another (so arrival order is known); every 10th has an older ID (late). */
  async function filled(n: number) {
    const b = await bobInbox()
    const order: string[] = []
    for (let i = 0; i < n; i++) {
      const at = i % 10 === 9 ? NOW - 10 * n * 1000 + i : NOW - n * 1000 + i * 1000
      const p = message({ id: createIdGenerator({ now: () => at })(), body: `m${i}`, sentAt: at })
      expect((await b.inbox.receive(envelope(p))).status).toBe('stored')
      order.push(p.id)
    }
    return { ...b, order }
  }

  it('pages a few thousand messages in arrival order: first, since, last, follow-next, counts', async () => {
    const n = 2000
    const b = await filled(n)
    expect(b.inbox.size).toBe(n)
    const first = await b.inbox.list({ limit: 50 })
    expect(first.messages.map((m) => m.id)).toEqual(b.order.slice(0, 50))
    expect(first).toMatchObject({ total: n, next: b.order[49] })
    // since: any stored ID, late ones too
    for (const at of [1234, 1239, 1990]) {
      const page = await b.inbox.list({ after: b.order[at], limit: 50 })
      expect(page.messages.map((m) => m.id)).toEqual(b.order.slice(at + 1, at + 51))
      expect(page.total).toBe(n - at - 1)
      expect(page.next).toBe(at + 51 < n ? b.order[at + 50] : undefined)
    }
    const end = await b.inbox.list({ after: b.order[n - 1] })
    expect(end).toEqual({ messages: [], total: 0 })
    // following next with an odd page size sees every message once, in order
    const seen: string[] = []
    let after: string | undefined
    for (let page = 0; page < 100; page++) {
      const r = await b.inbox.list({ limit: 137, ...(after ? { after } : {}) })
      expect(r.total).toBe(n - seen.length)
      seen.push(...r.messages.map((m) => m.id))
      if (!r.next) break
      after = r.next
    }
    expect(seen).toEqual(b.order)
  }, 60_000)

  it('gives a late message (older ID) to a reader that asks since the last ID it saw', async () => {
    const b = await bobInbox()
    expect(await b.inbox.list({ unreadOnly: true })).toEqual({ messages: [], total: 0 })
    expect(await b.inbox.list()).toEqual({ messages: [], total: 0 })
    const newer = message({ id: createIdGenerator({ now: () => NOW })() })
    await b.inbox.receive(envelope(newer))
    const seen = await b.inbox.list()
    expect(seen.messages.map((m) => m.id)).toEqual([newer.id])
    // sent an hour earlier while this node was offline; it arrives now
    const late = message({ id: createIdGenerator({ now: () => NOW - 3_600_000 })(), body: 'late' })
    await b.inbox.receive(envelope(late))
    expect((await b.inbox.list({ after: newer.id })).messages.map((m) => m.body)).toEqual(['late'])
  })

  it('counts and pages unread messages; marking read is once per message', async () => {
    const b = await filled(400)
    const readIds = b.order.filter((_, i) => i % 3 === 0)
    expect(await b.inbox.markRead(readIds)).toHaveLength(readIds.length)
    expect(await b.inbox.markRead(readIds.slice(0, 5))).toEqual([])
    const unread = b.order.filter((_, i) => i % 3 !== 0)
    const seen: string[] = []
    let after: string | undefined
    for (let page = 0; page < 100; page++) {
      const r = await b.inbox.list({ unreadOnly: true, limit: 25, ...(after ? { after } : {}) })
      expect(r.total).toBe(unread.length - seen.length)
      expect(r.messages.every((m) => !m.read)).toBe(true)
      seen.push(...r.messages.map((m) => m.id))
      if (!r.next) break
      after = r.next
    }
    expect(seen).toEqual(unread)
    const all = await b.inbox.list({ limit: 400 })
    expect(all.messages.filter((m) => m.read).map((m) => m.id)).toEqual(readIds)
  })

  it('keeps read state across a restart, also a marker written just before a crash (before its checkpoint)', async () => {
    const b = await filled(60)
    await b.inbox.markRead(b.order.slice(0, 20))
    const after = await b.reopen()
    expect((await after.list({ unreadOnly: true, limit: 1 })).total).toBe(40)
    // the process died after writing this marker and before the checkpoint: load replays it
    const e = await b.kv.get(b.order[30]!)
    await b.read.create(b.order[30]!, encodeJsonValue({ at: NOW, rev: e!.revision }))
    const restarted = await b.reopen()
    const page = await restarted.list({ limit: 60 })
    expect(page.messages.filter((m) => m.read).map((m) => m.id)).toEqual([...b.order.slice(0, 20), b.order[30]])
    expect((await restarted.list({ unreadOnly: true, limit: 1 })).total).toBe(39)
    // the marker is the once-only gate: no second "was unread" (no second read receipt)
    expect(await restarted.markRead([b.order[30]!, b.order[0]!])).toEqual([])
    const unreadAfter = await restarted.list({ unreadOnly: true, after: b.order[25], limit: 100 })
    expect(unreadAfter.messages.map((m) => m.id)).toEqual([...b.order.slice(26, 30), ...b.order.slice(31)])
    expect(unreadAfter.total).toBe(33)
  })

  it('refuses a malformed `after` with a typed error, and an unknown one with not_found', async () => {
    const b = await filled(3)
    for (const bad of ['', 'not-an-id', b.order[0]!.toLowerCase(), `${b.order[0]}X`, '8ZZZZZZZZZZZZZZZZZZZZZZZZZ']) {
      await expect(b.inbox.list({ after: bad })).rejects.toMatchObject({ name: 'InvalidMessageIdError', code: 'invalid_message_id' })
    }
    await expect(b.inbox.list({ after: gen() })).rejects.toMatchObject({ name: 'MessageNotFoundError', code: 'not_found' })
  })

  it('refuses another sender reusing a stored ID (nothing overwritten), and keeps the first', async () => {
    const b = await bobInbox()
    const p = message()
    await b.inbox.receive(envelope(p))
    const replay = { ...p, from: CAROL, fromDevice: 'c2'.repeat(20), body: 'replayed' }
    const r = await b.inbox.receive(envelope(replay, { accountId: CAROL, deviceId: 'c2'.repeat(20) }))
    expect(r).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^id_taken: /) })
    expect((await b.inbox.list()).messages.map((m) => [m.from, m.body])).toEqual([[ALICE, 'hi Bob']])
  })
})

describe('inbox migration from the earlier layout (`inbox` bucket, key <from>.<id>)', () => {
  /** The old layout written directly: records with `read`, keys `<from>.<id>`, in random write order. */
  async function legacyLayout(n: number) {
    const js = await jetstream(cleanup)
    const legacy = await js.bucket('inbox')
    const records = Array.from({ length: n }, (_, i) => {
      const t = NOW + i * 1000
      const from = i % 4 === 0 ? CAROL : ALICE
      return { id: createIdGenerator({ now: () => t })(), from, fromDevice: from === CAROL ? 'c2'.repeat(20) : ALICE_PHONE, to: BOB, body: `old ${i}`, sentAt: t, expiresAt: t + 60_000, receivedAt: t + 5, read: i % 3 === 0, sync: false }
    })
    const shuffled = [...records].sort(() => Math.random() - 0.5)
    for (let i = 0; i < shuffled.length; i += 100) {
      await Promise.all(shuffled.slice(i, i + 100).map((r) => legacy.create(legacyInboxKey(r.from, r.id), encodeJsonValue(r))))
    }
    await legacy.put(`${ALICE}.${gen()}`, new TextEncoder().encode('{"not":"a record"}'))
    const open = async () => {
      const inbox = new Inbox({ log: await js.bus.kv(`${legacy.name}-log`), read: await js.bus.kv(`${legacy.name}-read`), legacy, outgoing: new OutboxRecordBucket(await js.bucket('outbox')), self: () => ({ accountId: BOB, deviceId: BOB_PHONE }) })
      return { inbox, loaded: await inbox.load() }
    }
    return { js: { ...js, kv: (name: string) => js.bus.kv(name) }, url: js.url, legacy, records, open }
  }

  it('moves every old message into the log once, oldest ID first, with its read flag; later starts skip it', async () => {
    const l = await legacyLayout(500)
    const { inbox, loaded } = await l.open()
    expect(loaded).toEqual({ size: 500, migrated: { copied: 500, present: 0, corrupt: 1, conflicts: 0 } })
    const all = await inbox.list({ limit: 1000 })
    expect(all.messages).toEqual(l.records.map(({ expiresAt: _e, ...m }) => m))
    expect((await inbox.list({ unreadOnly: true })).total).toBe(l.records.filter((r) => !r.read).length)
    expect((await inbox.list({ after: l.records[99]!.id, limit: 1 })).messages[0]?.id).toBe(l.records[100]!.id)
    // a restart finds the marker and copies nothing
    const again = await l.open()
    expect(again.loaded).toEqual({ size: 500 })
    expect((await again.inbox.list({ limit: 1000 })).messages).toHaveLength(500)
  })

  it('survives kill -9 in the middle (a message in the log, its read marker not yet): the next start finishes, nothing twice', async () => {
    const l = await legacyLayout(600)
    const child = spawnProcess(join(import.meta.dirname, 'fixtures/migrate-then-hang.ts'), {
      cleanup,
      args: [l.url, l.legacy.name, `${l.legacy.name}-log`, `${l.legacy.name}-read`, '5'],
    })
    await waitUntil(() => child.output.includes('paused'), { timeoutMs: 30_000, what: 'migration paused mid-way' })
    await child.stop('SIGKILL')
    const logAfterKill = await (await l.js.kv(`${l.legacy.name}-log`)).state()
    expect(logAfterKill.messages).toBeGreaterThan(5)
    expect(await (await l.js.kv(`${l.legacy.name}-read`)).keys()).toHaveLength(5)
    const { inbox, loaded } = await l.open()
    expect(loaded.size).toBe(600)
    expect(loaded.migrated).toMatchObject({ copied: 600 - logAfterKill.messages, present: logAfterKill.messages, conflicts: 0 })
    // no second copy anywhere: the log holds exactly 600 revisions
    expect((await (await l.js.kv(`${l.legacy.name}-log`)).state()).lastRevision).toBe(600)
    const all = await inbox.list({ limit: 1000 })
    expect(all.messages.map((m) => [m.id, m.read])).toEqual(l.records.map((r) => [r.id, r.read]))
  })
})
