import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Frame } from '../src/lib/frames.ts'
import { presenceKey } from '../src/lib/keys.ts'
import { Watches } from '../src/lib/watch-keys.ts'
import type { WatchComponents } from '../src/lib/watch-link.ts'
import { makeAccount, makeDevice } from './helpers.ts'

/**
 * The watching side's schedule (when it looks the closest peers up, renews, tries again), on the clock it runs on.
 * The peers are the frames they answer: which peers are closest and what they grant is what this schedule reacts to
 * (watch.test.ts runs the same code over real nodes).
 */
interface Peers {
  /** The closest peers each lookup finds, in turn; the last one from then on. */
  closest: string[][]
  /** Subscription life each peer grants; a peer without one refuses. */
  grants: Map<string, number>
}

function harness(peers: Peers, table?: { alone?: () => boolean; joinEvents?: false }) {
  const subs = new Map<string, number[]>() // peer → times it was sent a sub
  const joined = new Set<() => void>()
  const unsubs: string[] = []
  let lookups = 0
  let queries = 0
  const c: WatchComponents = {
    selfId: 'self',
    store: { getRecord: () => undefined, onRecord: () => () => {} },
    policy: {
      verify: () => {
        throw new Error('no record in these tests')
      },
    },
    call: async (peer: string, frame: Frame): Promise<Frame> => {
      if (frame.t === 'unsub') {
        unsubs.push(peer)
        return { t: 'ok' }
      }
      subs.set(peer, [...(subs.get(peer) ?? []), Date.now()])
      const ttlMs = peers.grants.get(peer)
      return ttlMs === undefined ? { t: 'err', code: 'full', message: 'too many subscriptions' } : { t: 'ok', ttlMs }
    },
    push: async () => {},
    closestPeers: async () => peers.closest[Math.min(lookups++, peers.closest.length - 1)] as string[],
    queryValues: async () => {
      queries++
      return []
    },
    now: () => Date.now(),
    ...(table?.joinEvents === false
      ? {}
      : {
          onPeerAdded: (listener: () => void) => {
            joined.add(listener)
            return () => joined.delete(listener)
          },
        }),
    ...(table?.alone ? { alone: table.alone } : {}),
  }
  const watches = new Watches(c, 4)
  return {
    watches,
    /** A peer enters the routing table. */
    peerJoins: () => {
      for (const l of joined) l()
    },
    listening: () => joined.size,
    subs: (peer: string) => subs.get(peer) ?? [],
    unsubs,
    lookups: () => lookups,
    queries: () => queries,
  }
}

const key = presenceKey(makeDevice(makeAccount()).deviceId)
const set = (...ids: number[]) => ids.map((i) => `p${i}`)
const granting = (ttlMs: number, ...ids: number[]) => new Map(set(...ids).map((p) => [p, ttlMs]))

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('a watch schedule', () => {
  it('once two lookups find the same closest peers, looks them up again only to renew, and renews each grant once', async () => {
    const h = harness({ closest: [set(1, 2, 3, 4)], grants: granting(60_000, 1, 2, 3, 4) })
    const unwatch = h.watches.watchKey(key, () => {}, { requeryMinMs: 1_000, requeryMaxMs: 60_000 })
    await vi.advanceTimersByTimeAsync(40_000)
    // the first round subscribed; the second (≤ 1 s later) found the same four and asked nothing of them
    expect(h.lookups()).toBe(2)
    for (const p of set(1, 2, 3, 4)) expect(h.subs(p)).toHaveLength(1)
    // renewal 45 s into the grant (RENEW_FRACTION): one round renews all four, with one lookup
    await vi.advanceTimersByTimeAsync(6_000)
    expect(h.lookups()).toBe(3)
    for (const p of set(1, 2, 3, 4)) expect(h.subs(p)).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(45_000)
    expect(h.lookups()).toBe(4)
    for (const p of set(1, 2, 3, 4)) expect(h.subs(p)).toHaveLength(3)
    // the re-query keeps its own back-off (1 s doubling to 60 s): a lost push is caught as before
    expect(h.queries()).toBeGreaterThanOrEqual(6)
    unwatch()
    expect(h.unsubs.sort()).toEqual(set(1, 2, 3, 4))
  })

  it('keeps looking up, backing off, while the closest peers change, and leaves the ones no longer closest', async () => {
    // a node that just joined: each lookup finds closer peers, until two agree
    const h = harness({ closest: [set(1, 2, 3, 4), set(1, 2, 3, 5), set(1, 2, 5, 6), set(1, 5, 6, 7)], grants: granting(600_000, 1, 2, 3, 4, 5, 6, 7) })
    h.watches.watchKey(key, () => {}, { requeryMinMs: 1_000, requeryMaxMs: 60_000 })
    await vi.advanceTimersByTimeAsync(1_100)
    expect(h.lookups()).toBe(2)
    // lookups at 0, then after [½, 1) of 1, 2, 4 and 8 s: the last two found the same set
    await vi.advanceTimersByTimeAsync(20_000)
    expect(h.lookups()).toBe(5)
    await vi.advanceTimersByTimeAsync(120_000)
    expect(h.lookups()).toBe(5)
    for (const p of set(1, 5, 6, 7)) expect(h.subs(p)).toHaveLength(1)
    expect(h.unsubs.sort()).toEqual(set(2, 3, 4))
    h.watches.stop()
  })

  it('asks a closest peer that refused again with back-off, not every second, and nothing more of those that granted', async () => {
    const peers: Peers = { closest: [set(1, 2, 3, 4)], grants: granting(600_000, 1, 2, 3) }
    const h = harness(peers)
    h.watches.watchKey(key, () => {}, { requeryMinMs: 1_000, requeryMaxMs: 60_000 })
    await vi.advanceTimersByTimeAsync(120_000)
    // rounds after [½, 1) of 1, 2, 4 … 60 s: about eight in two minutes (a round a second before: 120 or more)
    expect(h.subs('p4').length).toBeGreaterThanOrEqual(6)
    expect(h.subs('p4').length).toBeLessThanOrEqual(10)
    for (const p of set(1, 2, 3)) expect(h.subs(p)).toHaveLength(1)
    // once it grants, the retries stop
    peers.grants.set('p4', 600_000)
    await vi.advanceTimersByTimeAsync(60_000)
    const asked = h.subs('p4').length
    await vi.advanceTimersByTimeAsync(120_000)
    expect(h.subs('p4')).toHaveLength(asked)
    h.watches.stop()
  })

  it('alone (no peer at all), backs off up to requeryMaxMs, not a round a second; a peer joining wakes it at once', async () => {
    const peers: Peers = { closest: [[]], grants: granting(600_000, 1, 2, 3, 4) }
    const h = harness(peers)
    h.watches.watchKey(key, () => {}, { requeryMinMs: 1_000, requeryMaxMs: 60_000 })
    await vi.advanceTimersByTimeAsync(600_000)
    // rounds after [½, 1) of 1, 2, 4 … 60 s: ~17 in ten minutes (before: ~800, one every 0.5-1 s)
    expect(h.lookups()).toBeGreaterThanOrEqual(10)
    expect(h.lookups()).toBeLessThanOrEqual(25)
    expect(h.queries()).toBeLessThanOrEqual(25)
    // the network appears: the next round comes in a moment, not up to a minute later
    peers.closest = [set(1, 2, 3, 4)]
    const [lookups, queries] = [h.lookups(), h.queries()]
    h.peerJoins()
    await vi.advanceTimersByTimeAsync(200)
    expect(h.lookups()).toBe(lookups + 1)
    expect(h.queries()).toBe(queries + 1)
    for (const p of set(1, 2, 3, 4)) expect(h.subs(p)).toHaveLength(1)
    // more peers joining wake nothing: the watch is no longer alone
    h.peerJoins()
    await vi.advanceTimersByTimeAsync(200)
    expect(h.lookups()).toBe(lookups + 1)
    h.watches.stop()
    expect(h.listening()).toBe(0)
  })

  it('a table with peers that are only unreachable for now is not alone, nor is a node that hears of no peer joining: a round a second', async () => {
    for (const table of [{ alone: () => false }, { joinEvents: false as const }]) {
      const h = harness({ closest: [[]], grants: new Map() }, table)
      h.watches.watchKey(key, () => {}, { requeryMinMs: 1_000, requeryMaxMs: 60_000 })
      await vi.advanceTimersByTimeAsync(60_000)
      // a round every [½, 1) s: nothing would wake a longer back-off
      expect(h.lookups()).toBeGreaterThanOrEqual(60)
      h.watches.stop()
    }
  })

  it('renews a short grant before it runs out, each grant timed from its arrival', async () => {
    const h = harness({ closest: [set(1, 2, 3, 4)], grants: granting(3_000, 1, 2, 3, 4) })
    h.watches.watchKey(key, () => {}, { ttlMs: 3_000, requeryMinMs: 1_000 })
    await vi.advanceTimersByTimeAsync(30_000)
    for (const p of set(1, 2, 3, 4)) {
      const at = h.subs(p)
      expect(at.length).toBeGreaterThanOrEqual(10)
      for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBeLessThan(3_000)
    }
    h.watches.stop()
  })
})
