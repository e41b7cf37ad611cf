import { afterEach, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode, discoveryActor } from '../src/index.ts'
import { stopAll, waitFor } from './helpers.ts'

const nodes: DiscoveryNode[] = []
afterEach(() => stopAll(nodes.splice(0)))

it('keepAlive: pings each connection at the interval; false turns the connection monitor off', async () => {
  const a = await createDiscoveryNode({ keepAlive: { intervalMs: 1000 } })
  nodes.push(a)
  const b = await createDiscoveryNode({ keepAlive: false, bootstrap: a.multiaddrs() })
  nodes.push(b)
  // libp2p records a connection's round-trip time when its monitor pings it.
  const rtt = (n: DiscoveryNode) => (n.libp2p.getConnections()[0] as { rtt?: number } | undefined)?.rtt
  await waitFor(() => rtt(a) !== undefined, 10_000, "a's monitor pinged b")
  await new Promise((r) => setTimeout(r, 1500))
  expect(rtt(b)).toBeUndefined()
  expect(b.libp2p.getConnections().length).toBeGreaterThan(0)
})

it('refuses a keepAlive interval below a second in the actor config', () => {
  const parsed = discoveryActor.config.safeParse({ keepAlive: { intervalMs: 10 } })
  expect(parsed.success).toBe(false)
  expect(discoveryActor.config.safeParse({ keepAlive: false }).success).toBe(true)
})
