/**
 * Frames a session writes in one turn go out as one stream write: ACKs of envelopes stored together reach the
 * sender as one yamux message, not one each (each costs a yamux frame, a Noise message and a socket write on both
 * sides). Driven through a raw libp2p stream that counts the messages it receives. And a batch leaves within that
 * turn, not one event-loop iteration later (that wait was on every envelope and every ACK).
 */
import { encodeRecord } from '@baran/trust'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, describe, expect, test } from 'vitest'
import { DEFAULT_MAX_FRAME_BYTES, decodeFrame, encodeFrame, type Frame, FrameDecoder, PROTOCOL } from '../src/index.ts'
import { StreamWriter } from '../src/lib/stream-writer.ts'
import { credentialsFor, directAddrs, HostPool, makeDevice, waitUntil } from './fixtures.ts'

const pool = new HostPool()
afterAll(() => pool.stopAll())

/** A stream from one host to a sink on another that collects every byte it receives. */
async function sinkStream(): Promise<{ stream: Stream; received: number[] }> {
  const SINK = '/baran-test/sink/1.0.0'
  const [a, b] = [await pool.host(), await pool.host()]
  const received: number[] = []
  await b.libp2p.handle(SINK, (stream) => {
    stream.addEventListener('message', (evt) => {
      for (const c of evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]) received.push(...c)
    })
  })
  const conn = await a.libp2p.dial(multiaddr(directAddrs(b)[0]!))
  return { stream: await conn.newStream(SINK), received }
}

describe('write batching', () => {
  test('64 envelopes stored together are acked in one stream message, in order, each exactly once', async () => {
    const N = 64
    const target = await pool.host({ maxInFlight: N })
    // the handler holds every envelope until all of them arrived, then stores them all at once
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const handled: string[] = []
    target.onEnvelope(async (env) => {
      handled.push(env.id)
      if (handled.length === N) release()
      await gate
      return 'stored'
    })
    const raw = await pool.host({}, { withCredentials: false })
    const creds = credentialsFor(makeDevice(), raw.peerId)
    const hello = encodeFrame({ type: 'hello', deviceCert: encodeRecord(creds.deviceCert), peerBinding: encodeRecord(creds.peerBinding) }, DEFAULT_MAX_FRAME_BYTES)

    const conn = await raw.libp2p.dial(multiaddr(directAddrs(target)[0]!))
    const stream = await conn.newStream(PROTOCOL)
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES)
    const frames: Frame[] = []
    let messagesWithAcks = 0
    stream.addEventListener('message', (evt) => {
      const chunks = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]
      const got = chunks.flatMap((c) => decoder.push(c).map(decodeFrame))
      if (got.some((f) => f.type === 'ack')) messagesWithAcks++
      frames.push(...got)
    })
    stream.send(hello)
    await waitUntil(() => frames.some((f) => f.type === 'hello'), 10_000, 'the target HELLO')
    const ids = Array.from({ length: N }, (_, i) => `m-${i}`)
    for (const id of ids) stream.send(encodeFrame({ type: 'envelope', id, payload: Uint8Array.of(1) }, DEFAULT_MAX_FRAME_BYTES))
    await waitUntil(() => frames.filter((f) => f.type === 'ack').length === N, 20_000, 'every ACK')

    const acks = frames.filter((f) => f.type === 'ack')
    expect(acks.map((f) => (f.type === 'ack' ? f.id : ''))).toEqual(ids)
    expect(acks.every((f) => f.type === 'ack' && f.status === 'stored')).toBe(true)
    expect(handled).toEqual(ids)
    // the first ACK at once, the 63 others of that turn in one stream write (it was one per ACK: 64)
    expect(messagesWithAcks).toBeLessThanOrEqual(2)
    await stream.close().catch(() => {})
  })

  test('a batch is handed to the stream before the event loop turns (before a setImmediate queued earlier runs)', async () => {
    const { stream, received } = await sinkStream()
    const writer = new StreamWriter(stream, () => false)
    let turned = false
    setImmediate(() => {
      turned = true
    })
    await Promise.all([writer.write(Uint8Array.of(1, 2, 3)), writer.write(Uint8Array.of(4, 5))])
    // a write resolves once its batch was handed to the stream: that happened within this turn
    expect(turned).toBe(false)
    await waitUntil(() => received.length === 5, 10_000, 'both frames at the other end')
    expect(received).toEqual([1, 2, 3, 4, 5])
    await stream.close().catch(() => {})
  })
})

test("a turn's first frame is handed to the stream at once; the frames after it in that turn go out together", async () => {
  const { stream, received } = await sinkStream()
  const sends: number[] = []
  const send = stream.send.bind(stream)
  stream.send = (data) => {
    sends.push(data.byteLength)
    return send(data)
  }
  const writer = new StreamWriter(stream, () => false)
  const first = writer.write(Uint8Array.of(1))
  // a lone frame waits for no batch
  expect(sends).toEqual([1])
  const rest = [writer.write(Uint8Array.of(2, 3)), writer.write(Uint8Array.of(4, 5, 6))]
  expect(sends).toEqual([1])
  await Promise.all([first, ...rest])
  expect(sends).toEqual([1, 5])
  // the next turn starts over: its first frame leaves at once again
  await new Promise((r) => setImmediate(r))
  void writer.write(Uint8Array.of(7))
  expect(sends).toEqual([1, 5, 1])
  await waitUntil(() => received.length === 7, 10_000, 'every frame at the other end')
  expect(received).toEqual([1, 2, 3, 4, 5, 6, 7])
  await stream.close().catch(() => {})
})

describe("the host's muxer (@baran/p2p)", () => {
  test('its yamux streams send a WindowUpdate per half window, not one per data frame, on both ends', async () => {
    const a = await pool.host()
    const b = await pool.host()
    let accepted: object | undefined
    await b.libp2p.handle('/baran-test/window/1.0.0', (stream) => {
      accepted = stream
      void stream.close()
    })
    const stream = await a.libp2p.dialProtocol(multiaddr(directAddrs(b)[0]!), '/baran-test/window/1.0.0')
    await waitUntil(() => accepted !== undefined, 10_000, 'the accepted stream')
    // the coalescing muxer gives each stream its own sendWindowUpdate (the library's sits on the prototype)
    expect(Object.hasOwn(stream, 'sendWindowUpdate')).toBe(true)
    expect(Object.hasOwn(accepted as object, 'sendWindowUpdate')).toBe(true)
    await stream.close().catch(() => {})
  })
})
