import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { afterEach, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode } from '../src/index.ts'
import { stopAll } from './helpers.ts'

const nodes: DiscoveryNode[] = []
afterEach(() => stopAll(nodes.splice(0)))
const BULK = '/baran-test/bulk/1.0.0'

async function pair(): Promise<[DiscoveryNode, DiscoveryNode]> {
  const a = await createDiscoveryNode()
  nodes.push(a)
  const b = await createDiscoveryNode({ bootstrap: a.multiaddrs() })
  nodes.push(b)
  return [a, b]
}

interface Window {
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

it('sends a window update only once half the receive window is used (as Go yamux does)', async () => {
  const [a, b] = await pair()
  await a.libp2p.handle(BULK, (stream) => void stream.close())
  const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, BULK)
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
    void a.libp2p.handle(BULK, async (stream) => {
      for await (const chunk of stream) received += chunk.byteLength
      resolve()
    })
  })
  const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, BULK)
  const chunk = new Uint8Array(4096).fill(7)
  for (let i = 0; i < 1024; i++) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
  await done
  expect(received).toBe(4 * 1024 * 1024)
})
