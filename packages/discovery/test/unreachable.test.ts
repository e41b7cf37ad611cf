/**
 * A peer that left stays in kad-dht's routing table until a bucket refresh pings it. A node whose dial to it failed
 * leaves it out of the closest peers for a while, so the next put goes to live peers only (real nodes on loopback).
 */
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, describe, expect, it } from 'vitest'
import { type DiscoveryNode, valueKey } from '../src/index.ts'
import { sha256 } from '../src/lib/bytes.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { compareDistance } from '../src/lib/nearest.ts'
import { startNetwork, stopAll } from './helpers.ts'

const nodes: DiscoveryNode[] = []
afterAll(() => stopAll(nodes))

describe('a peer that left', () => {
  it('is left out of the next put once a dial to it failed: every peer asked then stores', async () => {
    await startNetwork(7, { replication: 3 }, nodes)
    const key = valueKey(randomBytes(20).toString('hex'))
    const kadId = sha256(keyBytes(key))
    const kadOf = (n: DiscoveryNode) => sha256(peerIdFromString(n.peerId).toMultihash().bytes)
    const ranked = [...nodes].sort((a, b) => compareDistance(kadOf(a), kadOf(b), kadId))
    // The two closest to the key leave; the farthest node puts.
    const [gone1, gone2] = ranked as [DiscoveryNode, DiscoveryNode]
    const writer = ranked.at(-1) as DiscoveryNode
    await Promise.all([gone1.stop(), gone2.stop()])
    // Left: the writer has seen their connections close, so its next request to each must dial (and fail).
    const goneIds = [gone1, gone2].map((n) => peerIdFromString(n.peerId))
    await expect.poll(() => goneIds.reduce((sum, id) => sum + writer.libp2p.getConnections(id).length, 0), { timeout: 10_000 }).toBe(0)
    const first = await writer.putValue(key, Uint8Array.of(1))
    // Its table still named them: they were asked and failed.
    expect(first.stored).toBeLessThan(first.attempted)
    // Another key with the same two closest (a value cannot be put twice): found by trying random keys.
    const closestTwo = (k: string) => {
      const id = sha256(keyBytes(k))
      return [...nodes].sort((a, b) => compareDistance(kadOf(a), kadOf(b), id)).slice(0, 2)
    }
    let key2 = key
    for (let i = 0; i < 10_000 && key2 === key; i++) {
      const k = valueKey(randomBytes(20).toString('hex'))
      const [c1, c2] = closestTwo(k)
      if (c1 === gone1 && c2 === gone2) key2 = k
    }
    expect(key2).not.toBe(key)
    const second = await writer.putValue(key2, Uint8Array.of(2))
    expect(second.stored).toBeGreaterThan(0)
    expect(second.stored).toBe(second.attempted)
  }, 120_000)
})
