/**
 * Honest discovery health (issue 14, defect 1): a node whose DHT bootstrap peer does not answer cannot find
 * anyone, so its discovery actor is `degraded` and `baran status` says why (and exits non-zero); once the
 * bootstrap peer answers, the actor bootstraps again by itself and is `ready`.
 */
import { createDiscoveryNode, type DiscoveryNode } from '@baran/discovery'
import { discoveryInfo, healthContractOf } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createServer } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { cli, startNode } from './helpers.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run(), 60_000)

/** A port nothing listens on now (bound and closed at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

describe('discovery health with a bootstrap peer that does not answer', () => {
  it('is degraded with the reason in `baran status`, and ready once the peer answers', async () => {
    const key = await generateKeyPair('Ed25519')
    const port = await freePort()
    const bootstrap = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(key).toString()}`
    // From the TypeScript sources (BARAN_FROM_SOURCE), as `baran` runs while a source is newer than the build: the
    // other end-to-end tests run the build.
    const n = await startNode(
      cleanup,
      { actors: { identity: '@baran/identity', discovery: '@baran/discovery' }, discovery: { bootstrap: [bootstrap] } },
      { source: true },
    )
    cleanup.add('stop node', () => n.proc.stop('SIGTERM', 20_000))

    const health = () => n.bus.request(healthContractOf('discovery'), {})
    await waitUntil(async () => (await health()).state === 'degraded', { timeoutMs: 30_000, what: 'discovery degraded' })
    expect((await health()).reason).toMatch(/no DHT peer reachable/)
    // Still answers (best effort) while degraded.
    expect((await n.bus.request(discoveryInfo, {})).routingTableSize).toBe(0)
    const status = await cli(cleanup, ['status', '--data-dir', n.dataDir])
    expect(status.code, status.out).not.toBe(0)
    expect(status.out).toMatch(/discovery\s+degraded/)
    expect(status.out).toMatch(/why: no DHT peer reachable/)
    const json = await cli(cleanup, ['status', '--data-dir', n.dataDir, '--json'])
    expect((JSON.parse(json.out) as { actors: Record<string, { reason?: string }> }).actors.discovery?.reason).toMatch(/no DHT peer reachable/)

    // The bootstrap peer comes up: the actor finds it on its next retry (back-off ≤ 30 s) and is ready again.
    const peer: DiscoveryNode = await createDiscoveryNode({ privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    cleanup.add('stop peer', () => peer.stop())
    await waitUntil(async () => (await health()).state === 'ready', { timeoutMs: 45_000, intervalMs: 250, what: 'discovery ready again' })
    expect((await n.bus.request(discoveryInfo, {})).routingTableSize).toBeGreaterThan(0)
    const after = await cli(cleanup, ['status', '--data-dir', n.dataDir])
    expect(after.code, after.out).toBe(0)
    expect(after.out).not.toMatch(/why:/)

    // The peer goes away: degraded again (the node notices it reaches nobody), and back when it returns.
    await peer.stop()
    await waitUntil(async () => (await health()).state === 'degraded', { timeoutMs: 30_000, what: 'discovery degraded again' })
    await peer.start()
    await waitUntil(async () => (await health()).state === 'ready', { timeoutMs: 45_000, intervalMs: 250, what: 'discovery ready after the peer came back' })
  }, 180_000)
})
