import { SyncAnswerSchema, type SyncRequest, SyncRequestSchema } from '@baran/bus'
import { Cleanup } from '@baran/testkit'
import { canonicalEncode, mergeLww } from '@baran/trust'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { type HistoryEntry, mergeEntries } from '../src/lib/history-entry.ts'
import { historySource, pullHistory, type SyncLocal } from '../src/lib/history-pull.ts'
import { HistoryStore } from '../src/lib/history.ts'
import {
  compareRanges,
  digestOf,
  entryHash,
  summarizeConversation,
  summarizeRanges,
  type SyncItem,
  wanted,
  xorDigest,
} from '../src/lib/history-sync.ts'
import { createIdGenerator, newMessageId } from '../src/lib/ids.ts'
import { answerSync, remoteOver } from '../src/lib/sync-wire.ts'
import { ALICE, ALICE_LAPTOP, ALICE_PHONE, BOB, BOB_LAPTOP, BOB_PHONE, CAROL, jetstream, plainKv } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const NOW = Date.UTC(2026, 0, 1)

function entry(id: string, over: Partial<HistoryEntry> = {}): HistoryEntry {
  return { v: 1, id, peer: BOB, direction: 'in', from: BOB, fromDevice: BOB_PHONE, to: ALICE, body: `b ${id}`, sentAt: NOW, storedAt: NOW, updatedAt: NOW, ...over }
}

/** A device's history held in memory (for the pure properties; the JetStream store is tested below). */
class MemoryHistory implements SyncLocal {
  byPeer = new Map<string, Map<string, HistoryEntry>>()
  constructor(entries: HistoryEntry[] = []) {
    for (const e of entries) this.#merge(e)
  }
  async summaries() {
    return [...this.byPeer.keys()].sort().map((p) => summarizeConversation(p, this.items(p)))
  }
  items(peer: string): SyncItem[] {
    return [...(this.byPeer.get(peer)?.values() ?? [])].map((e) => ({ id: e.id, hash: entryHash(e) })).sort((a, b) => (a.id < b.id ? -1 : 1))
  }
  async syncItems(peer: string) {
    return this.items(peer)
  }
  async entries(peer: string, ids: readonly string[]) {
    return ids.map((id) => this.byPeer.get(peer)?.get(id)).filter((e): e is HistoryEntry => e !== undefined)
  }
  async mergeCopies(entries: HistoryEntry[]) {
    return entries.filter((e) => this.#merge(e)).length
  }
  #merge(e: HistoryEntry): boolean {
    let conv = this.byPeer.get(e.peer)
    if (!conv) {
      conv = new Map()
      this.byPeer.set(e.peer, conv)
    }
    const known = conv.get(e.id)
    const next = known ? mergeEntries(known, e) : e
    conv.set(e.id, next)
    return !known || entryHash(known) !== entryHash(next)
  }
}

describe('history sync, pure', () => {
  it('a message hash is the sha-256 of its synced fields in canonical form (it is stored and compared across versions)', () => {
    const e = entry(newMessageId(), { direction: 'out', devices: [{ deviceId: ALICE_PHONE, state: 'delivered', at: NOW, readAt: NOW + 1 }], prev: newMessageId() })
    const { storedAt: _s, updatedAt: _u, body: _b, sealed: _x, ...synced } = e
    expect(entryHash(e)).toBe(createHash('sha256').update(canonicalEncode(synced)).digest('hex').slice(0, 32))
    expect(entryHash({ ...e, body: 'other', storedAt: 1, updatedAt: 2 })).toBe(entryHash(e))
  })

  it('digests are order-free and updatable one hash at a time', () => {
    const hashes = ['0123456789abcdef0123456789abcdef', 'ffffffff00000000ffffffff00000000', '00000000000000000000000000000001']
    expect(digestOf(hashes)).toBe(digestOf([...hashes].reverse()))
    expect(xorDigest(digestOf(hashes.slice(0, 2)), hashes[2]!)).toBe(digestOf(hashes))
    expect(xorDigest(digestOf(hashes), hashes[2]!)).toBe(digestOf(hashes.slice(0, 2)))
  })

  it('compares ranges: equal ones skipped, small or one-sided ones listed, large differing ones refined', () => {
    const gen = createIdGenerator({ now: () => NOW })
    const items = Array.from({ length: 100 }, () => ({ id: gen(), hash: '1'.repeat(32) }))
    const mine = summarizeRanges(items.slice(0, 90), 8)
    const theirs = summarizeRanges(items, 8)
    expect(compareRanges(mine, mine)).toEqual({ refine: [], list: [] })
    // all 100 IDs share one 8-char prefix (one millisecond): differing and large → refine
    expect(compareRanges(mine, theirs)).toEqual({ refine: [items[0]!.id.slice(0, 8)], list: [] })
    expect(compareRanges([], theirs)).toEqual({ refine: [], list: [items[0]!.id.slice(0, 8)] })
    expect(wanted(items.slice(0, 90), [...items.slice(85), { id: items[0]!.id, hash: '2'.repeat(32) }])).toEqual([items[0]!.id, ...items.slice(90).map((i) => i.id)].sort())
  })

  it('last writer wins with a device tiebreak, the same whichever merges', () => {
    const a = { value: 'Bob', at: 5, device: ALICE_PHONE }
    const b = { value: 'Robert', at: 5, device: ALICE_LAPTOP }
    const gone = { value: null, at: 6, device: ALICE_PHONE }
    expect(mergeLww(a, b)).toBe(mergeLww(b, a))
    expect(mergeLww(a, b)?.value).toBe(ALICE_LAPTOP > ALICE_PHONE ? 'Robert' : 'Bob')
    expect(mergeLww(mergeLww(a, gone), b)?.value).toBeNull()
  })

  it('pulling both ways makes any two histories identical (property)', async () => {
    const gen = createIdGenerator({ now: () => NOW })
    const pool = Array.from({ length: 400 }, () => gen())
    const copy = fc.record({
      i: fc.integer({ min: 0, max: pool.length - 1 }),
      peer: fc.constantFrom(BOB, CAROL),
      read: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(copy, { maxLength: 300 }), fc.array(copy, { maxLength: 300 }), async (xs, ys) => {
        const make = (cs: typeof xs) =>
          new MemoryHistory(cs.map((c) => entry(pool[c.i]!, { peer: c.peer, from: c.peer, ...(c.read === undefined ? {} : { readAt: NOW + c.read }) })))
        const b = make(xs)
        const c = make(ys)
        await pullHistory(c, historySource(b), { pageSize: 7 })
        await pullHistory(b, historySource(c), { pageSize: 7 })
        expect(await c.summaries()).toEqual(await b.summaries())
        // nothing new: a second round fetches nothing
        expect(await pullHistory(c, historySource(b))).toEqual({ conversations: 0, fetched: 0, changed: 0 })
      }),
      { numRuns: 40 },
    )
  })
})

/** Bob's two devices' histories (Bob's conversation with Alice), each on its own JetStream bucket. */
async function bobDevices() {
  const js = await jetstream(cleanup)
  const now = () => NOW
  const phone = new HistoryStore({ kv: await js.bucket('history'), now })
  const laptopKv = await js.bucket('history')
  return { phone, laptop: new HistoryStore({ kv: laptopKv, now }), reopenLaptop: () => new HistoryStore({ kv: laptopKv, now }) }
}

/** n messages between Alice and Bob on Bob's phone: alternating directions, delivered and read ones among them. */
async function converse(phone: HistoryStore, n: number, start = NOW): Promise<string[]> {
  const gen = createIdGenerator({ now: () => start })
  const ids = Array.from({ length: n }, () => gen())
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id, j) => {
        const k = i + j
        if (k % 2 === 0) {
          await phone.recordSent({ id, from: BOB, fromDevice: BOB_PHONE, to: ALICE, body: `to Alice ${k}`, sentAt: NOW }, [ALICE_PHONE])
          if (k % 4 === 0) await phone.delivery(ALICE, id, ALICE_PHONE, 'delivered', NOW + k)
        } else {
          await phone.recordReceived({ id, from: ALICE, fromDevice: ALICE_PHONE, to: BOB, body: `to Bob ${k}`, sentAt: NOW, receivedAt: NOW + k }, BOB)
          if (k % 3 === 0) await phone.markRead(ALICE, id, NOW + k)
        }
      }),
    )
  }
  return ids
}

describe('history sync between two devices (real JetStream KV)', () => {
  it('backfills a new device with 1,000 messages in order with their states; a second sync fetches nothing', async () => {
    const { phone, laptop } = await bobDevices()
    const ids = await converse(phone, 1000)
    const first = await pullHistory(laptop, historySource(phone))
    expect(first).toEqual({ conversations: 1, fetched: 1000, changed: 1000 })
    const seen: string[] = []
    const states: string[] = []
    let after: string | undefined
    for (let round = 0; round < 20; round++) {
      const page = await laptop.page(ALICE, { limit: 100, ...(after ? { after } : {}) })
      seen.push(...page.messages.map((m) => m.id))
      states.push(...page.messages.map((m) => m.state))
      if (!page.hasAfter) break
      after = page.messages.at(-1)!.id
    }
    expect(seen).toEqual(ids)
    const onPhone = await phone.page(ALICE, { limit: 1000 })
    expect(states).toEqual(onPhone.messages.map((m) => m.state))
    expect(new Set(states)).toEqual(new Set(['delivered', 'queued', 'read', 'received']))
    expect(await laptop.summaries()).toEqual(await phone.summaries())
    expect(await pullHistory(laptop, historySource(phone))).toEqual({ conversations: 0, fetched: 0, changed: 0 })
  })

  it('merges concurrent changes on both devices (read on one, delivered on the other): both ways, identical', async () => {
    const { phone, laptop } = await bobDevices()
    const ids = await converse(phone, 40)
    await pullHistory(laptop, historySource(phone))
    const received = ids[1]!
    const sent = ids[2]!
    await laptop.markRead(ALICE, received, NOW + 500)
    await phone.delivery(ALICE, sent, ALICE_PHONE, 'delivered', NOW + 600)
    await phone.readBy(ALICE, sent, ALICE_LAPTOP, NOW + 700)
    // a message only the laptop has (sent from it)
    const fromLaptop = createIdGenerator({ now: () => NOW + 1000 })()
    await laptop.recordSent({ id: fromLaptop, from: BOB, fromDevice: BOB_LAPTOP, to: ALICE, body: 'from the laptop', sentAt: NOW + 1000 }, [ALICE_PHONE])
    await pullHistory(phone, historySource(laptop))
    await pullHistory(laptop, historySource(phone))
    expect(await laptop.summaries()).toEqual(await phone.summaries())
    for (const h of [phone, laptop]) {
      const all = (await h.page(ALICE, { limit: 1000 })).messages
      expect(all.find((m) => m.id === received)).toMatchObject({ state: 'read', readAt: NOW + 500 })
      expect(all.find((m) => m.id === sent)).toMatchObject({ state: 'read' })
      expect(all.at(-1)).toMatchObject({ id: fromLaptop, direction: 'out', body: 'from the laptop' })
    }
  })

  it('sync hashes read in one pass stay right for messages written during the pass; without ranged reads, per conversation', async () => {
    const js = await jetstream(cleanup)
    const kv = await js.bucket('history')
    const phone = new HistoryStore({ kv, now: () => NOW })
    const ids = await converse(phone, 300)
    const cold = new HistoryStore({ kv, now: () => NOW })
    // the first summaries() reads the whole stream (and lists the conversations from it); reads, deliveries and a
    // new conversation land meanwhile
    const carolFirst = newMessageId()
    const [during] = await Promise.all([
      cold.summaries(),
      ...ids.filter((_, k) => k % 2 === 1).map((id) => cold.markRead(ALICE, id, NOW + 5000)),
      ...ids.filter((_, k) => k % 2 === 0).map((id) => cold.delivery(ALICE, id, ALICE_PHONE, 'delivered', NOW + 5000)),
      cold.mergeCopies([entry(carolFirst, { peer: CAROL, from: CAROL, fromDevice: CAROL })]),
    ])
    expect(during.length).toBeGreaterThanOrEqual(1)
    const fresh = new HistoryStore({ kv, now: () => NOW })
    expect((await fresh.summaries()).map((c) => c.peer).sort()).toEqual([ALICE, CAROL].sort())
    expect(await cold.summaries()).toEqual(await fresh.summaries())
    expect(await cold.peers()).toEqual(await fresh.peers())
    // a bucket without range/state (a plain KvStore): hashes are read per conversation, same result
    const plain = new HistoryStore({ kv: plainKv(kv), now: () => NOW })
    expect(await plain.summaries()).toEqual(await fresh.summaries())
    const read = (await fresh.page(ALICE, { limit: 1000 })).messages
    expect(read.filter((m) => m.direction === 'in').every((m) => m.read)).toBe(true)
    expect(read.filter((m) => m.direction === 'out').every((m) => m.state === 'delivered')).toBe(true)
  })

  it('a sync cut short resumes where it stopped and ends identical, nothing twice', async () => {
    const { phone, laptop, reopenLaptop } = await bobDevices()
    await converse(phone, 600)
    const abort = new AbortController()
    let pages = 0
    await expect(
      pullHistory(laptop, historySource(phone), {
        pageSize: 100,
        window: 1,
        signal: abort.signal,
        onPage: () => {
          if (++pages === 2) abort.abort(new Error('connection lost'))
        },
      }),
    ).rejects.toThrow('connection lost')
    // as after a restart of the laptop: a fresh store on the same bucket
    const again = reopenLaptop()
    expect((await again.page(ALICE, { limit: 1000 })).total).toBe(200)
    const rest = await pullHistory(again, historySource(phone), { pageSize: 100 })
    expect(rest).toEqual({ conversations: 1, fetched: 400, changed: 400 })
    expect(await again.summaries()).toEqual(await phone.summaries())
    expect((await again.page(ALICE, { limit: 1000 })).total).toBe(600)
  })
})

describe('history sync over bounded messages (sync-wire: what transport carries)', () => {
  it('follows every part (lists, a fetch cut by size), validates each answer, and stores sent bodies its own way with equal digests', async () => {
    const { phone, laptop } = await bobDevices()
    const ids = await converse(phone, 120)
    // the phone keeps what it sent sealed; it opens each before it goes, the laptop seals it to itself
    const sealedOnPhone = createIdGenerator({ now: () => NOW + 60_000 })()
    await phone.recordSent({ id: sealedOnPhone, from: BOB, fromDevice: BOB_PHONE, to: ALICE, sealed: 'sealed-to-phone:kept sealed', sentAt: NOW + 60_000 }, [ALICE_PHONE])
    expect(ids).toHaveLength(120)
    const asked: SyncRequest[] = []
    const remote = remoteOver(async (req) => {
      asked.push(SyncRequestSchema.parse(req))
      const answer = await answerSync(phone, req, {
        maxList: 7,
        maxBytes: 4_000,
        open: async (e) => (e.sealed === undefined ? e : { ...e, sealed: undefined, body: e.sealed.replace('sealed-to-phone:', '') }),
      })
      return SyncAnswerSchema.parse(answer)
    })
    const sealedHere: string[] = []
    const local: SyncLocal = {
      summaries: () => laptop.summaries(),
      syncItems: (p) => laptop.syncItems(p),
      mergeCopies: (entries) =>
        laptop.mergeCopies(
          entries.map((e) => {
            if (e.direction !== 'out' || e.body === undefined) return e
            sealedHere.push(e.id)
            const { body, ...rest } = e
            return { ...rest, sealed: `sealed-to-laptop:${body}` }
          }),
        ),
    }
    expect(await pullHistory(local, remote)).toEqual({ conversations: 1, fetched: 121, changed: 121 })
    // parts: more than one items list and fetches stopped by size (`next`), none above its bound
    expect(asked.filter((r) => r.op === 'items').length).toBeGreaterThan(1)
    expect(asked.filter((r) => r.op === 'fetch').length).toBeGreaterThan(Math.ceil(121 / 200))
    expect(sealedHere).toHaveLength(61)
    expect((await laptop.entry(ALICE, sealedOnPhone))?.sealed).toBe('sealed-to-laptop:kept sealed')
    // held differently (sealed to each device), summed up the same
    expect(await laptop.summaries()).toEqual(await phone.summaries())
    expect(await pullHistory(local, remote)).toEqual({ conversations: 0, fetched: 0, changed: 0 })
  })

  it('an answer that does not move on, or stops a fetch past its ids, fails instead of looping', async () => {
    const stuck = remoteOver(async () => ({ op: 'conversations', conversations: [], more: true }))
    await expect(stuck.conversations()).rejects.toMatchObject({ code: 'sync_protocol' })
    const wrongOp = remoteOver(async () => ({ op: 'items', items: [], more: false }))
    await expect(wrongOp.conversations()).rejects.toMatchObject({ code: 'sync_protocol' })
    const id = createIdGenerator({ now: () => NOW })()
    const past = remoteOver(async () => ({ op: 'fetch', entries: [], next: 5 }))
    await expect(past.fetch(ALICE, [id])).rejects.toMatchObject({ code: 'unexpected_sync_entry' })
  })
})
