import type { KvBucket } from '@baran/bus'
import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeSnapshot, encodeSnapshot, ITEMS_PER_CHUNK, SNAPSHOT_FIRST_KEY } from '../src/lib/history-hash-snapshot.ts'
import { HistoryStore } from '../src/lib/history.ts'
import { createIdGenerator } from '../src/lib/ids.ts'
import { encodeJsonValue, type OrderedKvStore } from '../src/lib/kv.ts'
import { ALICE, ALICE_PHONE, BOB, BOB_PHONE, CAROL, jetstream, plainKv } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const NOW = Date.UTC(2026, 0, 1)
const hex = (n: number) => n.toString(16).padStart(32, '0')

describe('sync hash snapshot (format)', () => {
  const nextId = createIdGenerator({ now: () => NOW })
  const byPeer = new Map([
    [ALICE, new Map(Array.from({ length: ITEMS_PER_CHUNK + 10 }, (_, i) => [nextId(), hex(i)] as const))],
    [CAROL, new Map(Array.from({ length: 5 }, (_, i) => [nextId(), hex(1000 + i)] as const))],
  ])

  it('round-trips across chunks (a conversation split between two)', () => {
    const chunks = encodeSnapshot(byPeer, 42)
    expect(chunks).toHaveLength(2)
    expect(decodeSnapshot(chunks)).toEqual({ seq: 42, byPeer })
    expect(decodeSnapshot(encodeSnapshot(new Map(), 7))).toEqual({ seq: 7, byPeer: new Map() })
  })

  it('is no snapshot when a chunk is missing, from another snapshot, out of place or malformed', () => {
    const [a, b] = encodeSnapshot(byPeer, 42)
    const [, otherB] = encodeSnapshot(byPeer, 43)
    expect(decodeSnapshot([a!])).toBeUndefined()
    expect(decodeSnapshot([a!, undefined])).toBeUndefined()
    expect(decodeSnapshot([a!, otherB!])).toBeUndefined()
    expect(decodeSnapshot([b!, a!])).toBeUndefined()
    for (const bad of ['not json', '{}', JSON.stringify({ v: 2, seq: 1, n: 0, of: 1, peers: {} })]) {
      expect(decodeSnapshot([new TextEncoder().encode(bad)])).toBeUndefined()
    }
    // a hash that is not hex, an item cut short, a peer that is not an account ID
    const one = (peers: Record<string, string>) => [encodeJsonValue({ v: 1, seq: 1, n: 0, of: 1, peers })]
    const id = nextId()
    expect(decodeSnapshot(one({ [ALICE]: `${id}${'z'.repeat(32)}` }))).toBeUndefined()
    expect(decodeSnapshot(one({ [ALICE]: `${id}${hex(1).slice(1)}` }))).toBeUndefined()
    expect(decodeSnapshot(one({ nobody: `${id}${hex(1)}` }))).toBeUndefined()
    expect(decodeSnapshot(one({ [ALICE]: `${id}${hex(1)}` }))?.byPeer.get(ALICE)?.get(id)).toBe(hex(1))
  })
})

/** The bucket, counting the messages a store reads in ranges (a restart with a snapshot reads only the newer ones). */
function counting(kv: KvBucket): { kv: OrderedKvStore; read: { messages: number } } {
  const read = { messages: 0 }
  return {
    read,
    kv: {
      get: (k) => kv.get(k),
      getMany: (ks) => kv.getMany(ks),
      create: (k, v) => kv.create(k, v),
      createMany: (es) => kv.createMany(es),
      update: (k, v, r) => kv.update(k, v, r),
      put: (k, v) => kv.put(k, v),
      delete: (k) => kv.delete(k),
      keys: (f) => kv.keys(f),
      entries: () => kv.entries(),
      state: () => kv.state(),
      range: async (from, max, until) => {
        const out = await kv.range(from, max, until)
        read.messages += out.filter((e) => e.key.startsWith('m.')).length
        return out
      },
    },
  }
}

async function fill(h: HistoryStore, n: number, at: number): Promise<string[]> {
  const nextId = createIdGenerator({ now: () => at })
  const ids: string[] = []
  for (let k = 0; k < n; k++) {
    const id = nextId()
    ids.push(id)
    const peer = k % 3 === 0 ? CAROL : ALICE
    if (k % 2 === 0) await h.recordSent({ id, from: BOB, fromDevice: BOB_PHONE, to: peer, body: `${k}`, sentAt: at }, [ALICE_PHONE])
    else await h.recordReceived({ id, from: peer, fromDevice: peer, to: BOB, body: `${k}`, sentAt: at, receivedAt: at + k }, BOB)
  }
  return ids
}

describe('sync hash snapshot (real JetStream KV)', () => {
  it('a restarted store reads the snapshot and only what was written after it, with the same summaries', async () => {
    const js = await jetstream(cleanup)
    const bucket = await js.bucket('history')
    const ids = await fill(new HistoryStore({ kv: bucket, now: () => NOW }), 1200, NOW)
    const first = new HistoryStore({ kv: counting(bucket).kv, now: () => NOW })
    const summaries = await first.summaries()
    await first.hashesSaved()
    expect(await bucket.get(SNAPSHOT_FIRST_KEY)).toBeDefined()
    // after it: new messages, a read marker, a delivery (written through another store: a restart in between)
    const writer = new HistoryStore({ kv: bucket, now: () => NOW })
    await fill(writer, 30, NOW + 10_000)
    await writer.markRead(ALICE, ids[1]!, NOW + 20_000)
    await writer.delivery(CAROL, ids[0]!, ALICE_PHONE, 'delivered', NOW + 20_000)
    const restarted = counting(bucket)
    const again = await new HistoryStore({ kv: restarted.kv, now: () => NOW }).summaries()
    expect(restarted.read.messages).toBe(32)
    expect(again).toEqual(await new HistoryStore({ kv: plainKv(bucket), now: () => NOW }).summaries())
    expect(again).not.toEqual(summaries)
  })

  it('keeps up while running: messages written after the load are in the next snapshot, a new conversation too', async () => {
    const js = await jetstream(cleanup)
    const bucket = await js.bucket('history')
    const h = new HistoryStore({ kv: bucket, now: () => NOW })
    await fill(h, 300, NOW)
    await h.summaries()
    await h.hashesSaved()
    // more than the threshold since: a new conversation begins (with Bob's own account as the peer: any ID)
    await fill(h, 1100, NOW + 10_000)
    const dave = 'd1'.repeat(20)
    await h.recordReceived({ id: createIdGenerator({ now: () => NOW + 50_000 })(), from: dave, fromDevice: dave, to: BOB, body: 'hi', sentAt: NOW, receivedAt: NOW }, BOB)
    const running = await h.summaries()
    await h.hashesSaved()
    const restarted = counting(bucket)
    expect(await new HistoryStore({ kv: restarted.kv, now: () => NOW }).summaries()).toEqual(running)
    expect(restarted.read.messages).toBe(0)
    expect(running.map((c) => c.peer)).toContain(dave)
  })

  it('pruning drops the snapshot first: a restart does not count pruned messages', async () => {
    const js = await jetstream(cleanup)
    const bucket = await js.bucket('history')
    const h = new HistoryStore({ kv: bucket, now: () => NOW })
    await fill(h, 200, NOW - 86_400_000)
    await fill(h, 100, NOW)
    await h.summaries()
    await h.hashesSaved()
    expect(await h.prune(3_600_000)).toBe(200)
    const restarted = await new HistoryStore({ kv: bucket, now: () => NOW }).summaries()
    expect(restarted.reduce((n, c) => n + c.count, 0)).toBe(100)
    expect(restarted).toEqual(await h.summaries())
    expect(restarted).toEqual(await new HistoryStore({ kv: plainKv(bucket), now: () => NOW }).summaries())
  })

  it('a prune that overlaps a snapshot being written leaves no snapshot that counts the pruned messages', async () => {
    const js = await jetstream(cleanup)
    for (const pruneFirst of [false, true]) {
      const bucket = await js.bucket('history')
      const h = new HistoryStore({ kv: bucket, now: () => NOW })
      await fill(h, 300, NOW - 86_400_000)
      await h.summaries()
      await h.hashesSaved()
      // enough changes for the next summaries() to write a snapshot, then both at once
      await fill(h, 1100, NOW)
      let pruned: number
      if (pruneFirst) {
        // the sync asks once the prune has dropped the old snapshot and is deleting messages
        const pruning = h.prune(3_600_000)
        for (let i = 0; i < 200 && (await bucket.get(SNAPSHOT_FIRST_KEY)) !== undefined; i++) await new Promise((r) => setTimeout(r, 5))
        await h.summaries()
        pruned = await pruning
      } else {
        ;[, pruned] = await Promise.all([h.summaries(), h.prune(3_600_000)])
      }
      expect(pruned).toBe(300)
      await h.hashesSaved()
      const restarted = await new HistoryStore({ kv: bucket, now: () => NOW }).summaries()
      expect(restarted.reduce((n, c) => n + c.count, 0)).toBe(1100)
      expect(restarted).toEqual(await new HistoryStore({ kv: plainKv(bucket), now: () => NOW }).summaries())
    }
  })

  it('a damaged or half-written snapshot is ignored: everything is read again, summaries right', async () => {
    const js = await jetstream(cleanup)
    const bucket = await js.bucket('history')
    await fill(new HistoryStore({ kv: bucket, now: () => NOW }), ITEMS_PER_CHUNK + 300, NOW)
    const first = new HistoryStore({ kv: bucket, now: () => NOW })
    const right = await first.summaries()
    await first.hashesSaved()
    const chunk1 = (await bucket.get('s.hashes.1'))!.value
    expect(chunk1.length).toBeGreaterThan(0)
    for (const damage of [new TextEncoder().encode('{"v":1'), encodeSnapshot(new Map(), 1)[0]!]) {
      await bucket.put('s.hashes.1', damage)
      const restarted = counting(bucket)
      const store = new HistoryStore({ kv: restarted.kv, now: () => NOW })
      expect(await store.summaries()).toEqual(right)
      expect(restarted.read.messages).toBe(ITEMS_PER_CHUNK + 300)
      await store.hashesSaved()
    }
    // the full read wrote a good one again
    const restarted = counting(bucket)
    expect(await new HistoryStore({ kv: restarted.kv, now: () => NOW }).summaries()).toEqual(right)
    expect(restarted.read.messages).toBe(0)
  })
})

describe('sync hash snapshot from an empty start', () => {
  it('a device whose history began empty writes its first snapshot once enough was written', async () => {
    const js = await jetstream(cleanup)
    const bucket = await js.bucket('history')
    const h = new HistoryStore({ kv: bucket, now: () => NOW })
    expect(await h.summaries()).toEqual([])
    await fill(h, 1100, NOW)
    const running = await h.summaries()
    await h.hashesSaved()
    expect(await bucket.get(SNAPSHOT_FIRST_KEY)).toBeDefined()
    const restarted = counting(bucket)
    expect(await new HistoryStore({ kv: restarted.kv, now: () => NOW }).summaries()).toEqual(running)
    expect(restarted.read.messages).toBe(0)
  })
})
