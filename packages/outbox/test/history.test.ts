import { Cleanup } from '@baran/testkit'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { type HistoryEntry, mergeEntries, sameEntry, summaryState } from '../src/lib/history-entry.ts'
import { HistoryStore } from '../src/lib/history.ts'
import { createIdGenerator } from '../src/lib/ids.ts'
import type { KvStore } from '../src/lib/kv.ts'
import { ALICE, ALICE_LAPTOP, ALICE_PHONE, BOB, BOB_LAPTOP, BOB_PHONE, CAROL, jetstream, plainKv } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const NOW = Date.UTC(2026, 0, 1)

/** Alice's phone's history on a real JetStream KV bucket. */
async function aliceHistory() {
  const js = await jetstream(cleanup)
  const kv = await js.bucket('history')
  let now = NOW
  const history = new HistoryStore({ kv, now: () => now })
  return {
    history,
    kv,
    reopen: () => new HistoryStore({ kv, now: () => now }),
    setNow: (t: number) => {
      now = t
    },
  }
}

function msg(id: string, over: Partial<{ from: string; fromDevice: string; to: string; body: string; prev: string }> = {}) {
  return { id, from: ALICE, fromDevice: ALICE_PHONE, to: BOB, body: `body ${id}`, sentAt: NOW, ...over }
}

describe('history store (real JetStream KV)', () => {
  it('keeps both directions of a conversation in message-ID order, whatever order they were stored in; the same ID twice is one entry', async () => {
    const { history, reopen } = await aliceHistory()
    const gen = createIdGenerator({ now: () => NOW })
    const ids = Array.from({ length: 9 }, () => gen())
    // stored out of order: received ones late, a sent one before an older received one
    const order = [4, 0, 8, 2, 6, 1, 5, 3, 7]
    for (const i of order) {
      if (i % 2 === 0) await history.recordSent(msg(ids[i]!), [BOB_PHONE])
      else await history.recordReceived({ ...msg(ids[i]!, { from: BOB, fromDevice: BOB_PHONE, to: ALICE }), receivedAt: NOW + i }, ALICE)
    }
    await history.recordSent(msg(ids[0]!), [BOB_PHONE])
    await history.recordReceived({ ...msg(ids[1]!, { from: BOB, fromDevice: BOB_PHONE, to: ALICE }), receivedAt: NOW + 99 }, ALICE)
    // another conversation stays apart
    await history.recordSent(msg(gen(), { to: CAROL }))

    for (const h of [history, reopen()]) {
      const page = await h.page(BOB)
      expect(page.total).toBe(9)
      expect(page.messages.map((m) => m.id)).toEqual(ids)
      expect(page.messages.map((m) => m.direction)).toEqual(ids.map((_, i) => (i % 2 === 0 ? 'out' : 'in')))
      expect(page.messages[1]).toMatchObject({ from: BOB, to: ALICE, state: 'received', read: false, storedAt: NOW + 1 })
      expect(page.messages[0]).toMatchObject({ from: ALICE, to: BOB, state: 'queued', devices: [{ deviceId: BOB_PHONE, state: 'queued' }] })
      expect(page.gaps).toEqual([])
      expect((await h.page(CAROL)).total).toBe(1)
    }
  })

  it('pages forwards (after) and backwards (before), each page in ID order', async () => {
    const { history } = await aliceHistory()
    const gen = createIdGenerator({ now: () => NOW })
    const ids = Array.from({ length: 25 }, () => gen())
    for (const id of [...ids].reverse()) await history.recordSent(msg(id))
    const first = await history.page(BOB, { limit: 10 })
    expect(first.messages.map((m) => m.id)).toEqual(ids.slice(0, 10))
    expect(first).toMatchObject({ hasBefore: false, hasAfter: true, total: 25 })
    const second = await history.page(BOB, { limit: 10, after: first.messages.at(-1)!.id })
    expect(second.messages.map((m) => m.id)).toEqual(ids.slice(10, 20))
    const last = await history.page(BOB, { limit: 10, after: second.messages.at(-1)!.id })
    expect(last.messages.map((m) => m.id)).toEqual(ids.slice(20))
    expect(last).toMatchObject({ hasBefore: true, hasAfter: false })
    const back = await history.page(BOB, { limit: 10, before: ids[20] })
    expect(back.messages.map((m) => m.id)).toEqual(ids.slice(10, 20))
    expect(back).toMatchObject({ hasBefore: true, hasAfter: true })
    const between = await history.page(BOB, { after: ids[3], before: ids[7] })
    expect(between.messages.map((m) => m.id)).toEqual(ids.slice(4, 7))
    await expect(history.page(BOB, { after: 'not-an-id' })).rejects.toMatchObject({ name: 'InvalidMessageIdError', code: 'invalid_message_id' })
    expect(await history.page(CAROL)).toEqual({ messages: [], total: 0, gaps: [], hasBefore: false, hasAfter: false })
  })

  it('pages cut short by size: forwards and backwards every message once, a page before an ID keeps the ones nearest to it', async () => {
    const { history } = await aliceHistory()
    const gen = createIdGenerator({ now: () => NOW })
    const ids = Array.from({ length: 40 }, () => gen())
    // ~90 KiB each as a page counts them: 8 fit in a reply, whatever the limit
    for (const id of ids) await history.recordSent(msg(id, { body: `${id} `.padEnd(30_000, 'x') }))
    const forward: string[] = []
    let page = await history.page(BOB, { limit: 1000 })
    expect(page.messages).toHaveLength(8)
    expect(page).toMatchObject({ hasBefore: false, hasAfter: true })
    forward.push(...page.messages.map((m) => m.id))
    while (page.hasAfter) {
      page = await history.page(BOB, { limit: 1000, after: forward.at(-1)! })
      forward.push(...page.messages.map((m) => m.id))
    }
    expect(forward).toEqual(ids)
    const backward: string[] = []
    page = await history.page(BOB, { limit: 1000, before: ids[39] })
    expect(page.messages.map((m) => m.id)).toEqual(ids.slice(31, 39))
    expect(page).toMatchObject({ hasBefore: true, hasAfter: true })
    backward.unshift(...page.messages.map((m) => m.id))
    while (page.hasBefore) {
      page = await history.page(BOB, { limit: 1000, before: backward[0]! })
      backward.unshift(...page.messages.map((m) => m.id))
    }
    expect(backward).toEqual(ids.slice(0, 39))
  })

  it('records delivery states and reads, never drops a delivered message, and prunes only by the retention asked for', async () => {
    const { history, setNow } = await aliceHistory()
    const old = createIdGenerator({ now: () => NOW - 10 * 86_400_000 })()
    const fresh = createIdGenerator({ now: () => NOW })()
    const incoming = createIdGenerator({ now: () => NOW + 1 })()
    await history.recordSent(msg(old), [BOB_PHONE, BOB_LAPTOP])
    await history.recordSent(msg(fresh), [BOB_PHONE])
    await history.recordReceived({ ...msg(incoming, { from: BOB, fromDevice: BOB_PHONE, to: ALICE }), receivedAt: NOW + 2 }, ALICE)
    await history.delivery(BOB, old, BOB_PHONE, 'delivered', NOW + 5)
    await history.delivery(BOB, old, BOB_LAPTOP, 'expired', NOW + 6)
    await history.readBy(BOB, fresh, BOB_PHONE, NOW + 7)
    await history.markRead(BOB, incoming, NOW + 8)
    // an older outcome arriving late does not undo delivered
    await history.delivery(BOB, old, BOB_PHONE, 'expired', NOW + 9)
    setNow(NOW + 86_400_000)
    const page = await history.page(BOB)
    expect(page.messages.map((m) => [m.id, m.state, m.read])).toEqual([
      [old, 'delivered', false],
      [fresh, 'read', true],
      [incoming, 'read', true],
    ])
    expect(page.messages[0]!.devices).toEqual([
      { deviceId: BOB_PHONE, state: 'delivered', at: NOW + 5 },
      { deviceId: BOB_LAPTOP, state: 'expired', at: NOW + 6 },
    ])
    expect(page.messages[2]).toMatchObject({ readAt: NOW + 8 })
    // a week's retention removes only the 10-day-old message
    expect(await history.prune(7 * 86_400_000)).toBe(1)
    expect((await history.page(BOB)).messages.map((m) => m.id)).toEqual([fresh, incoming])
  })

  it('a delivery or read patch after its own write sends the update without reading the entry; another writer in between is caught by the revision and kept', async () => {
    const js = await jetstream(cleanup)
    const kv = await js.bucket('history')
    const gets: string[] = []
    // the bucket's own methods (batches left out: the store falls back to one call each), reads counted
    const counted: KvStore = {
      ...plainKv(kv),
      get: (k) => {
        gets.push(k)
        return kv.get(k)
      },
    }
    const history = new HistoryStore({ kv: counted, now: () => NOW })
    const [sent, received] = [createIdGenerator({ now: () => NOW })(), createIdGenerator({ now: () => NOW + 1 })()]
    await history.recordSent(msg(sent), [BOB_PHONE, BOB_LAPTOP])
    await history.recordReceived({ ...msg(received, { from: BOB, fromDevice: BOB_PHONE, to: ALICE }), receivedAt: NOW + 2 }, ALICE)
    gets.length = 0
    await history.delivery(BOB, sent, BOB_PHONE, 'delivered', NOW + 3)
    await history.markRead(BOB, received, NOW + 4)
    expect(gets).toEqual([])
    // another store on the bucket (another process) writes the sent entry: the next patch's update conflicts, reads, merges
    await new HistoryStore({ kv, now: () => NOW }).delivery(BOB, sent, BOB_LAPTOP, 'expired', NOW + 5)
    await history.readBy(BOB, sent, BOB_PHONE, NOW + 6)
    expect(gets).toEqual([`m.${BOB}.${sent}`])
    const stored = await new HistoryStore({ kv }).entry(BOB, sent)
    expect(stored?.devices).toEqual([
      { deviceId: BOB_PHONE, state: 'delivered', at: NOW + 3, readAt: NOW + 6 },
      { deviceId: BOB_LAPTOP, state: 'expired', at: NOW + 5 },
    ])
    expect(await new HistoryStore({ kv }).entry(BOB, received)).toMatchObject({ readAt: NOW + 4 })
  })

  it('a delivery or read asked for before the sent entry was written still finds it: a conversation\'s writes run in the order asked', async () => {
    // outbox.send starts the delivery without waiting for the history: an outcome can come before the entry is stored.
    const { history, reopen } = await aliceHistory()
    const gen = createIdGenerator({ now: () => NOW })
    const ids = Array.from({ length: 20 }, () => gen())
    await Promise.all(
      ids.flatMap((id, i) => [
        history.recordSent(msg(id), [BOB_PHONE, BOB_LAPTOP]),
        history.delivery(BOB, id, BOB_PHONE, 'delivered', NOW + i),
        history.readBy(BOB, id, BOB_LAPTOP, NOW + 100 + i),
      ]),
    )
    for (const h of [history, reopen()]) {
      for (const [i, id] of ids.entries()) {
        expect((await h.entry(BOB, id))?.devices).toEqual([
          { deviceId: BOB_PHONE, state: 'delivered', at: NOW + i },
          { deviceId: BOB_LAPTOP, state: 'delivered', at: NOW + 100 + i, readAt: NOW + 100 + i },
        ])
      }
    }
  })

  it('detects a gap from a prev link it does not hold, and closes it when the missing message arrives', async () => {
    const { history } = await aliceHistory()
    const gen = createIdGenerator({ now: () => NOW })
    const [m1, m2, m3] = [gen(), gen(), gen()]
    const fromBob = (id: string, prev?: string) => ({ ...msg(id, { from: BOB, fromDevice: BOB_PHONE, to: ALICE, ...(prev ? { prev } : {}) }), receivedAt: NOW })
    await history.recordReceived(fromBob(m1), ALICE)
    await history.recordReceived(fromBob(m3, m2), ALICE)
    let page = await history.page(BOB)
    expect(page.gaps).toEqual([m2])
    expect(page.messages.map((m) => m.prev)).toEqual([undefined, m2])
    await history.recordReceived(fromBob(m2, m1), ALICE)
    page = await history.page(BOB)
    expect(page.gaps).toEqual([])
    expect(page.messages.map((m) => m.id)).toEqual([m1, m2, m3])
  })

  it('hands out prev links per sending device and conversation, durably; a released claim is not linked to', async () => {
    const { history, reopen } = await aliceHistory()
    const gen = createIdGenerator({ now: () => NOW })
    const [a, b, c, d, e] = [gen(), gen(), gen(), gen(), gen()]
    expect(await history.claimPrev(BOB, ALICE_PHONE, a)).toBeUndefined()
    await history.recordSent(msg(a))
    expect(await history.claimPrev(BOB, ALICE_PHONE, b)).toBe(a)
    await history.recordSent(msg(b, { prev: a }))
    // another device, another conversation: their own chains
    expect(await history.claimPrev(BOB, ALICE_LAPTOP, c)).toBeUndefined()
    expect(await history.claimPrev(CAROL, ALICE_PHONE, c)).toBeUndefined()
    // c was never stored: released, so d links to b
    expect(await history.claimPrev(BOB, ALICE_PHONE, c)).toBe(b)
    history.releasePrev(BOB, ALICE_PHONE, c, b)
    expect(await history.claimPrev(BOB, ALICE_PHONE, d)).toBe(b)
    await history.recordSent(msg(d, { prev: b }))
    // an ID not above the head (a retried send) gets no link
    expect(await history.claimPrev(BOB, ALICE_PHONE, a)).toBeUndefined()
    // after a restart, the head comes from the bucket
    expect(await reopen().claimPrev(BOB, ALICE_PHONE, e)).toBe(d)
  })

  it('merges another device’s copy of a message idempotently', async () => {
    const { history } = await aliceHistory()
    const id = createIdGenerator({ now: () => NOW })()
    await history.recordSent(msg(id), [BOB_PHONE])
    const theirs: HistoryEntry = {
      v: 1,
      id,
      peer: BOB,
      direction: 'out',
      from: ALICE,
      fromDevice: ALICE_PHONE,
      to: BOB,
      body: `body ${id}`,
      sentAt: NOW,
      storedAt: NOW + 3,
      devices: [{ deviceId: BOB_PHONE, state: 'delivered', at: NOW + 4, readAt: NOW + 5 }],
      updatedAt: NOW + 5,
    }
    expect(await history.mergeCopies([theirs])).toBe(1)
    expect(await history.mergeCopies([theirs])).toBe(0)
    expect(await history.entry(BOB, id)).toMatchObject({ storedAt: NOW, devices: [{ deviceId: BOB_PHONE, state: 'delivered', at: NOW + 4, readAt: NOW + 5 }] })
    expect((await history.page(BOB)).messages[0]).toMatchObject({ state: 'read', read: true, readAt: NOW + 5 })
  })
})

describe('merging two copies of a history entry', () => {
  const device = fc.record(
    {
      deviceId: fc.constantFrom(BOB_PHONE, BOB_LAPTOP),
      state: fc.constantFrom('queued', 'delivered', 'expired', 'rejected') as fc.Arbitrary<'queued' | 'delivered' | 'expired' | 'rejected'>,
      at: fc.integer({ min: 0, max: 1000 }),
      readAt: fc.integer({ min: 0, max: 1000 }),
    },
    { requiredKeys: ['deviceId', 'state'] },
  )
  const copy = fc.record(
    {
      storedAt: fc.integer({ min: 0, max: 1000 }),
      updatedAt: fc.integer({ min: 0, max: 1000 }),
      devices: fc.array(device, { maxLength: 3 }),
      readAt: fc.integer({ min: 0, max: 1000 }),
    },
    { requiredKeys: ['storedAt', 'updatedAt'] },
  ).map((c): HistoryEntry => {
    const devices = new Map((c.devices ?? []).map((d) => [d.deviceId, d]))
    const { devices: _d, ...rest } = c
    return {
      v: 1,
      id: '01HZZZZZZZZZZZZZZZZZZZZZZZ',
      peer: BOB,
      direction: 'out',
      from: ALICE,
      fromDevice: ALICE_PHONE,
      to: BOB,
      body: 'x',
      sentAt: 0,
      ...rest,
      ...(devices.size ? { devices: [...devices.values()].sort((x, y) => (x.deviceId < y.deviceId ? -1 : 1)) } : {}),
    }
  })

  it('is commutative, associative and idempotent (a join: every device ends with the same entry whatever the order)', () => {
    fc.assert(
      fc.property(copy, copy, copy, (a, b, c) => {
        expect(sameEntry(mergeEntries(a, b), mergeEntries(b, a))).toBe(true)
        expect(sameEntry(mergeEntries(mergeEntries(a, b), c), mergeEntries(a, mergeEntries(b, c)))).toBe(true)
        const ab = mergeEntries(a, b)
        expect(sameEntry(mergeEntries(ab, ab), ab)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('sums a message up in one word', () => {
    const base = { v: 1 as const, id: '01HZZZZZZZZZZZZZZZZZZZZZZZ', peer: BOB, from: ALICE, fromDevice: ALICE_PHONE, to: BOB, body: '', sentAt: 0, storedAt: 0, updatedAt: 0 }
    expect(summaryState({ ...base, direction: 'in' })).toBe('received')
    expect(summaryState({ ...base, direction: 'out', devices: [{ deviceId: BOB_PHONE, state: 'rejected' }, { deviceId: BOB_LAPTOP, state: 'expired' }] })).toBe('rejected')
    expect(summaryState({ ...base, direction: 'out', devices: [{ deviceId: BOB_PHONE, state: 'queued' }, { deviceId: BOB_LAPTOP, state: 'delivered' }] })).toBe('delivered')
  })
})
