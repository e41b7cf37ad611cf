/** A discovery node's libp2p stack uses @baran/p2p's muxer: its yamux streams coalesce their window updates. */
import { afterAll, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode } from '../src/index.ts'
import { stopAll } from './helpers.ts'

const nodes: DiscoveryNode[] = []
afterAll(() => stopAll(nodes))

it("a discovery node's streams send a WindowUpdate per half window (their own sendWindowUpdate), on both ends", async () => {
  const a = await createDiscoveryNode()
  nodes.push(a)
  const b = await createDiscoveryNode({ bootstrap: a.multiaddrs() })
  nodes.push(b)
  let accepted: object | undefined
  await a.libp2p.handle('/baran-test/window/1.0.0', (stream) => {
    accepted = stream
    void stream.close()
  })
  const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, '/baran-test/window/1.0.0')
  await expect.poll(() => accepted !== undefined, { timeout: 10_000 }).toBe(true)
  expect(Object.hasOwn(stream, 'sendWindowUpdate')).toBe(true)
  expect(Object.hasOwn(accepted as object, 'sendWindowUpdate')).toBe(true)
  await stream.close().catch(() => {})
})
