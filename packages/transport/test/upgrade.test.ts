/** The pure pieces of the relayed → direct upgrade, and the host's ICE servers (never a public default). */
import { afterEach, describe, expect, test } from 'vitest'
import { createTransportHost, parseIceServers, pathOf, stunServersOf, type TransportHost, webrtcAddrOf } from '../src/index.ts'

const PEER = '12D3KooWPhvhK6JJNpDpHyswnrQBbnLz23HVSMPe2hZ3QQYq3tC5'
const RELAY = '/ip4/198.51.100.10/tcp/4001/p2p/12D3KooWRxHeDJxFq5pjpdJjgzHV6bzgLfTbXXdFkRfaAe8fVB5U'

describe('connection paths', () => {
  test('tcp, ws, circuit, and webrtc (direct although it names the relay that carried its signalling)', () => {
    expect(pathOf(`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`)).toBe('tcp')
    expect(pathOf(`/ip4/10.0.0.1/tcp/4002/ws/p2p/${PEER}`)).toBe('ws')
    expect(pathOf(`${RELAY}/p2p-circuit/p2p/${PEER}`)).toBe('circuit')
    expect(pathOf(`${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`)).toBe('webrtc')
  })

  test('the WebRTC address behind a relayed connection', () => {
    expect(webrtcAddrOf(`${RELAY}/p2p-circuit/p2p/${PEER}`, PEER)).toBe(`${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`)
    expect(webrtcAddrOf(`${RELAY}/p2p-circuit`, PEER)).toBe(`${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`)
    expect(webrtcAddrOf(`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`, PEER)).toBeUndefined()
  })
})

describe('ICE servers', () => {
  test('come from the configured relays: stun:<relay host>:3478, one per host', () => {
    expect(stunServersOf([RELAY, `/ip4/198.51.100.10/tcp/4002/ws/p2p/${PEER}`])).toEqual(['stun:198.51.100.10:3478'])
    expect(stunServersOf([`/ip6/2001:db8::1/tcp/4001/p2p/${PEER}`, `/dns4/relay.example/tcp/4001/p2p/${PEER}`], 5349)).toEqual([
      'stun:[2001:db8::1]:5349',
      'stun:relay.example:5349',
    ])
    expect(stunServersOf([])).toEqual([])
    expect(() => stunServersOf([RELAY], 0)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', code: 'invalid_argument' }))
  })

  test('configured ones must be stun:/turn: URLs', () => {
    expect(parseIceServers(['stun:10.0.0.1:3478', 'turn:10.0.0.1:3478'])).toHaveLength(2)
    for (const bad of [['http://x'], ['stun: x'], [1], 'stun:x']) {
      expect(() => parseIceServers(bad)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    }
  })

  let host: TransportHost | undefined
  afterEach(async () => {
    await host?.stop()
    host = undefined
  })

  test('a host without relays has none: @libp2p/webrtc never falls back to its public STUN servers', async () => {
    host = await createTransportHost()
    expect(host.iceServers).toEqual([])
    // the WebRTC transport is there (it handles the signalling protocol), with that empty list
    expect(host.libp2p.getProtocols()).toContain('/webrtc-signaling/0.0.1')
  })

  test('a relay server runs no WebRTC; a node can turn it off', async () => {
    host = await createTransportHost({ relayServer: true })
    expect(host.libp2p.getProtocols()).not.toContain('/webrtc-signaling/0.0.1')
    await host.stop()
    host = await createTransportHost({ webrtc: false, iceServers: ['stun:127.0.0.1:3478'] })
    expect(host.libp2p.getProtocols()).not.toContain('/webrtc-signaling/0.0.1')
    expect(host.iceServers).toEqual(['stun:127.0.0.1:3478'])
  })
})
