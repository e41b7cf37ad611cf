import { afterEach, describe, expect, test } from 'vitest'
import {
  type ConnectionEvent,
  classifyConnection,
  createTransportHost,
  generateHostKey,
  hostKeyFromBytes,
  hostKeyToBytes,
  peerIdOf,
} from '../src/index.ts'
import { credentialsFor, directAddrs, HostPool, makeDevice, waitUntil } from './fixtures.ts'

const pool = new HostPool()
afterEach(() => pool.stopAll())

async function failure(p: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code: string }
  }
  throw new Error('expected the promise to reject')
}

describe('host', () => {
  test('defaults: loopback TCP and WebSockets, each address with /p2p/<peerId>', async () => {
    const a = await pool.host()
    const addrs = a.multiaddrs()
    expect(addrs).toHaveLength(2)
    for (const addr of addrs) {
      expect(addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
      expect(addr.endsWith(`/p2p/${a.peerId}`)).toBe(true)
    }
    expect(addrs.some((x) => x.includes('/ws/'))).toBe(true)
  })

  test('envelopes also travel over WebSockets', async () => {
    const a = await pool.host()
    const b = await pool.host()
    b.onEnvelope(async () => 'stored')
    const ws = b.multiaddrs().filter((x) => x.includes('/ws/'))
    const r = await a.send({ peerId: b.peerId, addrs: ws }, { id: 'ws-1', payload: Uint8Array.of(1) })
    expect(r.status).toBe('stored')
    expect(a.connections().map((c) => c.remoteAddr)).toEqual([expect.stringContaining('/ws')])
  })

  test("transports: ['ws'] listens and dials only WebSockets; a TCP listen address is refused", async () => {
    const a = await pool.host({ transports: ['ws'] })
    const b = await pool.host({ transports: ['ws'] })
    expect(a.multiaddrs()).toEqual([expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//)])
    b.onEnvelope(async () => 'stored')
    expect((await a.send({ peerId: b.peerId, addrs: b.multiaddrs() }, { id: 'ws-only', payload: Uint8Array.of(1) })).status).toBe('stored')
    // A peer reachable only over raw TCP is out of its reach.
    const tcpOnly = await pool.host({ transports: ['tcp'] })
    tcpOnly.onEnvelope(async () => 'stored')
    const err = await failure(a.send({ peerId: tcpOnly.peerId, addrs: tcpOnly.multiaddrs() }, { id: 'no-tcp', payload: Uint8Array.of(1) }, { timeoutMs: 3000 }))
    expect(err.code).toBe('unreachable')
    expect((await failure(createTransportHost({ transports: ['ws'], listen: ['/ip4/127.0.0.1/tcp/0'] }))).name).toBe('InvalidArgumentError')
    expect((await failure(createTransportHost({ transports: [] }))).name).toBe('InvalidArgumentError')
  })

  test('a persisted key gives the same PeerId across restarts', async () => {
    const key = await generateHostKey()
    const restored = hostKeyFromBytes(hostKeyToBytes(key))
    const h1 = await pool.host({ privateKey: key })
    expect(h1.peerId).toBe(peerIdOf(key))
    await h1.stop()
    const h2 = await pool.host({ privateKey: restored })
    expect(h2.peerId).toBe(h1.peerId)
    const err = await failure(Promise.resolve().then(() => hostKeyFromBytes(Uint8Array.of(1, 2, 3))))
    expect(err.name).toBe('InvalidArgumentError')
  })

  test('credentials can be given at creation', async () => {
    const key = await generateHostKey()
    const device = makeDevice()
    const a = pool.track(await createTransportHost({ privateKey: key, credentials: credentialsFor(device, peerIdOf(key)) }))
    const b = await pool.host()
    let from = ''
    b.onEnvelope(async (_env, f) => {
      from = f.deviceId
      return 'stored'
    })
    await a.send({ peerId: b.peerId, addrs: directAddrs(b) }, { id: 'c', payload: Uint8Array.of(1) })
    expect(from).toBe(device.device.id)
  })

  test('bad options are typed errors', async () => {
    expect((await failure(createTransportHost({ listen: ['not an address'] }))).name).toBe('InvalidArgumentError')
    expect((await failure(createTransportHost({ relays: ['/ip4/127.0.0.1/tcp/1'] }))).name).toBe('InvalidArgumentError')
    expect((await failure(createTransportHost({ maxFrameBytes: 0 }))).name).toBe('InvalidArgumentError')
    const a = await pool.host()
    const taken = directAddrs(a)[0]!.split('/p2p/')[0]!
    const err = await failure(createTransportHost({ listen: [taken] }))
    expect(err.name).toBe('ListenFailedError')
    expect(err.code).toBe('listen_failed')
  })

  test('connection events: direct open and close', async () => {
    const a = await pool.host()
    const b = await pool.host()
    b.onEnvelope(async () => 'stored')
    const events: ConnectionEvent[] = []
    const off = a.onConnection((e) => events.push(e))
    await a.send({ peerId: b.peerId, addrs: directAddrs(b) }, { id: 'e', payload: Uint8Array.of(1) })
    expect(events).toEqual([expect.objectContaining({ type: 'open', kind: 'direct', peerId: b.peerId, direction: 'outbound' })])
    await a.libp2p.hangUp(b.libp2p.peerId)
    await waitUntil(() => events.length === 2, 5_000, 'close event')
    expect(events[1]).toMatchObject({ type: 'close', kind: 'direct', peerId: b.peerId })
    expect(a.connections()).toEqual([])
    off()
  })

  test('keepAlive: pings each connection at the interval; false turns the connection monitor off', async () => {
    const a = await pool.host({ keepAlive: { intervalMs: 1000 } })
    const b = await pool.host({ keepAlive: false })
    b.onEnvelope(async () => 'stored')
    await a.send({ peerId: b.peerId, addrs: directAddrs(b) }, { id: 'k', payload: Uint8Array.of(1) })
    // libp2p records a connection's round-trip time when its monitor pings it.
    const rtt = (h: typeof a) => (h.libp2p.getConnections()[0] as { rtt?: number } | undefined)?.rtt
    await waitUntil(() => rtt(a) !== undefined, 10_000, "a's monitor pinged b")
    await new Promise((r) => setTimeout(r, 1500))
    expect(rtt(b)).toBeUndefined()
    expect(b.libp2p.getConnections()).toHaveLength(1)
  })

  test('classifyConnection: relayed, direct, and direct-beside-relayed is an upgrade (DCUtR)', () => {
    const relayed = { id: 'r', direct: false }
    const direct = { id: 'd', direct: true }
    expect(classifyConnection(relayed, [relayed])).toBe('relayed')
    expect(classifyConnection(direct, [direct])).toBe('direct')
    expect(classifyConnection(direct, [relayed, direct])).toBe('upgraded')
    expect(classifyConnection(relayed, [relayed, direct])).toBe('relayed')
  })
})

describe('circuit relay', () => {
  test('a host reachable only through a relay receives envelopes over the relayed connection', async () => {
    const relay = await pool.host({ relayServer: true }, { withCredentials: false })
    // no WebRTC here: this is about the relayed path itself (the upgrade is tested below)
    const hidden = await pool.host({ listen: [], relays: [directAddrs(relay)[0]!], webrtc: false })
    const addrs = hidden.multiaddrs()
    // no direct address at all: only the reservation on the relay
    expect(addrs.length).toBeGreaterThan(0)
    expect(addrs.every((x) => x.includes('/p2p-circuit/'))).toBe(true)
    expect(hidden.connections()).toEqual([expect.objectContaining({ kind: 'direct', peerId: relay.peerId })])

    const sender = await pool.host({ webrtc: false })
    const got: Array<{ id: string; connection: string }> = []
    hidden.onEnvelope(async (env, from) => {
      got.push({ id: env.id, connection: from.connection })
      return 'stored'
    })
    const senderEvents: ConnectionEvent[] = []
    sender.onConnection((e) => senderEvents.push(e))
    const r = await sender.send({ peerId: hidden.peerId, addrs }, { id: 'via-relay', payload: Uint8Array.of(1, 2, 3) })
    expect(r).toMatchObject({ status: 'stored', connection: 'relayed' })
    expect(got).toEqual([{ id: 'via-relay', connection: 'relayed' }])
    expect(senderEvents).toContainEqual(expect.objectContaining({ type: 'open', kind: 'relayed', peerId: hidden.peerId }))

    // and back over the same verified relayed stream
    sender.onEnvelope(async () => 'stored')
    const back = await hidden.send({ peerId: sender.peerId }, { id: 'reply', payload: Uint8Array.of(4) })
    expect(back).toMatchObject({ status: 'stored', connection: 'relayed' })
  })

  test('WebRTC upgrades a relayed connection to a direct one, and the message stream moves to it exactly once', async () => {
    const relay = await pool.host({ relayServer: true }, { withCredentials: false })
    const hidden = await pool.host({ listen: [], relays: [directAddrs(relay)[0]!] })
    const circuit = `${directAddrs(relay)[0]!}/p2p-circuit/p2p/${hidden.peerId}`
    await waitUntil(() => hidden.multiaddrs().some((a) => a.includes('/p2p-circuit/webrtc/')), 10_000, 'a WebRTC address')
    // Four attempts: at load ~10 two attempts in a row outlasted libp2p's 6 s per-address dial timeout.
    const sender = await pool.host({ listen: [], upgradeAttempts: 4 })
    const upgrades: Array<{ result: string }> = []
    sender.onUpgrade((e) => upgrades.push(e))
    const got: string[] = []
    hidden.onEnvelope(async (env) => {
      got.push(env.id)
      return 'stored'
    })
    // every address the hidden host announces, its WebRTC one too: the dial takes the relay first (dial-order.ts; a
    // WebRTC attempt first would hold the message for up to 6 s where ICE cannot cross), the upgrade follows
    const addrs = hidden.multiaddrs()
    expect(addrs).toEqual(expect.arrayContaining([circuit, expect.stringContaining('/p2p-circuit/webrtc/')]))
    const first = await sender.send({ peerId: hidden.peerId, addrs }, { id: 'm0', payload: Uint8Array.of(0) })
    expect(first.connection).toBe('relayed')
    await waitUntil(() => upgrades.some((u) => u.result === 'direct') || upgrades.length >= 4, 60_000, 'the upgrade')
    expect(upgrades.at(-1), JSON.stringify(upgrades)).toMatchObject({ result: 'direct' })
    const next = await sender.send({ peerId: hidden.peerId, addrs: [circuit] }, { id: 'm1', payload: Uint8Array.of(1) })
    expect(next.connection).toBe('direct')
    expect(got).toEqual(['m0', 'm1'])
    const kinds = sender.connections().filter((c) => c.peerId === hidden.peerId).map((c) => [c.kind, c.path])
    expect(kinds).toEqual(expect.arrayContaining([['relayed', 'circuit'], ['upgraded', 'webrtc']]))
  }, 120_000)

  test('the address callback reports the reservation going away with the relay', async () => {
    const relay = await pool.host({ relayServer: { limits: false, maxReservations: 4 } }, { withCredentials: false })
    const hidden = await pool.host({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [directAddrs(relay)[0]!] })
    expect(hidden.multiaddrs().some((x) => x.includes('/p2p-circuit/'))).toBe(true)
    const seen: string[][] = []
    hidden.onAddresses((addrs) => seen.push(addrs))
    await relay.stop()
    await waitUntil(() => seen.some((addrs) => !addrs.some((x) => x.includes('/p2p-circuit/'))), 10_000, 'address update')
    expect(hidden.multiaddrs().every((x) => !x.includes('/p2p-circuit/'))).toBe(true)
  })

  test('an unreachable relay does not stop the host from starting', async () => {
    const relay = await pool.host({}, { withCredentials: false })
    const relayAddr = directAddrs(relay)[0]!
    await relay.stop()
    const h = await pool.host({ relays: [relayAddr] })
    expect(directAddrs(h).length).toBeGreaterThan(0)
  })
})
