/** The order a dial tries a peer's addresses in: libp2p's, but the relay before a WebRTC attempt through it. */
import type { Address } from '@libp2p/interface'
import { defaultMultiaddrSorter } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, test } from 'vitest'
import { dialOrder, isRelayedWebrtc } from '../src/lib/dial-order.ts'

const PEER = '12D3KooWPhvhK6JJNpDpHyswnrQBbnLz23HVSMPe2hZ3QQYq3tC5'
const LAB_RELAY = '/ip4/198.51.100.10/tcp/4001/p2p/12D3KooWRxHeDJxFq5pjpdJjgzHV6bzgLfTbXXdFkRfaAe8fVB5U'
const PUBLIC_RELAY = '/ip4/11.0.100.10/tcp/4001/p2p/12D3KooWRxHeDJxFq5pjpdJjgzHV6bzgLfTbXXdFkRfaAe8fVB5U'
const addr = (s: string, isCertified = false): Address => ({ multiaddr: multiaddr(s), isCertified })
const order = (xs: string[]) => xs.map((s) => addr(s)).sort(dialOrder).map((a) => a.multiaddr.toString())

describe('dial order', () => {
  test('a peer behind a NAT, as its presence lists it: its LAN addresses, then the relay, then WebRTC through the relay', () => {
    const webrtc = `${LAB_RELAY}/p2p-circuit/webrtc/p2p/${PEER}`
    const circuit = `${LAB_RELAY}/p2p-circuit/p2p/${PEER}`
    const lan = [`/ip4/10.0.2.2/tcp/4001/p2p/${PEER}`, `/ip4/10.0.2.2/tcp/4002/ws/p2p/${PEER}`]
    expect(order([webrtc, circuit, ...lan])).toEqual([...lan, circuit, webrtc])
    // libp2p's own order put the WebRTC attempt before the relay (it does not count it as a circuit address)
    const theirs = defaultMultiaddrSorter([webrtc, circuit, ...lan].map((s) => multiaddr(s))).map(String)
    expect(theirs.indexOf(webrtc)).toBeLessThan(theirs.indexOf(circuit))
  })

  test('behind a public relay: WebRTC last, where libp2p put it before the relay and the private addresses', () => {
    const webrtc = `${PUBLIC_RELAY}/p2p-circuit/webrtc/p2p/${PEER}`
    const circuit = `${PUBLIC_RELAY}/p2p-circuit/p2p/${PEER}`
    const lan = `/ip4/192.168.1.20/tcp/4001/p2p/${PEER}`
    const mapped = `/ip4/11.0.100.12/tcp/28502/p2p/${PEER}`
    // libp2p's order otherwise: public first (the relay too: a private address of another network can stall a dial)
    expect(order([webrtc, lan, circuit, mapped])).toEqual([mapped, circuit, lan, webrtc])
    expect(defaultMultiaddrSorter([lan, circuit, mapped, webrtc].map((s) => multiaddr(s))).map(String)).toEqual([mapped, webrtc, circuit, lan])
  })

  test('without relayed WebRTC addresses it is libp2p order (loopback last, public first, circuit last, TCP first)', () => {
    const xs = [
      `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`,
      `${LAB_RELAY}/p2p-circuit/p2p/${PEER}`,
      `/ip4/10.0.0.2/tcp/4002/ws/p2p/${PEER}`,
      `/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`,
      `/ip4/11.0.100.12/tcp/4002/ws/p2p/${PEER}`,
      `/ip4/11.0.100.12/tcp/4001/p2p/${PEER}`,
    ]
    expect(order(xs)).toEqual(defaultMultiaddrSorter(xs.map((s) => multiaddr(s))).map(String))
    // and, all else equal, an address from a signed peer record first
    const [a, b] = [addr(`/ip4/11.0.100.12/tcp/4001/p2p/${PEER}`), addr(`/ip4/11.0.100.13/tcp/4001/p2p/${PEER}`, true)]
    expect([a, b].sort(dialOrder)).toEqual([b, a])
  })

  test('what counts as WebRTC through a relay', () => {
    expect(isRelayedWebrtc(multiaddr(`${LAB_RELAY}/p2p-circuit/webrtc/p2p/${PEER}`))).toBe(true)
    expect(isRelayedWebrtc(multiaddr(`${LAB_RELAY}/p2p-circuit/webrtc`))).toBe(true)
    expect(isRelayedWebrtc(multiaddr(`${LAB_RELAY}/p2p-circuit/p2p/${PEER}`))).toBe(false)
    expect(isRelayedWebrtc(multiaddr(`/ip4/11.0.100.12/udp/4001/webrtc-direct/p2p/${PEER}`))).toBe(false)
    expect(isRelayedWebrtc(multiaddr(`/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`))).toBe(false)
  })
})
