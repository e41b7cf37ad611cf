/**
 * `baran status` shows the transport's connections: two real node processes on one machine, a message from
 * Alice to Bob, then Alice's status lists the connection to Bob with its kind and path (plain and --json).
 */
import { outboxDelivery, outboxSend, transportInfo } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { afterAll, expect, it } from 'vitest'
import { cli, startTwoNodes } from './helpers.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

it('baran status lists each open connection with its kind (direct, relayed, upgraded) and path', async () => {
  const { a, b, bob } = await startTwoNodes(cleanup)
  const delivered: string[] = []
  await a.bus.subscribe(outboxDelivery, (e) => {
    if (e.state === 'delivered') delivered.push(e.id)
  })
  const sent = await a.bus.request(outboxSend, { to: bob, body: 'hello' })
  await waitUntil(() => delivered.includes(sent.id), { timeoutMs: 60_000, what: 'delivery' })
  const bobPeer = (await b.bus.request(transportInfo, {})).peerId

  const json = await cli(cleanup, ['status', '--json', '--data-dir', a.dataDir], { BARAN_HOME: a.home })
  const status = JSON.parse(json.out) as { connections: { list: Array<{ peerId: string; kind: string; path: string }>; iceServers: string[]; upnp?: { state: string; reason?: string } } }
  const toBob = status.connections.list.filter((c) => c.peerId === bobPeer)
  expect(toBob.length).toBeGreaterThan(0)
  for (const c of toBob) {
    expect(['direct', 'relayed', 'upgraded']).toContain(c.kind)
    expect(['tcp', 'ws', 'webrtc', 'circuit']).toContain(c.path)
  }
  expect(Array.isArray(status.connections.iceServers)).toBe(true)
  // UPnP is on by default, but off in tests (vitest.shared.ts: no SSDP from test nodes onto the machine's network):
  // status says it is off
  expect(status.connections.upnp).toBeUndefined()
  const plain = await cli(cleanup, ['status', '--data-dir', a.dataDir], { BARAN_HOME: a.home })
  expect(plain.out).toMatch(/connections\s+\d+\s+ICE servers: /)
  expect(plain.out).toContain(bobPeer)
  expect(plain.out).toMatch(/upnp\s+off/)
}, 240_000)
