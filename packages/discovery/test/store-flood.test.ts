/**
 * A hostile peer floods a storing node through `/baran/rpc/1.0.0` (issue 14, item 2): a fresh, unauthenticated
 * libp2p peer (no kad-dht, no identify: only TCP, Noise, Yamux and the rpc frames) PUTs opaque values of 16 KiB
 * under random keys as fast as the node answers. Real libp2p nodes over loopback.
 */
import { randomBytes } from 'node:crypto'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { discoveryInfo, healthContractOf } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode, discoveryActor, presenceKey, valueKey } from '../src/index.ts'
import { RPC_PROTOCOL } from '../src/lib/constants.ts'
import { discoveryErrorFromWire } from '../src/lib/errors.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { FrameReader, Rpc } from '../src/lib/rpc.ts'
import { encodePut, RPC_PUT } from '../src/lib/rpc-codec.ts'
import { encodeValue, newDeleteToken } from '../src/lib/values.ts'
import { makeAccount, makeDevice, presenceBundle, waitFor } from './helpers.ts'

const KiB = 1024
const MiB = 1024 * KiB
const DAY = 24 * 60 * 60 * 1000

/** A bare libp2p peer: what anyone can start, with nothing Baran gives it. */
async function hostilePeer(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
  })
}

/** One rpc request frame as rpc.ts sends it: u32 length, kind 0, u32 id, u8 method, payload. */
function requestFrame(id: number, method: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 6 + payload.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, 6 + payload.length)
  out[4] = 0
  view.setUint32(5, id)
  out[9] = method
  out.set(payload, 10)
  return out
}

/** A valid opaque value (16 KiB of random data, living a day) PUT under a random key. */
function randomPut(): Uint8Array {
  const key = keyBytes(valueKey(randomBytes(20).toString('hex')))
  const value = encodeValue(randomBytes(16 * KiB), { expiresAt: Date.now() + DAY - 60_000, deleteToken: newDeleteToken() })
  return encodePut(key, value)
}

/**
 * PUT `count` random 16 KiB values to `target` over one rpc stream, pipelined (as fast as the stream drains),
 * and read every answer. Returns how many were stored and the error codes of the refusals.
 */
async function flood(peer: Libp2p, target: DiscoveryNode | string, count: number): Promise<{ ok: number; refused: Map<string, number>; sample?: { code: string; message: string } }> {
  const addr = typeof target === 'string' ? target : (target.multiaddrs()[0] as string)
  const stream = await peer.dialProtocol(multiaddr(addr), RPC_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const reader = new FrameReader()
  const refused = new Map<string, number>()
  let ok = 0
  let answered = 0
  let sample: { code: string; message: string } | undefined
  const decoder = new TextDecoder()
  stream.addEventListener('message', (evt) => {
    const data = evt.data as Uint8Array | { subarray(): Uint8Array }
    for (const body of reader.push(data instanceof Uint8Array ? data : data.subarray())) {
      answered++
      if (body[0] === 1) ok++
      else {
        const text = decoder.decode(body.subarray(5))
        const code = text.slice(0, text.indexOf('\n'))
        sample ??= { code, message: text.slice(text.indexOf('\n') + 1) }
        refused.set(code, (refused.get(code) ?? 0) + 1)
      }
    }
  })
  for (let id = 1; id <= count; id++) {
    if (!stream.send(requestFrame(id, RPC_PUT, randomPut()))) await stream.onDrain({ signal: AbortSignal.timeout(30_000) })
  }
  await waitFor(() => answered === count, 60_000, `answers to ${count} PUTs`)
  stream.abort(new Error('flood done'))
  return { ok, refused, ...(sample ? { sample } : {}) }
}

/**
 * Connect each peer to `addr`, one at a time: many Noise handshakes at once, racing the floods of the peers already
 * connected, can outlast the upgrade deadline on a busy machine.
 */
async function connectAll(peers: Libp2p[], addr: string): Promise<void> {
  for (const p of peers) await p.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)

describe('a hostile peer flooding the DHT store over /baran/rpc/1.0.0', () => {
  const LIMITS = { maxBytes: 4 * MiB, maxItems: 2_000, maxBytesPerPeer: 512 * KiB, maxItemsPerPeer: 200 }
  const nodes: DiscoveryNode[] = []
  const hostile: Libp2p[] = []
  let target: DiscoveryNode
  let honest: DiscoveryNode
  const device = makeDevice(makeAccount())

  beforeAll(async () => {
    target = await createDiscoveryNode({ storeLimits: LIMITS })
    nodes.push(target)
    honest = await createDiscoveryNode({ bootstrap: [target.multiaddrs()[0] as string] })
    nodes.push(honest)
    await waitFor(() => target.stats().routingTableSize >= 1 && honest.stats().routingTableSize >= 1, 20_000, 'the two nodes to meet')
  }, 30_000)
  afterAll(async () => {
    await Promise.allSettled([...nodes, ...hostile].map((n) => n.stop()))
  })

  it('keeps the store within its bounds, keeps Baran\'s own records, serves honest peers, and refuses the flooder with a typed error', async () => {
    // Baran's own record, put before the flood: a signed presence the target verified.
    await honest.publishPresence(presenceBundle(device, { seq: 1, peerId: honest.peerId }))
    expect(target.getLocalRecord(presenceKey(device.deviceId))).toBeDefined()

    // One peer floods: it gets its share, then a typed refusal for everything past it.
    const one = await hostilePeer()
    hostile.push(one)
    const first = await flood(one, target, 600)
    expect(first.refused.get('peer_quota') ?? 0).toBeGreaterThan(0)
    expect(first.ok).toBeLessThan(600)
    expect(first.sample?.code).toBe('peer_quota')
    const typed = discoveryErrorFromWire(first.sample?.code as string, first.sample?.message as string)
    expect(typed).toMatchObject({ name: 'PeerQuotaError', code: 'peer_quota' })
    // An rpc client gets the same refusal as the typed error, not a generic failure.
    const client = new Rpc({ openStream: (peer, signal) => one.dialProtocol(peer, RPC_PROTOCOL, { signal }) })
    await expect(client.request(peerIdFromString(target.peerId), RPC_PUT, randomPut())).rejects.toMatchObject({ name: 'PeerQuotaError', code: 'peer_quota' })
    client.stop()
    let store = target.stats().store
    expect(store.limits).toMatchObject(LIMITS)
    expect(store.bytes).toBeLessThanOrEqual(LIMITS.maxBytesPerPeer + 64 * KiB)
    expect(store.refusals.peerQuota).toBe((first.refused.get('peer_quota') ?? 0) + 1)
    expect(store.peersOverQuota).toBe(1)

    // Many fresh peers (PeerIds cost nothing): together they fill the store to its bound, and no further.
    const sybils = await Promise.all(Array.from({ length: 12 }, () => hostilePeer()))
    hostile.push(...sybils)
    await connectAll(sybils, target.multiaddrs()[0] as string)
    const results = await Promise.all(sybils.map((s) => flood(s, target, 80)))
    const refusedBySybils = results.reduce((n, r) => n + total(r.refused), 0)
    expect(refusedBySybils).toBeGreaterThan(0)
    store = target.stats().store
    expect(store.bytes).toBeLessThanOrEqual(LIMITS.maxBytes)
    expect(store.items).toBeLessThanOrEqual(LIMITS.maxItems)
    expect(store.bytes).toBeGreaterThan(LIMITS.maxBytes / 2)
    expect(store.refusals.storeFull + store.refusals.peerQuota).toBeGreaterThan(first.refused.get('peer_quota') ?? 0)

    // Baran's own record survived the flood.
    expect(target.getLocalRecord(presenceKey(device.deviceId))).toBeDefined()
    expect((await honest.lookupPresence(device.deviceId))?.seq).toBe(1)

    // An honest peer's later puts are stored on the target (within its own quota), by the flooders' making room.
    for (let i = 0; i < 5; i++) {
      const key = valueKey(randomBytes(20).toString('hex'))
      expect(await honest.sendPut(target.peerId, key, encodeValue(randomBytes(4 * KiB), { expiresAt: Date.now() + 600_000, deleteToken: newDeleteToken() }))).toBe(true)
      expect(target.getLocalRecord(key)).toBeDefined()
    }
    expect(target.stats().store.bytes).toBeLessThanOrEqual(LIMITS.maxBytes)
    // A newer presence from its owner still replaces the old one.
    await honest.publishPresence(presenceBundle(device, { seq: 2, peerId: honest.peerId }))
    expect((await honest.lookupPresence(device.deviceId))?.seq).toBe(2)

    // The node is still up and serving.
    expect(target.isStarted).toBe(true)
    expect(target.stats().routingTableSize).toBeGreaterThanOrEqual(1)
  }, 120_000)
})

/** The garbage collector: vitest's workers do not expose it, so ask V8 for it. */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc
  if (existing) return existing
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** Heap and buffer memory after a full collection (values live in ArrayBuffers, outside the JS heap). */
function usedMemory(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

describe('memory under a bounded flood', () => {
  const nodes: DiscoveryNode[] = []
  afterAll(() => Promise.allSettled(nodes.map((n) => n.stop())))

  it('2,000 × 16 KiB from 20 fresh peers grow memory by no more than the store bound (plus a margin)', async () => {
    const MAX_BYTES = 8 * MiB
    const target = await createDiscoveryNode({ storeLimits: { maxBytes: MAX_BYTES } })
    nodes.push(target)
    const gc = collector()
    // Warm up what any first connection allocates (noise, yamux, the rpc handler), then measure.
    const warm = await hostilePeer()
    await flood(warm, target, 5)
    await warm.stop()
    const before = usedMemory(gc)
    const peers = await Promise.all(Array.from({ length: 20 }, () => hostilePeer()))
    try {
      for (const p of peers) await flood(p, target, 100)
    } finally {
      await Promise.allSettled(peers.map((p) => p.stop()))
    }
    const grown = usedMemory(gc) - before
    // The flood sent ~44 MB of envelopes; what stays is the store (≤ its bound) plus connection leftovers.
    expect(grown).toBeLessThan(MAX_BYTES + 8 * MiB)
    const store = target.stats().store
    expect(store.bytes).toBeLessThanOrEqual(MAX_BYTES)
    expect(store.refusals.storeFull + store.refusals.peerQuota).toBeGreaterThan(0)
  }, 120_000)
})

describe('the discovery actor under a flood', () => {
  const cleanup = new Cleanup()
  afterAll(() => cleanup.run())

  it('takes its store bounds from its config, shows the figures in discovery.info, and stays ready', async () => {
    const nats = await setupNats({ cleanup, node: 'n1' })
    const store = { maxBytes: 2 * MiB, maxBytesPerPeer: 256 * KiB }
    await runInline(discoveryActor, { cleanup, node: 'n1', url: nats.url, dataDir: await tempDir(cleanup), config: { listen: ['/ip4/127.0.0.1/tcp/0'], store } })
    const before = await nats.bus.request(discoveryInfo, {})
    expect(before.store).toMatchObject({ bytes: 0, items: 0, limits: { ...store, maxItems: 50_000 } })
    const addr = before.addrs.find((a) => a.includes('/tcp/')) as string
    const peers = await Promise.all(Array.from({ length: 10 }, () => hostilePeer()))
    cleanup.add('stop the flooders', () => Promise.allSettled(peers.map((p) => p.stop())))
    await connectAll(peers, addr)
    const results = await Promise.all(peers.map((p) => flood(p, addr, 40)))
    const info = await nats.bus.request(discoveryInfo, {})
    expect(info.store?.bytes).toBeLessThanOrEqual(store.maxBytes)
    expect(info.store?.uploaders).toBeGreaterThan(0)
    expect((info.store?.refusals.peerQuota ?? 0) + (info.store?.refusals.storeFull ?? 0)).toBe(results.reduce((n, r) => n + total(r.refused), 0))
    expect(info.store?.peersOverQuota).toBeGreaterThan(0)
    expect((await nats.bus.request(healthContractOf('discovery'), {})).state).toBe('ready')
  }, 90_000)
})
