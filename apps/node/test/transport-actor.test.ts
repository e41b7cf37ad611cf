import type { ActorDefinition } from '@baran/actor'
import { identityCreate, transportInfo, transportSend } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { Cleanup, inlineNode, waitUntil } from '@baran/testkit'
import { transportActor } from '@baran/transport'
import { afterEach, describe, expect, it } from 'vitest'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const kdf = { N: 1024, r: 8, p: 1 }
const identity = identityActor as ActorDefinition<unknown>
const transport = transportActor as ActorDefinition<unknown>

describe('transport actor', () => {
  it('runs degraded without an account and becomes ready once identity has one', async () => {
    const n = await inlineNode(cleanup, 'a', [[identity, { kdf }]])
    const rt = await n.start(transport)
    expect(rt.state).toBe('degraded')
    const info = await n.bus.request(transportInfo, {})
    expect(info.peerId).toMatch(/^12D3KooW/)
    // No listen config: every interface; what is announced is an IPv4 address of this machine, never link-local, and
    // loopback only when the machine has no other address (announceable).
    const ip4 = info.addrs.filter((a) => /^\/ip4\/[\d.]+\/tcp\/\d+\/p2p\//.test(a))
    expect(ip4.length).toBeGreaterThan(0)
    if (ip4.some((a) => !a.startsWith('/ip4/127.'))) expect(ip4.filter((a) => a.startsWith('/ip4/127.'))).toEqual([])
    expect(info.addrs.filter((a) => /\/ip6\/fe80|\/ip4\/0\.0\.0\.0|\/ip6\/::\//.test(a))).toEqual([])
    await expect(n.bus.request(transportSend, { peerId: info.peerId, addrs: [], id: 'x', payload: '' })).rejects.toMatchObject({ code: 'unavailable' })
    await n.bus.request(identityCreate, {})
    await waitUntil(() => rt.state === 'ready', { timeoutMs: 10_000, what: 'transport ready' })
  })

  it('keeps its PeerId across restarts', async () => {
    const n = await inlineNode(cleanup, 'a', [[identity, { kdf }], [transport]])
    const first = (await n.bus.request(transportInfo, {})).peerId
    await n.stop('transport')
    await n.start(transport)
    expect((await n.bus.request(transportInfo, {})).peerId).toBe(first)
  })

  it('fails a send to a node that is not there with unreachable', async () => {
    const a = await inlineNode(cleanup, 'a', [[identity, { kdf }]])
    await a.bus.request(identityCreate, {})
    await a.start(transport)
    const b = await inlineNode(cleanup, 'b', [[identity, { kdf }]])
    await b.bus.request(identityCreate, {})
    await b.start(transport)
    const bInfo = await b.bus.request(transportInfo, {})
    await b.stop('transport')
    await expect(
      a.bus.request(transportSend, { peerId: bInfo.peerId, addrs: bInfo.addrs, id: 'm1', payload: Buffer.from('hi').toString('base64'), timeoutMs: 3000 }, { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: 'unreachable' })
  })

  it('transport.info lists each open connection with its kind and path, and the ICE servers (none without relays)', async () => {
    const a = await inlineNode(cleanup, 'a', [[identity, { kdf }]])
    await a.bus.request(identityCreate, {})
    await a.start(transport)
    const b = await inlineNode(cleanup, 'b', [[identity, { kdf }]])
    await b.bus.request(identityCreate, {})
    await b.start(transport)
    const bInfo = await b.bus.request(transportInfo, {})
    // b has no outbox to store it: the send fails, but the connection it dialled stays open
    await a.bus
      .request(transportSend, { peerId: bInfo.peerId, addrs: bInfo.addrs, id: 'm1', payload: '', timeoutMs: 3000 }, { timeoutMs: 10_000 })
      .catch(() => undefined)
    const info = await a.bus.request(transportInfo, {})
    expect(info.iceServers).toEqual([])
    expect(info.connections).toContainEqual(expect.objectContaining({ peerId: bInfo.peerId, kind: 'direct', upgraded: false, path: 'tcp' }))
  })
})

