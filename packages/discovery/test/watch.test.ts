import { peerIdFromString } from '@libp2p/peer-id'
import { xor } from 'uint8arrays/xor'
import { xorCompare } from 'uint8arrays/xor-compare'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  createDiscoveryNode,
  type DiscoveryNode,
  type DiscoveryNodeInit,
  encodeBundle,
  decodeFrame,
  deviceListKey,
  encodeFrame,
  type Frame,
  presenceKey,
  RPC_PROTOCOL,
  type WatchEvent,
} from '../src/index.ts'
import { sha256 } from '../src/lib/bytes.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { Rpc } from '../src/lib/rpc.ts'
import { encodePut, RPC_WATCH, RPC_PUSH } from '../src/lib/rpc-codec.ts'
import { deviceListBundle, makeAccount, makeDevice, presenceBundle, startNetwork, stopAll, waitFor } from './helpers.ts'

const N = 12
const REPLICATION = 4
const init: DiscoveryNodeInit = { replication: REPLICATION }
const nodes: DiscoveryNode[] = []
const extra: DiscoveryNode[] = []

/** The REPLICATION nodes closest to a key, by Kademlia's XOR distance (what a put stores on). */
function storingSet(key: string, pool = nodes): DiscoveryNode[] {
  const target = sha256(new TextEncoder().encode(key))
  const dist = (n: DiscoveryNode) => xor(sha256(peerIdFromString(n.peerId).toMultihash().bytes), target)
  return [...pool].sort((a, b) => xorCompare(dist(a), dist(b))).slice(0, REPLICATION)
}

/** A node outside the storing set of `key` (so records can only reach it over the network). */
async function outsider(key: string, not: DiscoveryNode[] = []): Promise<DiscoveryNode> {
  const closest = storingSet(key)
  const node = nodes.find((n) => !closest.includes(n) && !not.includes(n))
  if (node === undefined) throw new Error('no node outside the closest set')
  return node
}

const totalSubscriptions = () => [...nodes, ...extra].reduce((sum, n) => sum + n.stats().subscriptions, 0)

/** An rpc client of each node that sends raw watch frames (the node's own client answers only its own watches). */
const clients = new Map<DiscoveryNode, Rpc>()
function clientOf(from: DiscoveryNode): Rpc {
  let rpc = clients.get(from)
  if (rpc === undefined) {
    rpc = new Rpc({ openStream: (peer, signal) => from.libp2p.dialProtocol(peer, RPC_PROTOCOL, { signal }) })
    clients.set(from, rpc)
  }
  return rpc
}

/** Send one watch frame over the rpc link and read the reply. */
async function listenRequest(from: DiscoveryNode, to: DiscoveryNode, frame: Frame): Promise<Frame> {
  return decodeFrame(await clientOf(from).request(to.peerId, RPC_WATCH, encodeFrame(frame), { timeoutMs: 5_000 }))
}

beforeAll(async () => {
  // Full routing tables: every node then agrees on which peers are closest to a key. (startNetwork waits up to 45 s
  // for the tables after the nodes start: at load ~10, 60 s was too short for dht-node.test.ts's 20 nodes.)
  await startNetwork(N, init, nodes, N - 1)
}, 150_000)

beforeEach(async () => {
  // unsubscriptions of the previous test are in flight: start from none (bounded by 40 s: unsubscribing is one rpc
  // round trip per subscription, tried again 1 s and 2 s after a failure: slow on a loaded machine)
  await waitFor(() => totalSubscriptions() === 0, 40_000, 'no subscriptions')
}, 60_000)

afterAll(async () => {
  for (const rpc of clients.values()) rpc.stop()
  await stopAll(extra)
  await stopAll(nodes)
})

describe('watch', () => {
  it('pushes a contact coming online to a watcher that subscribed before', async () => {
    const device = makeDevice(makeAccount())
    const key = presenceKey(device.deviceId)
    const publisher = nodes[1] as DiscoveryNode
    const watcher = await outsider(key, [publisher])
    const events: Array<WatchEvent & { at: number }> = []
    // re-query far in the future: the update can only arrive by push
    const unwatch = watcher.watch({ deviceId: device.deviceId }, (e) => events.push({ ...e, at: performance.now() }), {
      requeryMinMs: 60_000,
      requeryMaxMs: 60_000,
    })
    try {
      await waitFor(() => totalSubscriptions() >= REPLICATION, 10_000, 'subscriptions')
      const bundle = presenceBundle(device, { seq: 1, addrs: ['/ip4/127.0.0.1/tcp/7'] })
      const start = performance.now()
      await publisher.publishPresence(bundle)
      const published = performance.now()
      await waitFor(() => events.length >= 1, 10_000, 'a push')
      const first = events[0] as WatchEvent & { at: number }
      expect(first).toMatchObject({ kind: 'presence', via: 'push', presence: { deviceId: device.deviceId, seq: 1 } })
      expect(watcher.getLocalRecord(key)).toBeUndefined()
      console.log(
        `listen push latency: ${(first.at - start).toFixed(1)} ms after publish started (publish took ${(published - start).toFixed(1)} ms)`,
      )
      // every storing node pushes, but the callback sees each seq once
      await publisher.publishPresence(bundle)
      await publisher.publishPresence(presenceBundle(device, { seq: 2 }))
      await waitFor(() => events.length >= 2, 10_000, 'the second push')
      await new Promise((r) => setTimeout(r, 300))
      expect(events.map((e) => (e.kind === 'presence' ? e.presence.seq : -1))).toEqual([1, 2])
      expect(watcher.stats().pushesReceived).toBeGreaterThanOrEqual(2)
    } finally {
      unwatch()
    }
  })

  it('tells a watcher the current record when it subscribes', async () => {
    const device = makeDevice(makeAccount())
    await (nodes[2] as DiscoveryNode).publishPresence(presenceBundle(device, { seq: 4 }))
    const watcher = nodes.find((n) => n.getLocalRecord(presenceKey(device.deviceId)) === undefined) as DiscoveryNode
    const events: WatchEvent[] = []
    const unwatch = watcher.watch({ deviceId: device.deviceId }, (e) => events.push(e), { requeryMinMs: 60_000 })
    try {
      await waitFor(() => events.length >= 1, 10_000, 'the current record')
      expect(events[0]).toMatchObject({ via: 'subscribe', presence: { seq: 4 } })
    } finally {
      unwatch()
    }
  })

  it('renews subscriptions before they expire, and cancels them on unwatch', async () => {
    const device = makeDevice(makeAccount())
    const key = presenceKey(device.deviceId)
    const watcher = await outsider(key)
    const events: WatchEvent[] = []
    const before = 0
    // A 3 s life renewed at 2.25 s: a 1.5 s one left too little slack for a loaded machine (a run lost them all).
    const unwatch = watcher.watch({ deviceId: device.deviceId }, (e) => events.push(e), {
      ttlMs: 3_000,
      requeryMinMs: 60_000,
    })
    try {
      await waitFor(() => totalSubscriptions() >= before + REPLICATION, 10_000, 'subscriptions')
      // three lifetimes later the subscriptions are still there: they were renewed
      await new Promise((r) => setTimeout(r, 9_000))
      expect(totalSubscriptions()).toBeGreaterThanOrEqual(before + REPLICATION)
      await (nodes[3] as DiscoveryNode).publishPresence(presenceBundle(device, { seq: 1 }))
      await waitFor(() => events.length >= 1, 10_000, 'a push after renewal')
      expect(events[0]?.via).toBe('push')
    } finally {
      unwatch()
    }
    await waitFor(() => totalSubscriptions() <= before, 5_000, 'unsubscribe')
  }, 60_000)

  it('re-queries with back-off, so a lost push is not fatal', async () => {
    const watcher = await createDiscoveryNode({ ...init, bootstrap: [(nodes[0] as DiscoveryNode).multiaddrs()[0] as string] })
    extra.push(watcher)
    // a device whose storing set does not include the watcher
    const account = makeAccount()
    let device = makeDevice(account)
    for (let i = 0; i < 100 && storingSet(presenceKey(device.deviceId), [...nodes, watcher]).includes(watcher); i++) device = makeDevice(account)
    const events: WatchEvent[] = []
    const unwatch = watcher.watch({ deviceId: device.deviceId }, (e) => events.push(e), { requeryMinMs: 500, requeryMaxMs: 1_000 })
    try {
      await waitFor(() => totalSubscriptions() >= REPLICATION, 10_000, 'subscriptions')
      // from now on every push to the watcher fails: the rpc links the storing nodes hold to it
      // are cut, and refused when they try to open them again
      await watcher.libp2p.unhandle(RPC_PROTOCOL)
      for (const c of watcher.libp2p.getConnections()) {
        for (const s of c.streams) if (s.protocol === RPC_PROTOCOL && s.direction === 'inbound') s.abort(new Error('test: pushes lost'))
      }
      const failedBefore = nodes.reduce((s, n) => s + n.stats().pushesFailed, 0)
      await (nodes[4] as DiscoveryNode).publishPresence(presenceBundle(device, { seq: 1 }))
      await waitFor(() => events.length >= 1, 10_000, 'the re-query')
      expect(events[0]).toMatchObject({ via: 'query', presence: { seq: 1 } })
      await waitFor(() => nodes.reduce((s, n) => s + n.stats().pushesFailed, 0) > failedBefore, 10_000, 'failed pushes')
    } finally {
      unwatch()
    }
  })

  it('watches an account: its device list, then the presence of each listed device', async () => {
    const account = makeAccount()
    const laptop = makeDevice(account, 'laptop')
    const phone = makeDevice(account, 'phone')
    const watcher = nodes[5] as DiscoveryNode
    const events: WatchEvent[] = []
    const unwatch = watcher.watch({ accountId: account.accountId }, (e) => events.push(e), { requeryMinMs: 500 })
    try {
      await (nodes[6] as DiscoveryNode).publishDeviceList(deviceListBundle(account, [laptop, phone]))
      await waitFor(() => events.some((e) => e.kind === 'device-list'), 10_000, 'the device list')
      await (nodes[7] as DiscoveryNode).publishPresence(presenceBundle(phone, { addrs: ['/ip4/127.0.0.1/tcp/9'] }))
      await waitFor(() => events.some((e) => e.kind === 'presence'), 10_000, "the phone's presence")
      const presence = events.find((e) => e.kind === 'presence')
      expect(presence).toMatchObject({ presence: { deviceId: phone.deviceId, addrs: ['/ip4/127.0.0.1/tcp/9'] } })
      // a presence of a device not on the list is none of this watch's business
      const stranger = makeDevice(account, 'stranger')
      await (nodes[7] as DiscoveryNode).publishPresence(presenceBundle(stranger))
      await new Promise((r) => setTimeout(r, 500))
      expect(events.filter((e) => e.kind === 'presence' && e.presence.deviceId === stranger.deviceId)).toHaveLength(0)
    } finally {
      unwatch()
    }
  })

  it('reports two different device lists with the same seq (two devices changed it at once), each once', async () => {
    const account = makeAccount()
    const [laptop, phone, tablet] = [makeDevice(account, 'laptop'), makeDevice(account, 'phone'), makeDevice(account, 'tablet')]
    const key = deviceListKey(account.accountId)
    const watcher = await outsider(key)
    const events: WatchEvent[] = []
    const unwatch = watcher.watch(key, (e) => events.push(e), { requeryMinMs: 60_000, requeryMaxMs: 60_000 })
    try {
      await waitFor(() => totalSubscriptions() >= REPLICATION, 10_000, 'subscriptions')
      // Both lists are seq 1: half the storing nodes take one, half the other (each then refuses the second).
      const [one, two] = [deviceListBundle(account, [laptop, phone]), deviceListBundle(account, [laptop, tablet])].map((b) => encodeBundle(b))
      const storing = storingSet(key)
      const sender = nodes.find((n) => !storing.includes(n) && n !== watcher) as DiscoveryNode
      for (const [i, node] of storing.entries()) expect(await sender.sendPut(node.peerId, key, (i % 2 === 0 ? one : two) as Uint8Array)).toBe(true)
      await waitFor(() => events.length >= 2, 10_000, 'both lists')
      const names = (e: WatchEvent) => (e.kind === 'device-list' ? e.deviceList.devices.map((d) => d.name).sort() : [])
      expect(events.map((e) => e.kind === 'device-list' && e.deviceList.seq)).toEqual([1, 1])
      expect(events.map(names).sort()).toEqual([['laptop', 'phone'], ['laptop', 'tablet']])
      // The same two again (pushed by other storing nodes, or re-queried) are not news.
      for (const value of [one, two, one]) await clientOf(sender).request(watcher.peerId, RPC_PUSH, encodePut(keyBytes(key), value as Uint8Array), { timeoutMs: 5_000 })
      await new Promise((r) => setTimeout(r, 300))
      expect(events).toHaveLength(2)
      // A newer list moves on; an older one after it is dropped.
      await sender.publishDeviceList(deviceListBundle(account, [laptop, phone, tablet], { seq: 2 }))
      await waitFor(() => events.length >= 3, 10_000, 'the merged list')
      await clientOf(sender).request(watcher.peerId, RPC_PUSH, encodePut(keyBytes(key), encodeBundle(deviceListBundle(account, [tablet], { seq: 1 }))), { timeoutMs: 5_000 })
      await new Promise((r) => setTimeout(r, 300))
      expect(events.map((e) => e.kind === 'device-list' && e.deviceList.seq)).toEqual([1, 1, 2])
    } finally {
      unwatch()
    }
  })

  it('bounds subscriptions per peer and in total, and answers bad requests with error frames', async () => {
    const storing = await createDiscoveryNode({
      ...init,
      bootstrap: [(nodes[0] as DiscoveryNode).multiaddrs()[0] as string],
      watchLimits: { maxSubscriptionsPerPeer: 2, maxSubscriptions: 3 },
    })
    extra.push(storing)
    const key = (i: number) => presenceKey(String(i).padStart(40, '0'))
    const [a, b] = [nodes[8] as DiscoveryNode, nodes[9] as DiscoveryNode]
    expect(await listenRequest(a, storing, { t: 'sub', key: key(1), ttlMs: 60_000 })).toMatchObject({ t: 'ok', ttlMs: 60_000 })
    expect(await listenRequest(a, storing, { t: 'sub', key: key(1), ttlMs: 99_000_000 })).toMatchObject({ t: 'ok', ttlMs: 1_800_000 })
    expect(await listenRequest(a, storing, { t: 'sub', key: key(2), ttlMs: 60_000 })).toMatchObject({ t: 'ok' })
    expect(await listenRequest(a, storing, { t: 'sub', key: key(3), ttlMs: 60_000 })).toMatchObject({ t: 'err', code: 'subscription_refused' })
    expect(await listenRequest(b, storing, { t: 'sub', key: key(3), ttlMs: 60_000 })).toMatchObject({ t: 'ok' })
    expect(await listenRequest(b, storing, { t: 'sub', key: key(4), ttlMs: 60_000 })).toMatchObject({ t: 'err', code: 'subscription_refused' })
    expect(storing.stats().subscriptions).toBe(3)
    expect(await listenRequest(a, storing, { t: 'unsub', key: key(1) })).toMatchObject({ t: 'ok' })
    expect(storing.stats().subscriptions).toBe(2)
    expect(await listenRequest(a, storing, { t: 'sub', key: '/ipns/x', ttlMs: 1 })).toMatchObject({ t: 'err', code: 'invalid_key' })
    expect(await listenRequest(a, storing, { t: 'ok' })).toMatchObject({ t: 'err', code: 'malformed_frame' })
    // pushes travel as rpc PUSH, not as watch frames
    expect(await listenRequest(a, storing, { t: 'push', key: key(1), value: 'AAAA' })).toMatchObject({ t: 'err', code: 'malformed_frame' })
    // a push of garbage for a key the node does not watch is acknowledged and ignored
    expect(await clientOf(a).request(storing.peerId, RPC_PUSH, encodePut(keyBytes(key(1)), new Uint8Array([0, 0, 0])), { timeoutMs: 5_000 })).toHaveLength(0)
    expect(storing.stats().pushesReceived).toBe(0)
    // a subscription reply carries what the node stores
    const device = makeDevice(makeAccount())
    expect(await a.sendPut(storing.peerId, presenceKey(device.deviceId), encodeBundle(presenceBundle(device)))).toBe(true)
    const reply = await listenRequest(b, storing, { t: 'unsub', key: key(3) }).then(() =>
      listenRequest(b, storing, { t: 'sub', key: presenceKey(device.deviceId), ttlMs: 1_000 }),
    )
    expect(reply).toMatchObject({ t: 'ok', value: expect.any(String) })
  })
})
