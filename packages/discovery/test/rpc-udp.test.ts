import { randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import { peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode, valueKey } from '../src/index.ts'
import { UDP_FALLBACK_MS, UDP_LOSSES_TO_STOP } from '../src/lib/constants.ts'
import { directHost } from '../src/lib/node-links.ts'
import { Rpc } from '../src/lib/rpc.ts'
import { MAX_UDP_BODY, MAX_UDP_SESSIONS, REPLAY_WINDOW, ReplayWindow, TO_CLIENT, TO_SERVER, UDP_HEAD, UdpEndpoint } from '../src/lib/rpc-udp.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { startNetwork, stopAll } from './helpers.ts'

const PROTOCOL = '/baran-test/rpc-udp/1.0.0'
const bytes = (s: string) => new TextEncoder().encode(s)

describe('ReplayWindow', () => {
  it('takes each counter once, in any order within the window, and nothing far behind the newest (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 400 }), (counters) => {
        const w = new ReplayWindow()
        const taken = new Set<number>()
        let top = -1
        for (const c of counters) {
          const ok = w.accept(c)
          if (ok) {
            expect(taken.has(c)).toBe(false)
            taken.add(c)
            top = Math.max(top, c)
          } else expect(taken.has(c) || c + REPLAY_WINDOW <= top).toBe(true)
        }
      }),
    )
  })
})

describe('UdpEndpoint: what a datagram must be to be taken', () => {
  let a: UdpEndpoint
  let b: UdpEndpoint
  let tap: dgram.Socket
  const captured: Buffer[] = []
  const heard: string[] = []
  beforeAll(async () => {
    a = await UdpEndpoint.bind('127.0.0.1', 0)
    b = await UdpEndpoint.bind('127.0.0.1', 0)
    tap = dgram.createSocket('udp4')
    tap.on('message', (m) => captured.push(m))
    await new Promise<void>((r) => tap.bind(0, '127.0.0.1', r))
  })
  afterAll(() => {
    a.stop()
    b.stop()
    tap.close()
  })
  const toB = (m: Uint8Array) => new Promise<void>((r) => tap.send(m, b.port, '127.0.0.1', () => r()))
  const settle = () => new Promise((r) => setTimeout(r, 50))

  it('opens what the session sealed, once; refuses a replay, a changed byte, an unknown session and a stub', async () => {
    const key = randomBytes(32)
    const server = b.open('peer-a', TO_SERVER, (body) => heard.push(Buffer.from(body).toString()), { key, from: '127.0.0.1' })
    const client = a.open('peer-b', TO_CLIENT, () => {}, { key })
    if (server === undefined || client === undefined) throw new Error('no session')
    // The client's datagrams go to the tap, which plays them to b as it likes.
    Object.assign(client, { remoteId: server.id, host: '127.0.0.1', port: tap.address().port })
    expect(a.send(client, bytes('one'))).toBe(true)
    expect(a.send(client, bytes('two'))).toBe(true)
    await expect.poll(() => captured.length).toBe(2)
    const [one, two] = captured as [Buffer, Buffer]
    await toB(two)
    await toB(one) // out of order: taken
    await toB(one) // again: a replay
    const changed = Buffer.from(two)
    changed[UDP_HEAD + 1] = (changed[UDP_HEAD + 1] as number) ^ 1
    await toB(changed)
    const otherSession = Buffer.from(two)
    otherSession.writeUInt32BE((server.id + 1) >>> 0, 1)
    await toB(otherSession)
    const otherDirection = Buffer.from(two)
    otherDirection[0] = TO_CLIENT
    await toB(otherDirection)
    await toB(Buffer.alloc(UDP_HEAD + 15))
    // From another address than its peer's connection: refused before it is opened (no answer to a forged source).
    const stranger = dgram.createSocket('udp4')
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.2', r))
    a.send(client, bytes('three'))
    await expect.poll(() => captured.length).toBe(3)
    await new Promise<void>((r) => stranger.send(captured[2] as Buffer, b.port, '127.0.0.1', () => r()))
    stranger.close()
    await settle()
    expect(heard).toEqual(['two', 'one'])
    expect(b.stats).toMatchObject({ received: 2, dropped: { replay: 1, auth: 1, session: 2, short: 1, address: 1 } })
    // The sender's address is where the server answers: the tap.
    expect(server.port).toBe(tap.address().port)
  })

  it('a flood of garbage leaves nothing behind and every datagram counted', async () => {
    const dropped = () => b.stats.dropped.short + b.stats.dropped.session + b.stats.dropped.auth
    const sessions = b.sessions
    // In batches the socket's receive buffer holds (beyond it the kernel drops them, uncounted: UDP under a flood).
    for (let batch = 0; batch < 50; batch++) {
      const before = dropped()
      for (let i = 0; i < 40; i++) await toB(randomBytes(1 + ((batch * 40 + i) % 1_400)))
      await expect.poll(() => dropped() - before, { timeout: 10_000 }).toBe(40)
    }
    expect(b.sessions).toBe(sessions)
    expect(b.stats.received).toBe(2)
  })

  it('holds at most MAX_UDP_SESSIONS sessions (a new one when one closes)', async () => {
    const e = await UdpEndpoint.bind('127.0.0.1', 0)
    try {
      const opened = Array.from({ length: MAX_UDP_SESSIONS }, (_, i) => e.open(`peer-${i}`, TO_SERVER, () => {}))
      expect(opened.every((s) => s !== undefined)).toBe(true)
      expect(new Set(opened.map((s) => s?.id)).size).toBe(MAX_UDP_SESSIONS)
      expect(e.open('one-more', TO_SERVER, () => {})).toBeUndefined()
      e.close(opened[0] as NonNullable<(typeof opened)[0]>)
      expect(e.open('one-more', TO_SERVER, () => {})).toBeDefined()
    } finally {
      e.stop()
    }
  })

  it('sends nothing larger than a datagram may be, nor without an address', () => {
    const s = a.open('peer-c', TO_CLIENT, () => {})
    if (s === undefined) throw new Error('no session')
    expect(a.send(s, bytes('x'))).toBe(false) // no address yet
    Object.assign(s, { host: '127.0.0.1', port: b.port, remoteId: 1 })
    expect(a.send(s, new Uint8Array(MAX_UDP_BODY + 1))).toBe(false)
    expect(a.send(s, new Uint8Array(MAX_UDP_BODY))).toBe(true)
    a.close(s)
  })
})

describe('directHost: where datagrams may go', () => {
  it('takes a direct TCP address, not a relayed or WebSocket one', () => {
    expect(directHost(multiaddr('/ip4/10.0.0.2/tcp/4001'))).toBe('10.0.0.2')
    expect(directHost(multiaddr('/ip6/::1/tcp/4001/p2p/12D3KooWGRUVh7pjPhkFPKKxYbZNmTZ8s8Xb9p8VqiYL7k6tnS9C'))).toBe('::1')
    expect(directHost(multiaddr('/ip4/10.0.0.2/tcp/4001/ws'))).toBeUndefined()
    expect(directHost(multiaddr('/ip4/10.0.0.2/tcp/4001/p2p/12D3KooWGRUVh7pjPhkFPKKxYbZNmTZ8s8Xb9p8VqiYL7k6tnS9C/p2p-circuit'))).toBeUndefined()
    expect(directHost(multiaddr('/dns4/example.test/tcp/4001'))).toBeUndefined()
  })
})

describe('Rpc with datagram sessions between two libp2p nodes', () => {
  const nodes: DiscoveryNode[] = []
  let a: DiscoveryNode
  let b: DiscoveryNode
  const made: Rpc[] = []
  beforeAll(async () => {
    a = await createDiscoveryNode()
    nodes.push(a)
    b = await createDiscoveryNode({ bootstrap: [a.multiaddrs()[0] as string] })
    nodes.push(b)
  })
  afterEach(() => {
    for (const r of made.splice(0)) r.stop()
  })
  afterAll(() => stopAll(nodes))

  const host = () => '127.0.0.1'
  /** A server on a (method 1 echoes reversed, method 2 answers `size` bytes) and a client on b, each with a socket unless told. */
  async function pair(opts: { serverUdp?: boolean; relayed?: boolean; udpRetryMs?: number } = {}) {
    const server = new Rpc({ openStream: () => Promise.reject(new Error('server only')) })
    const client = new Rpc({ openStream: (peer, signal) => b.libp2p.dialProtocol(peer, PROTOCOL, { signal }), udpHost: host, udpRetryMs: opts.udpRetryMs })
    made.push(server, client)
    server.handle(1, (_peer, payload) => Uint8Array.from(payload).reverse())
    server.handle(2, (_peer, payload) => new Uint8Array(new DataView(payload.buffer, payload.byteOffset).getUint32(0)).fill(7))
    const serverUdp = opts.serverUdp === false ? undefined : await UdpEndpoint.bind('127.0.0.1', 0)
    if (serverUdp) server.useUdp(serverUdp)
    client.useUdp(await UdpEndpoint.bind('127.0.0.1', 0))
    await a.libp2p.unhandle(PROTOCOL).catch(() => {})
    await a.libp2p.handle(PROTOCOL, (stream, conn) => server.serve(stream, conn.remotePeer.toString(), opts.relayed ? undefined : '127.0.0.1'), { maxInboundStreams: 8 })
    return { server, client, serverUdp }
  }
  const peerA = () => peerIdFromString(a.peerId)
  const size = (n: number) => {
    const p = new Uint8Array(4)
    new DataView(p.buffer).setUint32(0, n)
    return p
  }

  it('requests and their answers go by datagram once the ping is answered; a large answer comes on the stream', async () => {
    const { server, client } = await pair()
    expect(await client.request(peerA(), 1, Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(3, 2, 1)) // on the stream: no session yet
    await expect.poll(() => client.udpLinks, { timeout: 5_000 }).toBe(1)
    const sentBefore = client.udp?.sent ?? 0
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => client.request(peerA(), 1, Uint8Array.of(i, 0))))
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => Uint8Array.of(0, i)))
    expect((client.udp?.sent ?? 0) - sentBefore).toBe(50)
    expect(server.udp?.received).toBeGreaterThanOrEqual(51) // the ping and the 50
    const big = await client.request(peerA(), 2, size(20_000))
    expect(big).toEqual(new Uint8Array(20_000).fill(7))
  })

  it.each([
    ['has no socket', { serverUdp: false }],
    ['sees the connection as not direct', { relayed: true }],
  ])('keeps to the stream when the peer %s (it refuses the offer)', async (_, opts) => {
    const { client } = await pair(opts)
    expect(await client.request(peerA(), 1, Uint8Array.of(4, 5))).toEqual(Uint8Array.of(5, 4))
    await new Promise((r) => setTimeout(r, 300))
    expect(client.udpLinks).toBe(0)
    expect(await client.request(peerA(), 1, Uint8Array.of(6, 7))).toEqual(Uint8Array.of(7, 6))
  })

  it('a path that drops datagrams: each request is sent again on the stream, and the link stops using UDP', async () => {
    const { client, serverUdp } = await pair()
    await client.request(peerA(), 1, Uint8Array.of(1))
    await expect.poll(() => client.udpLinks, { timeout: 5_000 }).toBe(1)
    serverUdp?.stop() // its datagrams go nowhere now
    const started = performance.now()
    for (let i = 0; i < UDP_LOSSES_TO_STOP; i++) expect(await client.request(peerA(), 1, Uint8Array.of(i, 9))).toEqual(Uint8Array.of(9, i))
    expect(performance.now() - started).toBeGreaterThanOrEqual(UDP_LOSSES_TO_STOP * UDP_FALLBACK_MS - 10)
    expect(client.udpLinks).toBe(0)
    // The next request goes on the stream at once: no datagram is sent for it (no wait for a fallback).
    const sent = client.udp?.sent
    expect(await client.request(peerA(), 1, Uint8Array.of(8))).toEqual(Uint8Array.of(8))
    expect(client.udp?.sent).toBe(sent)
  })

  it('a link that stopped using UDP offers a new session later, and uses it once its ping is answered', async () => {
    const { server, client, serverUdp } = await pair({ udpRetryMs: 300 })
    await client.request(peerA(), 1, Uint8Array.of(1))
    await expect.poll(() => client.udpLinks, { timeout: 5_000 }).toBe(1)
    serverUdp?.stop() // a spell in which datagrams go nowhere
    for (let i = 0; i < UDP_LOSSES_TO_STOP; i++) await client.request(peerA(), 1, Uint8Array.of(i, 9))
    expect(client.udpLinks).toBe(0)
    server.useUdp(await UdpEndpoint.bind('127.0.0.1', 0)) // and the path works again
    await expect.poll(() => client.udpLinks, { timeout: 10_000 }).toBe(1)
    const sent = client.udp?.sent ?? 0
    expect(await client.request(peerA(), 1, Uint8Array.of(5, 6))).toEqual(Uint8Array.of(6, 5))
    expect(client.udp?.sent).toBe(sent + 1)
  })

  it("a closed link closes its sessions on both sides", async () => {
    const { server, client, serverUdp } = await pair()
    await client.request(peerA(), 1, Uint8Array.of(1))
    await expect.poll(() => client.udpLinks, { timeout: 5_000 }).toBe(1)
    expect(serverUdp?.sessions).toBe(1)
    client.stop()
    await expect.poll(() => serverUdp?.sessions, { timeout: 5_000 }).toBe(0)
    server.stop()
  })
})

describe('DHT nodes with udpRpc', () => {
  const nodes: DiscoveryNode[] = []
  beforeAll(async () => {
    await startNetwork(4, { udpRpc: true, keepAlive: false }, nodes)
    nodes.push(await createDiscoveryNode({ bootstrap: [nodes[0]?.multiaddrs()[0] as string], keepAlive: false, udpRpc: false })) // no socket
  }, 60_000)
  afterAll(() => stopAll(nodes))

  it('put and get by datagram, a value too large for one on the stream, and with a node that has no socket', async () => {
    const [a, b, , , plain] = nodes as [DiscoveryNode, DiscoveryNode, DiscoveryNode, DiscoveryNode, DiscoveryNode]
    await expect.poll(() => a.stats().udp?.links, { timeout: 10_000 }).toBe(3)
    const before = a.stats().udp?.sent ?? 0
    const small = valueKey('ab'.repeat(20))
    await a.putValue(small, bytes('hello'), { waitForLookup: true })
    expect((a.stats().udp?.sent ?? 0) - before).toBeGreaterThanOrEqual(3)
    expect(await b.getValue(small)).toEqual(bytes('hello'))
    const large = valueKey('cd'.repeat(20))
    const value = randomBytes(8_000)
    await a.putValue(large, value, { waitForLookup: true })
    expect(Buffer.from((await b.getValue(large)) ?? [])).toEqual(value)
    expect(plain.stats().udp).toBeUndefined()
    expect(await plain.getValue(small)).toEqual(bytes('hello'))
    await plain.putValue(valueKey('ef'.repeat(20)), bytes('plain'), { waitForLookup: true })
    expect(await a.getValue(valueKey('ef'.repeat(20)))).toEqual(bytes('plain'))
    for (const n of nodes.slice(0, 4)) expect(n.stats().udp?.dropped).toEqual({ short: 0, session: 0, address: 0, auth: 0, replay: 0 })
  })
})
