import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import type { StreamMuxerFactory } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { installedVersion } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { coalesceWindowUpdates, YAMUX_VERSION, yamuxCoalesced } from '../src/index.ts'

const hosts: Libp2p[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()))
})
const BULK = '/baran-test/bulk/1.0.0'
/** The library's own method, read before any host exists. */
const LIBRARY_SEND_WINDOW_UPDATE = YamuxStream.prototype.sendWindowUpdate

/** Two hosts with the coalescing muxer, b connected to a. */
async function pair(): Promise<[Libp2p, Libp2p]> {
  const a = await host(yamuxCoalesced())
  const b = await host(yamuxCoalesced())
  await b.dial(a.getMultiaddrs())
  return [a, b]
}

interface Window {
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

/** A muxer factory that counts the WindowUpdate frames its muxers write (a yamux header alone, type 1). */
function countingUpdates(make: () => StreamMuxerFactory, counter: { updates: number }): () => StreamMuxerFactory {
  return () => {
    const inner = make()
    const outer: StreamMuxerFactory = Object.create(inner)
    outer.createStreamMuxer = (maConn) => {
      const send = maConn.send.bind(maConn)
      maConn.send = (data) => {
        if (data instanceof Uint8Array && data.byteLength === 12 && data[1] === 1) counter.updates++
        return send(data)
      }
      return inner.createStreamMuxer(maConn)
    }
    return outer
  }
}

/** A bare libp2p host (TCP, Noise, the given muxer) on loopback. */
async function host(muxer: () => StreamMuxerFactory): Promise<Libp2p> {
  const h = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [muxer],
  })
  hosts.push(h)
  return h
}

/** Poll until `check()` holds or the deadline passes. */
async function until(check: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/**
 * `messages` small messages from a dialer to a receiver whose muxer is `receiverMuxer`, each sent once the previous
 * one arrived (so each is a data frame of its own). Returns the WindowUpdate frames the receiver wrote, and its stream.
 */
async function updatesForSmallMessages(receiverMuxer: () => StreamMuxerFactory, messages: number): Promise<{ updates: number; stream: unknown }> {
  const counter = { updates: 0 }
  const receiver = await host(countingUpdates(receiverMuxer, counter))
  const dialer = await host(yamux())
  let received = 0
  let accepted: unknown
  await receiver.handle(BULK, async (stream) => {
    accepted = stream
    for await (const chunk of stream) received += chunk.byteLength
  })
  const stream = await dialer.dialProtocol(receiver.getMultiaddrs(), BULK)
  for (let i = 1; i <= messages; i++) {
    stream.send(new Uint8Array(100).fill(i))
    await until(() => received === i * 100, `message ${i}`)
  }
  await stream.close()
  return { updates: counter.updates, stream: accepted }
}

describe('yamuxCoalesced: a muxer of its own, for the hosts that pass it', () => {
  it('the installed yamux is the version whose stream fields this module reads', () => {
    const version = installedVersion('@chainsafe/libp2p-yamux', import.meta.url)
    expect(version, `@chainsafe/libp2p-yamux ${version} installed, yamux-window.ts was written for ${YAMUX_VERSION}: re-check the stream fields it reads`).toBe(YAMUX_VERSION)
    expect(() => coalesceWindowUpdates({})).toThrowError(expect.objectContaining({ name: 'YamuxInternalsChangedError', message: expect.stringContaining(YAMUX_VERSION) }))
  })

  it('a host with it coalesces: 20 small messages get no WindowUpdate beyond the stream opening ACK', async () => {
    const { updates, stream } = await updatesForSmallMessages(yamuxCoalesced(), 20)
    expect(Object.hasOwn(stream as object, 'sendWindowUpdate')).toBe(true)
    expect(updates).toBeLessThanOrEqual(1)
  })

  it('a host without it is untouched, even beside hosts with it: one WindowUpdate per data frame, the library method', async () => {
    await pair() // hosts in this process with coalescing muxers
    const { updates, stream } = await updatesForSmallMessages(yamux(), 20)
    expect(YamuxStream.prototype.sendWindowUpdate).toBe(LIBRARY_SEND_WINDOW_UPDATE)
    expect(Object.hasOwn(stream as object, 'sendWindowUpdate')).toBe(false)
    expect(updates).toBeGreaterThanOrEqual(20)
  })
})

it('sends a window update only once half the receive window is used (as Go yamux does)', async () => {
  const [a, b] = await pair()
  await a.handle(BULK, (stream) => void stream.close())
  const stream = await b.dialProtocol(a.peerId, BULK)
  expect(stream).toBeInstanceOf(YamuxStream)
  const w = stream as unknown as Window
  // A little consumed: no update (the capacity, what the remote may still send, stays as it was).
  w.recvWindowCapacity = w.recvWindow - 100
  w.sendWindowUpdate()
  expect(w.recvWindowCapacity).toBe(w.recvWindow - 100)
  // More than half consumed: the update goes out and restores the whole window.
  w.recvWindowCapacity = Math.floor(w.recvWindow / 2) - 1
  w.sendWindowUpdate()
  expect(w.recvWindowCapacity).toBe(w.recvWindow)
  await stream.close()
})

it('flow control still works: 4 MiB in small chunks arrives whole', async () => {
  const [a, b] = await pair()
  let received = 0
  const done = new Promise<void>((resolve) => {
    void a.handle(BULK, async (stream) => {
      for await (const chunk of stream) received += chunk.byteLength
      resolve()
    })
  })
  const stream = await b.dialProtocol(a.peerId, BULK)
  const chunk = new Uint8Array(4096).fill(7)
  for (let i = 0; i < 1024; i++) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
  await done
  expect(received).toBe(4 * 1024 * 1024)
})
