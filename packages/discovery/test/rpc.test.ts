import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { xor } from 'uint8arrays/xor'
import { xorCompare } from 'uint8arrays/xor-compare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode, MAX_FRAME_BYTES, valueKey } from '../src/index.ts'
import { sha256 } from '../src/lib/bytes.ts'
import { MAX_RPC_FRAME_BYTES, RPC_PROTOCOL } from '../src/lib/constants.ts'
import { FrameReader, Rpc } from '../src/lib/rpc.ts'
import { encodeValue, newDeleteToken } from '../src/lib/values.ts'
import { decodeGetReply, decodePeers, encodePut, peerFromMultihash, RPC_FIND, RPC_GET, RPC_PUT } from '../src/lib/rpc-codec.ts'
import { startNetwork, stopAll, waitFor } from './helpers.ts'

const PROTOCOL = '/baran-test/rpc/1.0.0'

/** A frame as the wire carries it: u32 length, kind, u32 id, then the rest. */
function wire(kind: number, id: number, rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 5 + rest.length)
  const v = new DataView(out.buffer)
  v.setUint32(0, 5 + rest.length)
  out[4] = kind
  v.setUint32(5, id)
  out.set(rest, 9)
  return out
}

describe('FrameReader', () => {
  it('gives back every frame whatever the chunk boundaries (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (bodies, cuts) => {
          const frames = bodies.map((b, i) => wire(1, i, b))
          const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0))
          let at = 0
          for (const f of frames) {
            all.set(f, at)
            at += f.length
          }
          const reader = new FrameReader()
          const got: Uint8Array[] = []
          let pos = 0
          for (let i = 0; pos < all.length; i++) {
            const n = cuts[i % cuts.length] as number
            got.push(...reader.push(all.slice(pos, pos + n)))
            pos += n
          }
          expect(got.map((g) => Buffer.from(g.subarray(5)).toString('hex'))).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')))
        },
      ),
    )
  })

  it('refuses a length over the limit, or too short for a header, before buffering it', () => {
    const big = new Uint8Array(4)
    new DataView(big.buffer).setUint32(0, MAX_RPC_FRAME_BYTES + 1)
    expect(() => new FrameReader().push(big)).toThrow(expect.objectContaining({ name: 'MalformedFrameError', code: 'malformed_frame' }))
    expect(() => new FrameReader().push(new Uint8Array([0, 0, 0, 2, 1, 1]))).toThrow(expect.objectContaining({ name: 'MalformedFrameError' }))
  })
})

describe('Rpc over a real libp2p connection', () => {
  const nodes: DiscoveryNode[] = []
  let a: DiscoveryNode
  let b: DiscoveryNode
  let client: Rpc
  let server: Rpc

  beforeAll(async () => {
    a = await createDiscoveryNode()
    nodes.push(a)
    b = await createDiscoveryNode({ bootstrap: [a.multiaddrs()[0] as string] })
    nodes.push(b)
    server = new Rpc({ openStream: (peer, signal) => a.libp2p.dialProtocol(peer, PROTOCOL, { signal }) })
    client = new Rpc({ openStream: (peer, signal) => b.libp2p.dialProtocol(peer, PROTOCOL, { signal }) })
    server.handle(1, async (_peer, payload) => {
      // answer out of order: a longer payload waits longer
      await new Promise((r) => setTimeout(r, payload.length))
      return Uint8Array.from(payload).reverse()
    })
    server.handle(2, () => {
      throw Object.assign(new Error('nope'), { code: 'value_occupied' })
    })
    server.handle(3, () => new Promise<Uint8Array>(() => {})) // never answers
    await a.libp2p.handle(PROTOCOL, (stream, conn) => server.serve(stream, conn.remotePeer.toString()), { maxInboundStreams: 8 })
  })
  afterAll(async () => {
    client.stop()
    server.stop()
    await stopAll(nodes)
  })

  const peerA = () => peerIdFromString(a.peerId)

  it('a stream open that never settles (its abort missed) fails the request in time, and the next request opens again', async () => {
    let opens = 0
    const stuck = new Rpc({ openStream: (peer, signal) => (++opens === 1 ? new Promise<never>(() => {}) : b.libp2p.dialProtocol(peer, PROTOCOL, { signal })) })
    try {
      await expect(stuck.request(peerA(), 1, Uint8Array.of(1, 2), { timeoutMs: 300 })).rejects.toThrow(/no stream within 300 ms/)
      expect(await stuck.request(peerA(), 1, Uint8Array.of(1, 2), { timeoutMs: 10_000 })).toEqual(Uint8Array.of(2, 1))
      expect(opens).toBe(2)
    } finally {
      stuck.stop()
    }
  })

  it('matches concurrent replies to their requests, over one stream', async () => {
    const payloads = Array.from({ length: 40 }, (_, i) => Uint8Array.from({ length: 40 - i }, (_, j) => j))
    const replies = await Promise.all(payloads.map((p) => client.request(peerA(), 1, p)))
    expect(replies).toEqual(payloads.map((p) => Uint8Array.from(p).reverse()))
    expect(client.links).toBe(1)
    const streams = b.libp2p.getConnections(peerA()).flatMap((c) => c.streams.filter((s) => s.protocol === PROTOCOL))
    expect(streams).toHaveLength(1)
  })

  it("carries a handler's error code back; an unknown method says so", async () => {
    await expect(client.request(peerA(), 2, new Uint8Array(1))).rejects.toMatchObject({ name: 'RpcFailedError', code: 'rpc_failed', remoteCode: 'value_occupied' })
    await expect(client.request(peerA(), 99, new Uint8Array(1))).rejects.toMatchObject({ name: 'RpcFailedError', remoteCode: 'unknown_method' })
  })

  it('gives up at the deadline, and refuses to send a frame over the limit', async () => {
    await expect(client.request(peerA(), 3, new Uint8Array(1), { timeoutMs: 200 })).rejects.toMatchObject({ name: 'RpcFailedError', remoteCode: undefined })
    await expect(client.request(peerA(), 1, new Uint8Array(MAX_FRAME_BYTES * 2))).rejects.toMatchObject({
      name: 'RpcFailedError',
      cause: expect.objectContaining({ name: 'MalformedFrameError' }),
    })
    // the link still works
    expect(await client.request(peerA(), 1, Uint8Array.of(1, 2))).toEqual(Uint8Array.of(2, 1))
  })

  it('fails pending requests when the link breaks, and opens a new link for the next one', async () => {
    const pending = client.request(peerA(), 3, new Uint8Array(1), { timeoutMs: 10_000 })
    await new Promise((r) => setTimeout(r, 50))
    for (const c of a.libp2p.getConnections()) for (const s of c.streams) if (s.protocol === PROTOCOL) s.abort(new Error('test: cut'))
    await expect(pending).rejects.toMatchObject({ name: 'RpcFailedError', remoteCode: undefined })
    expect(await client.request(peerA(), 1, Uint8Array.of(3, 4))).toEqual(Uint8Array.of(4, 3))
  })

  it('a link whose stream ended under it (before its reader noticed) is replaced at the next request, not failed', async () => {
    expect(await client.request(peerA(), 1, Uint8Array.of(7))).toEqual(Uint8Array.of(7))
    for (const c of b.libp2p.getConnections(peerA())) for (const s of c.streams) if (s.protocol === PROTOCOL) s.abort(new Error('test: ended under the link'))
    // at once, in the same turn: the link's reader has not ended yet
    expect(await client.request(peerA(), 1, Uint8Array.of(8, 9))).toEqual(Uint8Array.of(9, 8))
  })

  it('ends a stream that sends garbage or replies where requests belong, and keeps serving', async () => {
    for (const bytes of [Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1), Uint8Array.of(0, 0, 0, 1, 0), wire(1, 7, Uint8Array.of(1)), wire(0, 7, new Uint8Array(0))]) {
      const stream = await b.libp2p.dialProtocol(peerA(), PROTOCOL, { signal: AbortSignal.timeout(5_000) })
      stream.send(bytes)
      await waitFor(() => stream.status !== 'open', 5_000, 'the server to end the stream')
    }
    expect(await client.request(peerA(), 1, Uint8Array.of(5, 6))).toEqual(Uint8Array.of(6, 5))
  })

  it('fails at once after stop', async () => {
    const stopped = new Rpc({ openStream: (peer, signal) => b.libp2p.dialProtocol(peer, PROTOCOL, { signal }) })
    stopped.stop()
    await expect(stopped.request(peerA(), 1, Uint8Array.of(1))).rejects.toMatchObject({ name: 'RpcFailedError' })
  })
})

describe('lookups over rpc (FIND) in a small DHT', () => {
  const nodes: DiscoveryNode[] = []
  beforeAll(async () => {
    await startNetwork(8, { replication: 3 }, nodes, 7)
  }, 60_000)
  afterAll(() => stopAll(nodes))

  /** The peer IDs of the 3 nodes other than `not` closest to a key, nearest first. */
  const closestOthers = (key: string, not: DiscoveryNode): string[] => {
    const target = sha256(new TextEncoder().encode(key))
    const dist = (n: DiscoveryNode) => xor(sha256(peerIdFromString(n.peerId).toMultihash().bytes), target)
    return nodes
      .filter((n) => n !== not)
      .sort((x, y) => xorCompare(dist(x), dist(y)))
      .slice(0, 3)
      .map((n) => n.peerId)
  }

  it('finds the peers closest to a key by XOR distance, from every node', async () => {
    for (let k = 0; k < 5; k++) {
      const key = valueKey(randomBytes(20).toString('hex'))
      for (const from of nodes) expect(await from.closestPeers(key)).toEqual(closestOthers(key, from))
    }
  })

  it('a GET miss names the responder\'s closest peers (so a get of a missing key needs no FIND round)', async () => {
    const [a, b] = nodes as [DiscoveryNode, DiscoveryNode]
    const client = new Rpc({ openStream: (peer, signal) => a.libp2p.dialProtocol(peer, RPC_PROTOCOL, { signal }) })
    try {
      const key = valueKey(randomBytes(20).toString('hex'))
      const expected = closestOthers(key, b)
      const reply = decodeGetReply(await client.request(peerIdFromString(b.peerId), RPC_GET, new TextEncoder().encode(key)))
      expect(reply.value).toBeUndefined()
      expect(reply.peers?.map((p) => peerFromMultihash(p.id)?.toString())).toEqual(expected)
      // Each named peer comes with the addresses it announced.
      expect(reply.peers?.every((p) => p.addrs.length > 0)).toBe(true)
      expect(await a.getValue(key)).toBeUndefined()
    } finally {
      client.stop()
    }
  })

  it('a PUT reply names the responder\'s closest peers, so a put on a warm table sends no FIND', async () => {
    const [a, b] = nodes as [DiscoveryNode, DiscoveryNode]
    const client = new Rpc({ openStream: (peer, signal) => a.libp2p.dialProtocol(peer, RPC_PROTOCOL, { signal }) })
    try {
      const key = valueKey(randomBytes(20).toString('hex'))
      const kb = new TextEncoder().encode(key)
      const expected = closestOthers(key, b)
      const record = encodeValue(Uint8Array.of(1), { expiresAt: Date.now() + 60_000, deleteToken: newDeleteToken() })
      const named = decodePeers(await client.request(peerIdFromString(b.peerId), RPC_PUT, encodePut(kb, record)))
      expect(named.map((p) => peerFromMultihash(p.id)?.toString())).toEqual(expected)
      expect(named.every((p) => p.addrs.length > 0)).toBe(true)
      expect(b.getLocalRecord(key)).toEqual(record)
    } finally {
      client.stop()
    }
    // Every table here holds all the others: the PUTs' replies settle the lookup. The putter sends `replication`
    // requests: 3 PUTs, or 2 PUTs and one FIND to the third closest other when it is itself one of the three.
    const putter = nodes[3] as DiscoveryNode
    // Its join's self-lookups (kad-dht messages, at 0, 1, 3 … s after start) must be over first, or one of them lands
    // in a put's count on a loaded machine: no new kad-dht message for 4.5 s (longer than the join's gaps so far).
    let last = putter.wireCounts().kadMessages
    let quietSince = performance.now()
    await waitFor(() => {
      const now = putter.wireCounts().kadMessages
      if (now !== last) [last, quietSince] = [now, performance.now()]
      return performance.now() - quietSince >= 4_500
    }, 40_000, "the putter's join lookups over")
    for (let k = 0; k < 4; k++) {
      const key = valueKey(randomBytes(20).toString('hex'))
      const before = putter.wireCounts()
      const sentBefore = putter.stats().rpcSent
      const put = await putter.putValue(key, Uint8Array.of(2), { waitForLookup: true })
      const after = putter.wireCounts()
      const sent = putter.stats().rpcSent
      expect(after.rpcRequests - before.rpcRequests).toBe(3)
      expect(after.kadMessages).toBe(before.kadMessages)
      // the same three by method: PUTs (and that FIND), nothing else
      expect(sent.put - sentBefore.put).toBeGreaterThanOrEqual(2)
      expect(sent.put - sentBefore.put + sent.find - sentBefore.find).toBe(3)
      expect({ ...sent, put: 0, find: 0 }).toEqual({ ...sentBefore, put: 0, find: 0 })
      expect(put.stored).toBe(put.attempted)
    }
  }, 60_000)

  it('a FIND reply names each peer with the addresses it announced last (a new announcement replaces the cached entry)', async () => {
    const [a, b] = nodes as [DiscoveryNode, DiscoveryNode]
    const client = new Rpc({ openStream: (peer, signal) => a.libp2p.dialProtocol(peer, RPC_PROTOCOL, { signal }) })
    try {
      const key = valueKey(randomBytes(20).toString('hex'))
      const find = async () => decodePeers(await client.request(peerIdFromString(b.peerId), RPC_FIND, new TextEncoder().encode(key)))
      const first = await find()
      expect(first.map((p) => peerFromMultihash(p.id)?.toString())).toEqual(closestOthers(key, b))
      const named = first[0]!
      const peer = peerFromMultihash(named.id)!
      // the same reply again: from the entries encoded for the first one
      expect(await find()).toEqual(first)
      // that peer announces one more address (an identify, as libp2p dispatches it to b)
      const extra = multiaddr('/ip4/127.0.0.2/tcp/40999')
      const listenAddrs = [...named.addrs.map((bytes) => multiaddr(bytes)), extra]
      b.libp2p.safeDispatchEvent('peer:identify', { detail: { peerId: peer, listenAddrs, protocols: [], connection: undefined } as never })
      const second = await find()
      expect(second[0]!.addrs).toEqual([...named.addrs, extra.bytes])
      expect(second.slice(1)).toEqual(first.slice(1))
    } finally {
      client.stop()
    }
  })

  it('answers a get of a key nobody holds with nothing, and a put then reaches the closest peers', async () => {
    const key = valueKey(randomBytes(20).toString('hex'))
    expect(await (nodes[1] as DiscoveryNode).getValue(key)).toBeUndefined()
    await (nodes[2] as DiscoveryNode).putValue(key, Uint8Array.of(7), { waitForLookup: true })
    const holders = nodes.filter((n) => n.getLocalRecord(key) !== undefined)
    expect(holders.length).toBeGreaterThanOrEqual(3)
    expect(await (nodes.find((n) => n.getLocalRecord(key) === undefined) as DiscoveryNode).getValue(key)).toEqual(Uint8Array.of(7))
  })
})
