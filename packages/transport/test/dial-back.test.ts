/**
 * `/baran/dial-back/1.0.0` between real transport hosts on loopback: the server dials the asked
 * port back at the IP the request came from, the asker counts it only when its nonce came back at
 * the address it expected, the server rate-limits, and garbage gets a `refused` RESULT that says
 * what was wrong (and leaves the server serving). The frames: round trips, and every malformed
 * input a MalformedDialBackFrameError. The lab's real routers: tools/natlab/test/upnp.test.ts.
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import {
  DIAL_BACK_NONCE_BYTES,
  DIAL_BACK_PROTOCOL,
  type DialBack,
  type DialBackFrame,
  decodeDialBackFrame,
  encodeDialBackFrame,
  encodeVarint,
  MAX_DIAL_BACK_FRAME_BYTES,
  type TransportHost,
  type TransportHostInit,
} from '../src/index.ts'
import { directAddrs, HostPool } from './fixtures.ts'

const pool = new HostPool()
afterEach(() => pool.stopAll())
afterAll(() => pool.stopAll())

const dialBackOf = (h: TransportHost) => (h.libp2p.services as unknown as { dialBack: DialBack }).dialBack
/** The port of the host's TCP listener on loopback. */
function tcpPortOf(h: TransportHost): number {
  const port = directAddrs(h)
    .map((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)(\/p2p\/[^/]+)?$/.exec(a)?.[1])
    .find((p) => p !== undefined)
  if (port === undefined) throw new Error(`no loopback TCP address in ${directAddrs(h).join(', ')}`)
  return Number(port)
}

const LOOPBACK_HOST: TransportHostInit = { listen: ['/ip4/127.0.0.1/tcp/0'], webrtc: false, upnp: false, autonat: false }

/** A asks, B serves: A connected to B directly, and A knows (identify) that B serves dial-back. */
async function pair(): Promise<{ a: TransportHost; b: TransportHost }> {
  const a = await pool.host(LOOPBACK_HOST)
  const b = await pool.host(LOOPBACK_HOST)
  await a.libp2p.dial(multiaddr(directAddrs(b)[0]!))
  const deadline = Date.now() + 10_000
  while (!(await a.libp2p.peerStore.get(b.libp2p.peerId)).protocols.includes(DIAL_BACK_PROTOCOL)) {
    if (Date.now() > deadline) throw new Error('identify did not tell A that B serves dial-back')
    await new Promise((r) => setTimeout(r, 20))
  }
  return { a, b }
}

/** A raw stream from A to B on the protocol; sends `bytes` and returns B's answer frame (or the error). */
async function rawExchange(a: TransportHost, b: TransportHost, bytes: Uint8Array): Promise<DialBackFrame | Error> {
  const stream: Stream = await a.libp2p.dialProtocol(b.libp2p.peerId, DIAL_BACK_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  stream.send(bytes)
  const lp = lpStream(stream, { maxDataLength: MAX_DIAL_BACK_FRAME_BYTES })
  try {
    return decodeDialBackFrame((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
  } catch (err) {
    return err as Error
  } finally {
    stream.abort(new Error('test done'))
  }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('dial-back between real hosts', () => {
  test('B dials A’s port back at the IP the request came from; A counts it only at the address it expected', async () => {
    const { a, b } = await pair()
    const got = await dialBackOf(a).check('127.0.0.1', tcpPortOf(a))
    expect(got).toEqual({ reached: true, by: b.peerId })
  })

  test('a dial-back that arrives at another IP than the mapping’s does not confirm it', async () => {
    const { a } = await pair()
    const got = await dialBackOf(a).check('11.0.100.11', tcpPortOf(a))
    // another IP is no evidence that the port is closed
    expect(got).toMatchObject({ reached: false, reason: expect.stringContaining('it dialled 127.0.0.1, not 11.0.100.11'), refuted: false })
  })

  test('a port nobody listens on is not reached, and the reason says so: refuted (a peer dialled it and failed)', async () => {
    const { a } = await pair()
    const got = await dialBackOf(a).check('127.0.0.1', await freePort())
    expect(got).toMatchObject({ reached: false, reason: expect.stringContaining('dial_failed'), refuted: true })
  })

  test('one request per second per peer: a second one at once is refused', async () => {
    const { a } = await pair()
    const port = tcpPortOf(a)
    const [first, second] = await Promise.all([dialBackOf(a).check('127.0.0.1', port), dialBackOf(a).check('127.0.0.1', port)])
    expect([first, second]).toContainEqual(expect.objectContaining({ reached: true }))
    expect([first, second]).toContainEqual({ reached: false, reason: expect.stringContaining('rate limited'), refuted: false })
  })

  test('no directly connected peer that serves it: not reached, with the reason', async () => {
    const a = await pool.host(LOOPBACK_HOST)
    expect(await dialBackOf(a).check('127.0.0.1', tcpPortOf(a))).toEqual({ reached: false, reason: 'no directly connected peer serves dial-back', refuted: false })
  })

  test('garbage gets a refused RESULT naming what was wrong; the server keeps serving', async () => {
    const { a, b } = await pair()
    const lp = (body: Uint8Array) => Uint8Array.of(...encodeVarint(body.length), ...body)
    expect(await rawExchange(a, b, lp(Uint8Array.of(0x7f, 1, 2, 3)))).toMatchObject({ type: 'result', status: 'refused', reason: 'malformed frame: unknown frame type 0x7f' })
    expect(await rawExchange(a, b, lp(Uint8Array.of(0x01, 0x0f)))).toMatchObject({ type: 'result', status: 'refused', reason: expect.stringContaining('malformed frame: request of 2 bytes') })
    expect(await rawExchange(a, b, encodeVarint(1_000_000))).toMatchObject({ type: 'result', status: 'refused', reason: expect.stringMatching(/^unreadable frame: .*too long/) })
    expect(await rawExchange(a, b, lp(encodeDialBackFrame({ type: 'result', status: 'ok', reason: '' })))).toMatchObject({ status: 'refused', reason: 'expected a request or a back frame, got result' })
    // a dial-back nobody asked for is dropped without an ACK
    const stray = await rawExchange(a, b, lp(encodeDialBackFrame({ type: 'back', nonce: randomBytes(DIAL_BACK_NONCE_BYTES), host: '127.0.0.1' })))
    expect(stray).toBeInstanceOf(Error)
    expect(await dialBackOf(a).check('127.0.0.1', tcpPortOf(a))).toMatchObject({ reached: true })
  })
})

describe('dial-back frames', () => {
  const nonce = Uint8Array.from({ length: DIAL_BACK_NONCE_BYTES }, (_, i) => i)
  test.each<DialBackFrame>([
    { type: 'request', port: 4001, nonce },
    { type: 'request', port: 65535, nonce },
    { type: 'back', nonce, host: '11.0.100.11' },
    { type: 'back', nonce, host: '2001:db8::1' },
    { type: 'ack', nonce },
    { type: 'result', status: 'ok', reason: '' },
    { type: 'result', status: 'dial_failed', reason: 'connection refused ✗' },
  ])('round trip: %o', (frame) => {
    expect(decodeDialBackFrame(encodeDialBackFrame(frame))).toEqual(frame)
  })

  test('a long reason is cut at a character boundary and still decodes', () => {
    const encoded = encodeDialBackFrame({ type: 'result', status: 'refused', reason: 'é'.repeat(400) })
    expect(encoded.length).toBeLessThanOrEqual(MAX_DIAL_BACK_FRAME_BYTES)
    expect(decodeDialBackFrame(encoded)).toMatchObject({ status: 'refused', reason: expect.stringMatching(/^é+$/) })
  })

  test.each<[string, Uint8Array, string]>([
    ['empty', new Uint8Array(0), 'empty frame'],
    ['port 0', Uint8Array.of(0x01, 0, 0, ...nonce), 'port 0'],
    ['short nonce in an ack', Uint8Array.of(0x03, 1, 2), 'ack of 3 bytes'],
    ['back without an address', Uint8Array.of(0x02, ...nonce), 'without an address'],
    ['back to a name, not an IP', Uint8Array.of(0x02, ...nonce, ...new TextEncoder().encode('example.com')), 'not an IP'],
    ['invalid UTF-8', Uint8Array.of(0x04, 2, 0xff, 0xfe), 'not valid UTF-8'],
    ['unknown status', Uint8Array.of(0x04, 9), 'unknown result status 9'],
    ['too long', new Uint8Array(MAX_DIAL_BACK_FRAME_BYTES + 1).fill(4), 'at most'],
  ])('%s: MalformedDialBackFrameError', (_, bytes, message) => {
    expect(() => decodeDialBackFrame(bytes)).toThrow(expect.objectContaining({ name: 'MalformedDialBackFrameError', code: 'malformed_frame', message: expect.stringContaining(message) }))
  })

  test('any bytes decode or throw MalformedDialBackFrameError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeDialBackFrame(bytes)
        } catch (err) {
          expect((err as Error).name).toBe('MalformedDialBackFrameError')
        }
      }),
    )
  })
})
