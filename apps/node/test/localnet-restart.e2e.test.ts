/**
 * The machine's local network survives actor restarts (issue 14, defect 1): two real nodes, A owns the local
 * network (its discovery is the DHT bootstrap, its transport the relay), B joined it. kill -9 of A's discovery and
 * transport processes: the supervisor restarts them on the same ports, B finds them again, messages cross both
 * ways, and B's routing table is not empty.
 */
import { discoveryInfo, outboxInbox, outboxSend, transportInfo } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killActor, startTwoNodes, type TestNode } from './helpers.ts'

const cleanup = new Cleanup()
let a: TestNode
let b: TestNode
let alice: string
let bob: string

beforeAll(async () => {
  ;({ a, b, alice, bob } = await startTwoNodes(cleanup))
}, 120_000)
afterAll(() => cleanup.run())

async function delivered(from: TestNode, to: TestNode, toAccount: string, body: string): Promise<void> {
  const { id } = await from.bus.request(outboxSend, { to: toAccount, body })
  await waitUntil(async () => (await to.bus.request(outboxInbox, { limit: 10_000 })).messages.some((m) => m.id === id), {
    timeoutMs: 45_000,
    intervalMs: 250,
    what: `"${body}" in ${to.node}'s inbox`,
  })
}

describe('the local network after kill -9 of its owner’s actors', () => {
  it('localnet.json names the owner’s DHT node on loopback first (the file is read on this machine only)', async () => {
    const net = JSON.parse(await readFile(join(a.home, 'localnet.json'), 'utf8')) as { bootstrap: string[] }
    const peerId = (await a.bus.request(discoveryInfo, {})).peerId
    expect(net.bootstrap[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${peerId}$`))
  })

  it('delivers both ways after A’s discovery and transport restart, and B’s routing table fills again', async () => {
    await delivered(a, b, bob, 'before')
    const addrsBefore = { d: (await a.bus.request(discoveryInfo, {})).addrs, t: (await a.bus.request(transportInfo, {})).addrs }

    await killActor(a, 'discovery')
    await killActor(a, 'transport')

    // Stable ports: the restarted actors listen where they did (what B knows from localnet.json).
    expect((await a.bus.request(discoveryInfo, {})).addrs).toEqual(addrsBefore.d)
    expect((await a.bus.request(transportInfo, {})).addrs.filter((x) => !x.includes('/p2p-circuit'))).toEqual(addrsBefore.t.filter((x) => !x.includes('/p2p-circuit')))

    await delivered(a, b, bob, 'A to B after the restart')
    await delivered(b, a, alice, 'B to A after the restart')
    await waitUntil(
      async () => {
        const info = await b.bus.request(discoveryInfo, {})
        return info.routingTableSize > 0 && info.peers > 0
      },
      { timeoutMs: 30_000, what: "B's discovery connected to the DHT again" },
    )
    expect((await a.bus.request(discoveryInfo, {})).routingTableSize).toBeGreaterThan(0)
  }, 150_000)
})
