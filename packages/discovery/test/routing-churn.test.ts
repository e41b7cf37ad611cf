/**
 * Closest peers after a peer left (found by the mailbox's churn test): tables that have not noticed yet still name the
 * peer in their FIND replies; it must not come back among the closest once it failed to answer, or puts and
 * maintenance skip a live peer for a dead one. Real libp2p nodes on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiscoveryNode } from '../src/index.ts'
import { valueKey } from '../src/lib/keys.ts'
import { startNetwork, stopAll } from './helpers.ts'

describe('closest peers after a peer left', () => {
  const nodes: DiscoveryNode[] = []

  beforeAll(async () => {
    await startNetwork(8, { replication: 4 }, nodes, 7)
  }, 60_000)
  afterAll(async () => {
    await stopAll(nodes)
  })

  it('a peer that did not answer is not among the closest, even when other peers still name it', async () => {
    const asker = nodes[1] as DiscoveryNode
    // Keys whose closest peer (as the asker sees it) is another node than the asker and the bootstrap node.
    for (let attempt = 0; attempt < 5; attempt++) {
      const key = valueKey(randomBytes(20).toString('hex'))
      const before = await asker.closestPeers(key)
      const gone = nodes.find((n) => n.peerId === before[0] && n !== nodes[0] && n.isStarted)
      if (gone === undefined) continue
      await gone.stop()
      const after = await asker.closestPeers(key)
      expect(after).not.toContain(gone.peerId)
      expect(after.length).toBeGreaterThanOrEqual(3)
      return
    }
    throw new Error('no key had a closest peer to stop in 5 attempts')
  }, 60_000)
})
