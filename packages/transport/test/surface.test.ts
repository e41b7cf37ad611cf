/**
 * The attack surface of `/baran/msg/1.0.0` seen by a hostile libp2p peer: it learns nothing before it proved
 * who it is (no certificate, no binding), and what it can hold open (streams, bytes, time) stays bounded.
 */
import { encodeRecord } from '@baran/trust'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import {
  CLOSE_GRACE_MS,
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  encodeVarint,
  type Frame,
  FrameDecoder,
  PROTOCOL,
  type TransportHost,
} from '../src/index.ts'
import { credentialsFor, type Device, directAddrs, HostPool, makeDevice, waitUntil } from './fixtures.ts'

const pool = new HostPool()
afterEach(() => pool.stopAll())
afterAll(() => pool.stopAll())

/** Long enough for a valid HELLO to verify on a busy machine; the hostile streams must be gone soon after. */
const HANDSHAKE_MS = 1_500

interface Probe {
  stream: Stream
  /** Every byte the target sent, in order. */
  bytes(): Uint8Array
  frames(): Frame[]
  /** ms from opening until the stream was closed or reset (undefined while open). */
  closedAfter(): number | undefined
  closed: Promise<void>
}

/** A hostile peer's view: opens the protocol on `target` from `from` and records every byte it reads. */
async function probe(from: TransportHost, target: TransportHost): Promise<Probe> {
  const conn = await from.libp2p.dial(multiaddr(directAddrs(target)[0]!))
  const t0 = Date.now()
  const stream = await conn.newStream(PROTOCOL)
  const chunks: Uint8Array[] = []
  let closedAt: number | undefined
  stream.addEventListener('message', (evt) => {
    for (const c of evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]) chunks.push(c.slice())
  })
  const closed = new Promise<void>((resolve) =>
    stream.addEventListener(
      'close',
      () => {
        closedAt = Date.now()
        resolve()
      },
      { once: true },
    ),
  )
  const bytes = () => {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const c of chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  }
  return {
    stream,
    bytes,
    frames: () => new FrameDecoder(DEFAULT_MAX_FRAME_BYTES).push(bytes()).map(decodeFrame),
    closedAfter: () => (closedAt === undefined ? undefined : closedAt - t0),
    closed,
  }
}

/** True when `needle` occurs in `hay` (byte-wise). */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

/** The target's certificate, binding and the names inside them must not be in what a probe read. */
function expectNothingLeaked(p: Probe, target: TransportHost & { device: Device }): void {
  const read = p.bytes()
  const creds = credentialsFor(target.device, target.peerId)
  expect(p.frames().map((f) => f.type)).not.toContain('hello')
  expect(contains(read, encodeRecord(creds.deviceCert).subarray(0, 64))).toBe(false)
  expect(contains(read, new TextEncoder().encode(target.device.account.id))).toBe(false)
  expect(contains(read, new TextEncoder().encode(target.device.device.id))).toBe(false)
}

/** A valid HELLO of `host` (its own device, bound to its PeerId). */
function helloOf(host: TransportHost): Uint8Array {
  const creds = credentialsFor(makeDevice(), host.peerId)
  return encodeFrame(
    { type: 'hello', deviceCert: encodeRecord(creds.deviceCert), peerBinding: encodeRecord(creds.peerBinding) },
    DEFAULT_MAX_FRAME_BYTES,
  )
}

describe('the opener proves first', () => {
  test('a peer that opens the stream and sends nothing reads no certificate and is closed in time', async () => {
    const target = await pool.host({ handshakeTimeoutMs: HANDSHAKE_MS })
    const hostile = await pool.host({}, { withCredentials: false })
    const p = await probe(hostile, target)
    await p.closed
    expectNothingLeaked(p, target)
    expect(p.frames()).toEqual([{ type: 'close', code: 'handshake_timeout', reason: expect.any(String) }])
    expect(p.closedAfter()).toBeLessThan(HANDSHAKE_MS + CLOSE_GRACE_MS + 2_000)
    expect(target.streamCount).toBe(0)
  })

  test('a peer that sends garbage, or a HELLO that does not verify, reads no certificate', async () => {
    const target = await pool.host({ handshakeTimeoutMs: HANDSHAKE_MS })
    const hostile = await pool.host({}, { withCredentials: false })
    // a genuine chain, but bound to the target's PeerId, not the hostile one (a replayed HELLO)
    const replayed = helloOf(target)
    const garbage = await probe(hostile, target)
    garbage.stream.send(Uint8Array.of(5, 0x01, 0xff, 0xff, 0xff, 0xff))
    const bindsOther = await probe(hostile, target)
    bindsOther.stream.send(replayed)
    for (const p of [garbage, bindsOther]) {
      await p.closed
      expectNothingLeaked(p, target)
      expect(p.closedAfter()).toBeLessThan(HANDSHAKE_MS + CLOSE_GRACE_MS + 2_000)
    }
    expect(garbage.frames()[0]).toMatchObject({ type: 'close', code: 'protocol_error' })
    expect(bindsOther.frames()[0]).toMatchObject({ type: 'close', code: 'handshake_failed', reason: expect.stringMatching(/^wrong_signer: /) })
  })

  test('an opener with a valid HELLO gets the HELLO back; honest hosts still exchange both ways', async () => {
    const target = await pool.host({ handshakeTimeoutMs: HANDSHAKE_MS })
    target.onEnvelope(async () => 'stored')
    const peer = await pool.host({}, { withCredentials: false })
    const hello0 = helloOf(peer)
    const p = await probe(peer, target)
    p.stream.send(hello0)
    await waitUntil(() => p.frames().length > 0, 5_000, 'HELLO from the target')
    const hello = p.frames()[0]!
    expect(hello.type).toBe('hello')
    p.stream.abort(new Error('done'))

    const a = await pool.host()
    a.onEnvelope(async () => 'stored')
    expect((await a.send({ peerId: target.peerId, addrs: directAddrs(target) }, { id: 'x', payload: Uint8Array.of(1) })).status).toBe('stored')
    expect((await target.send({ peerId: a.peerId }, { id: 'y', payload: Uint8Array.of(2) })).status).toBe('stored')
  })

  test('the dialler can require the account and device it means: another one is refused', async () => {
    const target = await pool.host()
    target.onEnvelope(async () => 'stored')
    const a = await pool.host()
    const to = { peerId: target.peerId, addrs: directAddrs(target) }
    const ok = await a.send({ ...to, accountId: target.device.account.id, deviceId: target.device.device.id }, { id: 'm1', payload: Uint8Array.of(1) })
    expect(ok.status).toBe('stored')
    const other = makeDevice()
    const err = await a
      .send({ ...to, accountId: other.account.id, deviceId: other.device.id }, { id: 'm2', payload: Uint8Array.of(1) })
      .then(() => undefined, (e: Error & { code: string }) => e)
    expect(err?.name).toBe('HandshakeFailedError')
    expect(err?.message).toMatch(/not the expected/)
  })
})

describe('bounded resources', () => {
  test('a flood of streams from one peer: few are held while unverified, the rest are refused at once', async () => {
    const handshakeMs = 5_000
    const target = await pool.host({ handshakeTimeoutMs: handshakeMs, maxUnverifiedStreamsPerPeer: 4 })
    target.onEnvelope(async () => 'stored')
    const hostile = await pool.host({}, { withCredentials: false })
    const conn = await hostile.libp2p.dial(multiaddr(directAddrs(target)[0]!))
    // how long each stream lived, and the CLOSE code it read
    const ended: Array<{ ms: number; code: string | undefined }> = []
    // half-open: each opens the protocol and never sends a byte (libp2p itself allows 32 per connection)
    for (let i = 0; i < 30; i++) {
      const opened = Date.now()
      const s = await conn.newStream(PROTOCOL)
      const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES)
      let code: string | undefined
      s.addEventListener('message', (evt) => {
        for (const c of evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]) {
          for (const f of decoder.push(c).map(decodeFrame)) if (f.type === 'close') code = f.code
        }
      })
      s.addEventListener('close', () => ended.push({ ms: Date.now() - opened, code }), { once: true })
    }
    await waitUntil(() => ended.length >= 26, 5_000, 'the streams past the limit refused')
    expect(target.streamCount).toBeLessThanOrEqual(4)
    // refused at once, long before the handshake timeout, with a reason
    for (const e of ended.slice(0, 26)) {
      expect(e.code).toBe('too_many_streams')
      expect(e.ms).toBeLessThan(handshakeMs - 1_000)
    }
    // an honest peer is still served during the flood
    const good = await pool.host()
    const r = await good.send({ peerId: target.peerId, addrs: directAddrs(target) }, { id: 'g', payload: Uint8Array.of(1) })
    expect(r.status).toBe('stored')
    // and the held ones go at the handshake timeout
    await waitUntil(() => ended.length === 30, handshakeMs + CLOSE_GRACE_MS + 3_000, 'every hostile stream closed')
    expect(ended.slice(26).map((e) => e.code)).toEqual(Array(4).fill('handshake_timeout'))
  })

  test('unverified streams from many peers are bounded in total', async () => {
    const target = await pool.host({ handshakeTimeoutMs: 3_000, maxUnverifiedStreamsPerPeer: 4, maxUnverifiedStreams: 6 })
    const hostiles = [await pool.host({}, { withCredentials: false }), await pool.host({}, { withCredentials: false })]
    let refused = 0
    for (const h of hostiles) {
      const conn = await h.libp2p.dial(multiaddr(directAddrs(target)[0]!))
      for (let i = 0; i < 4; i++) {
        const s = await conn.newStream(PROTOCOL)
        s.addEventListener('close', () => refused++, { once: true })
      }
    }
    await waitUntil(() => refused >= 2, 2_000, 'the two streams past the total refused')
    expect(target.streamCount).toBe(6)
  })

  test('a verified peer that trickles a frame byte by byte is still closed by the idle timeout', async () => {
    const target = await pool.host({ handshakeTimeoutMs: 2_000, idleTimeoutMs: 400 })
    target.onEnvelope(async () => 'stored')
    const peer = await pool.host({}, { withCredentials: false })
    const hello0 = helloOf(peer)
    const p = await probe(peer, target)
    p.stream.send(hello0)
    await waitUntil(() => p.frames().length > 0, 5_000, 'HELLO from the target')
    // announces a 100 KiB ENVELOPE, then sends one byte of it every 50 ms: never a complete frame
    p.stream.send(encodeVarint(100 * 1024))
    const trickle = setInterval(() => {
      if (p.stream.writeStatus === 'writable') p.stream.send(Uint8Array.of(0x02))
    }, 50)
    try {
      await waitUntil(() => p.frames().some((f) => f.type === 'close'), 400 * 4 + 2_000, 'idle CLOSE')
    } finally {
      clearInterval(trickle)
    }
    expect(p.frames().find((f) => f.type === 'close')).toMatchObject({ code: 'idle_timeout' })
    await waitUntil(() => target.streamCount === 0, CLOSE_GRACE_MS + 2_000, 'stream gone')
  })
})
