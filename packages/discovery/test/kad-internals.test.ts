import { readFileSync } from 'node:fs'
import type { KadDHT } from '@libp2p/kad-dht'
import { installedVersion } from '@baran/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode } from '../src/index.ts'
import { KAD_DHT_VERSION, KAD_INTERNALS, kadInternals } from '../src/lib/kad-internals.ts'
import { stopAll, waitFor } from './helpers.ts'

const UPGRADE = `kad-internals.ts reads private parts of @libp2p/kad-dht ${KAD_DHT_VERSION}: re-check them before changing the version`

describe(`@libp2p/kad-dht internals (written for ${KAD_DHT_VERSION})`, () => {
  const nodes: DiscoveryNode[] = []
  afterAll(() => stopAll(nodes))

  it('package.json pins exactly the version the internals were read from, and it is the one installed', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }
    expect(pkg.dependencies['@libp2p/kad-dht'], UPGRADE).toBe(KAD_DHT_VERSION)
    expect(installedVersion('@libp2p/kad-dht', import.meta.url), UPGRADE).toBe(KAD_DHT_VERSION)
  })

  it('a real kad-dht has every internal, and they behave as read: the routing table', async () => {
    const a = await createDiscoveryNode()
    nodes.push(a)
    const b = await createDiscoveryNode({ bootstrap: a.multiaddrs() })
    nodes.push(b)
    const kad = kadInternals(b.libp2p.services.dht)
    await waitFor(() => kad.routingTable.size > 0, 20_000, "b's routing table to hold a")
    const kadIdOfA = new Uint8Array(await crypto.subtle.digest('SHA-256', a.libp2p.peerId.toMultihash().bytes))
    expect(kad.routingTable.closestPeers(kadIdOfA, { count: 1 }).map(String), 'routingTable.closestPeers').toEqual([a.peerId])
  })

  it.each(KAD_INTERNALS.map(([path]) => path))('an upgrade without %s fails loudly, naming it and the version', async (path) => {
    const node = nodes[0] ?? (await createDiscoveryNode({ start: false }))
    if (nodes.length === 0) nodes.push(node)
    const dht = node.libp2p.services.dht as unknown as Record<string, Record<string, unknown>>
    const [owner, member] = path.split('.') as [string, string]
    // The same instance with that one member gone, as a kad-dht that renamed it would be.
    const changed = { ...dht, [owner]: Object.create(dht[owner] ?? null, { [member]: { value: undefined } }) }
    expect(() => kadInternals(changed as unknown as KadDHT)).toThrowError(
      expect.objectContaining({
        name: 'KadInternalsChangedError',
        message: expect.stringMatching(new RegExp(`${path.replace('.', '\\.')} \\(\\w+\\) not found \\(expected @libp2p/kad-dht ${KAD_DHT_VERSION.replaceAll('.', '\\.')}`)),
      }),
    )
  })
})
