import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createDiscoveryNode,
  DEFAULT_REPLICATION,
  type DiscoveryNode,
  GrowthTrigger,
  PresencePublisher,
  presenceKey,
  REPUBLISH_GROWTH_DELAY_MS,
  REPUBLISH_GROWTH_MAX_DELAY_MS,
  REPUBLISH_GROWTH_MIN_INTERVAL_MS,
  routingTableGrew,
  type VerifiedPresence,
  verifyPresenceBundle,
} from '../src/index.ts'
import { PUBLISH_RETRY_MIN_MS } from '../src/lib/constants.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { makeAccount, makeDevice, presenceBundle, startNetwork, stopAll, waitFor } from './helpers.ts'

const nodes: DiscoveryNode[] = []

beforeAll(async () => {
  await startNetwork(3, {}, nodes)
}, 60_000)

afterAll(async () => {
  await stopAll(nodes)
})

/** A signer like the identity actor's: every call signs a new seq. */
function signer(ttlMs: number, opts: { failFirst?: number } = {}) {
  const device = makeDevice(makeAccount())
  let seq = 0
  let failures = opts.failFirst ?? 0
  const sign = async (addrs: string[]) => {
    if (failures > 0) {
      failures--
      throw new Error('identity actor unavailable')
    }
    return presenceBundle(device, { seq: ++seq, addrs, ttlMs })
  }
  return { device, sign }
}

describe('PresencePublisher', () => {
  it('publishes at start and again when half of the life has passed', async () => {
    const { device, sign } = signer(2_000)
    const published: VerifiedPresence[] = []
    const publisher = new PresencePublisher({
      node: nodes[0] as DiscoveryNode,
      sign,
      addrs: () => ['/ip4/127.0.0.1/tcp/1'],
      onPublished: (p) => published.push(p),
    })
    try {
      await publisher.start()
      expect(published.map((p) => p.seq)).toEqual([1])
      await waitFor(() => published.length >= 3, 10_000, 'two refreshes')
      const found = await (nodes[2] as DiscoveryNode).lookupPresence(device.deviceId)
      expect(found?.seq).toBeGreaterThanOrEqual(2)
    } finally {
      publisher.stop()
    }
    const count = published.length
    await new Promise((r) => setTimeout(r, 1_500))
    expect(published.length).toBe(count) // stopped means stopped
  })

  it('republishes at once when the addresses change, and not when they do not', async () => {
    const { sign } = signer(3600_000)
    let addrs = ['/ip4/127.0.0.1/tcp/1']
    let notify = (): void => {}
    const published: VerifiedPresence[] = []
    const publisher = new PresencePublisher({
      node: nodes[1] as DiscoveryNode,
      sign,
      addrs: () => addrs,
      subscribeAddrs: (cb) => {
        notify = cb
        return () => {
          notify = () => {}
        }
      },
      onPublished: (p) => published.push(p),
    })
    try {
      await publisher.start()
      notify() // same addresses: nothing to do
      await new Promise((r) => setTimeout(r, 300))
      expect(published).toHaveLength(1)
      addrs = ['/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/3']
      notify()
      await waitFor(() => published.length >= 2, 10_000, 'the republish')
      expect(published[1]?.addrs).toEqual(addrs)
      expect(publisher.last?.seq).toBe(2)
    } finally {
      publisher.stop()
    }
  })

  it('retries a failed publish with back-off', async () => {
    const { sign } = signer(3600_000, { failFirst: 1 })
    const published: VerifiedPresence[] = []
    const warnings: unknown[] = []
    const publisher = new PresencePublisher({
      node: nodes[2] as DiscoveryNode,
      sign,
      addrs: () => ['/ip4/127.0.0.1/tcp/1'],
      onPublished: (p) => published.push(p),
      log: { debug() {}, info() {}, error() {}, warn: (o) => warnings.push(o) },
    })
    try {
      await publisher.start()
      expect(published).toHaveLength(0)
      expect(warnings).toHaveLength(1)
      await waitFor(() => published.length >= 1, 10_000, 'the retry')
    } finally {
      publisher.stop()
    }
  })
})

describe('routingTableGrew', () => {
  it('asks for a republish once the table doubled or grew by 20 peers, whichever comes first', () => {
    expect(routingTableGrew(0, 0)).toBe(false)
    expect(routingTableGrew(0, 1)).toBe(true) // published alone: any peer is news
    expect(routingTableGrew(2, 3)).toBe(false)
    expect(routingTableGrew(2, 4)).toBe(true)
    expect(routingTableGrew(30, 49)).toBe(false)
    expect(routingTableGrew(30, 50)).toBe(true)
    expect(routingTableGrew(200, 220)).toBe(true)
    expect(routingTableGrew(10, 5)).toBe(false)
    expect(routingTableGrew(5, 8, 3)).toBe(true)
  })

  it('never for a table that did not grow, and for good once it has grown enough', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.integer({ min: 1, max: 100 }), (base, size, peers) => {
        if (size <= base) expect(routingTableGrew(base, size, peers)).toBe(false)
        if (routingTableGrew(base, size, peers)) expect(routingTableGrew(base, size + 1, peers)).toBe(true)
        expect(routingTableGrew(base, base + peers, peers)).toBe(true)
        expect(routingTableGrew(base, 2 * base + 1, peers)).toBe(true)
      }),
    )
  })
})

/** A stand-in node for the growth rule: stores nothing, reports the routing table size the test sets. */
function fakeTable(size: number) {
  const listeners = new Set<(size: number) => void>()
  let hold: Promise<void> | undefined
  const target = {
    published: 0,
    publishPresence: async () => {
      await hold
      target.published++
      return { stored: 1, attempted: 1 }
    },
    onRoutingTableChange(cb: (size: number) => void) {
      listeners.add(cb)
      return () => listeners.delete(cb)
    },
    stats: () => ({ routingTableSize: size }),
  }
  return {
    target,
    listeners,
    /** The table now holds `n` peers. */
    set(n: number) {
      size = n
      for (const cb of listeners) cb(n)
    },
    /** Publishes wait until the returned function is called. */
    holdPublishes(): () => void {
      let release = (): void => {}
      hold = new Promise((r) => {
        release = r
      })
      return () => {
        hold = undefined
        release()
      }
    },
  }
}

describe('PresencePublisher: republish when the routing table has grown', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('one republish for a burst of joins, after the delay; none for small growth', async () => {
    vi.useFakeTimers()
    const table = fakeTable(2)
    const { sign } = signer(3600_000)
    const seqs: number[] = []
    const publisher = new PresencePublisher({ node: table.target, sign, addrs: () => ['/ip4/127.0.0.1/tcp/1'], onPublished: (p) => seqs.push(p.seq) })
    try {
      await publisher.start()
      expect(seqs).toEqual([1])
      table.set(3) // 2 → 3: neither doubled nor +20
      await vi.advanceTimersByTimeAsync(60_000)
      expect(seqs).toEqual([1])
      for (let n = 4; n <= 9; n++) table.set(n) // a burst of joins
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_DELAY_MS - 1)
      expect(seqs).toEqual([1])
      await vi.advanceTimersByTimeAsync(1)
      expect(seqs).toEqual([1, 2])
      await vi.advanceTimersByTimeAsync(60_000)
      expect(seqs).toEqual([1, 2]) // one republish for the burst
      expect(table.target.published).toBe(2)
    } finally {
      publisher.stop()
    }
    expect(table.listeners.size).toBe(0)
  })

  it('at most one growth republish per interval after a publish, counted from the size at that publish', async () => {
    vi.useFakeTimers()
    const table = fakeTable(2)
    const { sign } = signer(3600_000)
    const seqs: number[] = []
    const publisher = new PresencePublisher({ node: table.target, sign, addrs: () => ['/ip4/127.0.0.1/tcp/1'], onPublished: (p) => seqs.push(p.seq) })
    try {
      await publisher.start()
      table.set(4) // doubled at once: waits for the interval, not just the delay
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_MIN_INTERVAL_MS - 1)
      expect(seqs).toEqual([1])
      await vi.advanceTimersByTimeAsync(1)
      expect(seqs).toEqual([1, 2])
      table.set(7) // from 4: not doubled yet
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_MIN_INTERVAL_MS * 2)
      expect(seqs).toEqual([1, 2])
      table.set(8)
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_DELAY_MS)
      expect(seqs).toEqual([1, 2, 3])
      // A big table: +20 peers is enough.
      table.set(100)
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_MIN_INTERVAL_MS)
      expect(seqs).toEqual([1, 2, 3, 4])
      table.set(119)
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_MIN_INTERVAL_MS)
      table.set(120)
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_MIN_INTERVAL_MS)
      expect(seqs).toEqual([1, 2, 3, 4, 5])
    } finally {
      publisher.stop()
    }
  })

  it('growth during a publish counts: the publish went to the peers known when it started', async () => {
    vi.useFakeTimers()
    const table = fakeTable(2)
    const { sign } = signer(3600_000)
    const seqs: number[] = []
    const publisher = new PresencePublisher({
      node: table.target,
      sign,
      addrs: () => ['/ip4/127.0.0.1/tcp/1'],
      onPublished: (p) => seqs.push(p.seq),
      republishOnGrowth: { delayMs: 100, minIntervalMs: 1_000 },
    })
    try {
      const release = table.holdPublishes()
      const started = publisher.start()
      await vi.advanceTimersByTimeAsync(10)
      table.set(10) // the table grows while the first publish is under way
      release()
      await started
      expect(seqs).toEqual([1])
      await vi.advanceTimersByTimeAsync(1_100)
      expect(seqs).toEqual([1, 2])
    } finally {
      publisher.stop()
    }
  })

  it('nothing before the first publish worked, nothing after stop, nothing when turned off', async () => {
    vi.useFakeTimers()
    const table = fakeTable(0)
    const failing = signer(3600_000, { failFirst: 1 })
    const seqs: number[] = []
    const quiet = { debug() {}, info() {}, warn() {}, error() {} }
    const publisher = new PresencePublisher({ node: table.target, sign: failing.sign, addrs: () => [], onPublished: (p) => seqs.push(p.seq), log: quiet })
    const off = fakeTable(1)
    const offSeqs: number[] = []
    const offPublisher = new PresencePublisher({
      node: off.target,
      sign: signer(3600_000).sign,
      addrs: () => [],
      onPublished: (p) => offSeqs.push(p.seq),
      republishOnGrowth: false,
    })
    try {
      await publisher.start() // fails: nothing published, no baseline
      table.set(50)
      await vi.advanceTimersByTimeAsync(PUBLISH_RETRY_MIN_MS - 1)
      expect(seqs).toEqual([])
      await vi.advanceTimersByTimeAsync(1) // the retry publishes
      expect(seqs).toEqual([1])
      publisher.stop()
      table.set(500)
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_MIN_INTERVAL_MS * 3)
      expect(seqs).toEqual([1])

      await offPublisher.start()
      expect(off.listeners.size).toBe(0)
      off.set(1000)
      await vi.advanceTimersByTimeAsync(REPUBLISH_GROWTH_MIN_INTERVAL_MS * 3)
      expect(offSeqs).toEqual([1])
    } finally {
      publisher.stop()
      offPublisher.stop()
    }
  })
})

describe('GrowthTrigger', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('keeps to one republish per interval even when republishes fail, and stop cancels a pending one', () => {
    vi.useFakeTimers()
    const table = fakeTable(2)
    let republishes = 0
    const trigger = new GrowthTrigger({
      size: () => table.target.stats().routingTableSize,
      onChange: (cb) => table.target.onRoutingTableChange(cb),
      republish: () => {
        republishes++ // and never succeeds: published() is not called again
      },
    })
    trigger.start()
    table.set(40) // before any publish: no baseline, nothing to republish
    vi.advanceTimersByTime(REPUBLISH_GROWTH_MIN_INTERVAL_MS * 2)
    expect(republishes).toBe(0)
    trigger.published(trigger.size()) // 40
    table.set(80)
    vi.advanceTimersByTime(REPUBLISH_GROWTH_MIN_INTERVAL_MS)
    expect(republishes).toBe(1)
    table.set(81) // still grown from 40, but the last attempt was just now
    vi.advanceTimersByTime(REPUBLISH_GROWTH_MIN_INTERVAL_MS - 1)
    expect(republishes).toBe(1)
    vi.advanceTimersByTime(1)
    expect(republishes).toBe(2)
    table.set(82)
    trigger.stop()
    vi.advanceTimersByTime(REPUBLISH_GROWTH_MIN_INTERVAL_MS * 3)
    expect(republishes).toBe(2)
    expect(table.listeners.size).toBe(0)
  })

  it('debounces: a table still changing puts the republish off until it is quiet, but not past the longest delay', () => {
    vi.useFakeTimers()
    const table = fakeTable(10)
    let republishes = 0
    const trigger = new GrowthTrigger({
      size: () => table.target.stats().routingTableSize,
      onChange: (cb) => table.target.onRoutingTableChange(cb),
      republish: () => {
        republishes++
      },
    })
    trigger.start()
    trigger.published(10)
    vi.advanceTimersByTime(REPUBLISH_GROWTH_MIN_INTERVAL_MS)
    table.set(20) // grown: armed
    for (let i = 1; i <= 5; i++) {
      vi.advanceTimersByTime(REPUBLISH_GROWTH_DELAY_MS - 1)
      table.set(20 + i) // still joining: put off
    }
    expect(republishes).toBe(0)
    vi.advanceTimersByTime(REPUBLISH_GROWTH_DELAY_MS) // quiet now
    expect(republishes).toBe(1)
    // A table that never settles: the republish comes at the longest delay anyway.
    trigger.published(25)
    vi.advanceTimersByTime(REPUBLISH_GROWTH_MIN_INTERVAL_MS)
    table.set(50)
    for (let t = 1_000; t < REPUBLISH_GROWTH_MAX_DELAY_MS; t += 1_000) {
      vi.advanceTimersByTime(1_000)
      table.set(50 + (t % 2_000 === 0 ? 1 : 0)) // a peer comes and goes every second
    }
    expect(republishes).toBe(1)
    vi.advanceTimersByTime(1_000)
    expect(republishes).toBe(2)
    trigger.stop()
  })
})

/** The `count` nodes closest to a key, by Kademlia (XOR of sha256) distance, closest first. */
function closestTo(key: string, among: DiscoveryNode[], count: number): DiscoveryNode[] {
  const target = createHash('sha256').update(keyBytes(key)).digest()
  const distance = (n: DiscoveryNode) => {
    const id = createHash('sha256').update(n.libp2p.peerId.toMultihash().bytes).digest()
    return Buffer.from(id.map((b, i) => b ^ (target[i] as number)))
  }
  return among
    .map((n) => ({ n, d: distance(n) }))
    .sort((a, b) => Buffer.compare(a.d, b.d))
    .slice(0, count)
    .map((x) => x.n)
}

describe('PresencePublisher in a network that grows from 3 to 20 nodes', () => {
  const net: DiscoveryNode[] = []
  afterAll(async () => {
    await stopAll(net)
  })

  it('republishes once the routing table grew, so the nodes now closest hold the record and a far node finds it', async () => {
    await startNetwork(3, {}, net, 2)
    const first = [...net]
    const home = net[1] as DiscoveryNode
    const grower = signer(3600_000) // refresh in 30 min: only growth can republish within this test
    const control = signer(3600_000)
    const seqs: number[] = []
    const addrs = () => ['/ip4/127.0.0.1/tcp/1']
    const publisher = new PresencePublisher({ node: home, sign: grower.sign, addrs, onPublished: (p) => seqs.push(p.seq) })
    const unchanged = new PresencePublisher({ node: home, sign: control.sign, addrs, republishOnGrowth: false })
    try {
      await publisher.start()
      await unchanged.start()
      expect(seqs).toEqual([1])

      const bootstrap = [(net[0] as DiscoveryNode).multiaddrs()[0] as string]
      for (const node of await Promise.all(Array.from({ length: 17 }, () => createDiscoveryNode({ bootstrap })))) net.push(node)
      await waitFor(() => seqs.length >= 2, 60_000, 'the republish on growth')

      // The republished record (seq ≥ 2) reaches nodes now closest to its key that joined later. Not necessarily a
      // quorum of them: the republish goes to the closest this node and its peers knew of when it was made, and on a
      // loaded machine the last joiners come later (a fresh-clone run at load ~8 waited 30 s for a quorum in vain;
      // the next republish is at the next doubling). The far node's lookup below is what a user sees.
      const key = presenceKey(grower.device.deviceId)
      const closest = closestTo(key, net, DEFAULT_REPLICATION)
      const seqAt = (n: DiscoveryNode, k: string) => {
        const bytes = n.getLocalRecord(k)
        return bytes ? verifyPresenceBundle(bytes).seq : 0
      }
      const holders = () => closest.filter((n) => seqAt(n, key) >= 2)
      await waitFor(
        () => holders().some((n) => !first.includes(n)),
        60_000,
        'the republished record on the closest nodes',
      )

      // Without the republish (growth off), the nodes that joined later never got the record.
      const controlKey = presenceKey(control.device.deviceId)
      const newClosest = closestTo(controlKey, net, DEFAULT_REPLICATION).filter((n) => !first.includes(n))
      expect(newClosest.length).toBeGreaterThan(0)
      expect(newClosest.filter((n) => seqAt(n, controlKey) > 0)).toEqual([])

      // A node far from the key finds the republished record.
      const far = closestTo(key, net, net.length).reverse().find((n) => !first.includes(n)) as DiscoveryNode
      const found = await far.lookupPresence(grower.device.deviceId)
      expect(found?.seq).toBeGreaterThanOrEqual(2)
    } finally {
      publisher.stop()
      unchanged.stop()
    }
  }, 150_000)
})
