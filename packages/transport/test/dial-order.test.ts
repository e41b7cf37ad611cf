/**
 * The order a dial tries a peer's addresses in: libp2p's, but the relay before a WebRTC attempt through it and before
 * another site's private addresses.
 */
import type { Address } from '@libp2p/interface'
import { defaultMultiaddrSorter } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { BlockList } from 'node:net'
import { describe, expect, test } from 'vitest'
import { dialOrderWith, isForeignPrivate, isRelayedWebrtc, localNetworks } from '../src/lib/dial-order.ts'

const PEER = '12D3KooWPhvhK6JJNpDpHyswnrQBbnLz23HVSMPe2hZ3QQYq3tC5'
const LAB_RELAY = '/ip4/198.51.100.10/tcp/4001/p2p/12D3KooWRxHeDJxFq5pjpdJjgzHV6bzgLfTbXXdFkRfaAe8fVB5U'
const CGNAT_RELAY = '/ip4/100.64.0.10/tcp/4001/p2p/12D3KooWRxHeDJxFq5pjpdJjgzHV6bzgLfTbXXdFkRfaAe8fVB5U'
const PUBLIC_RELAY = '/ip4/11.0.100.10/tcp/4001/p2p/12D3KooWRxHeDJxFq5pjpdJjgzHV6bzgLfTbXXdFkRfaAe8fVB5U'
/** This machine: 10.0.1.2/24 and an IPv6 ULA /64, as a host in the NAT lab's home 1. */
function home1(): BlockList {
  const nets = new BlockList()
  nets.addSubnet('10.0.1.2', 24, 'ipv4')
  nets.addSubnet('fd00:1::2', 64, 'ipv6')
  return nets
}
const addr = (s: string, isCertified = false): Address => ({ multiaddr: multiaddr(s), isCertified })
const order = (xs: string[], nets = home1()) =>
  xs
    .map((s) => addr(s))
    .sort(dialOrderWith(() => nets))
    .map((a) => a.multiaddr.toString())
const libp2p = (xs: string[]) => defaultMultiaddrSorter(xs.map((s) => multiaddr(s))).map(String)

describe('dial order', () => {
  test('a peer in another home, as its presence lists it: the relay, then its LAN addresses, then WebRTC through the relay', () => {
    const webrtc = `${LAB_RELAY}/p2p-circuit/webrtc/p2p/${PEER}`
    const circuit = `${LAB_RELAY}/p2p-circuit/p2p/${PEER}`
    const lan = [`/ip4/10.0.2.2/tcp/4001/p2p/${PEER}`, `/ip4/10.0.2.2/tcp/4002/ws/p2p/${PEER}`]
    expect(order([webrtc, ...lan, circuit])).toEqual([circuit, ...lan, webrtc])
    // libp2p's own order: the other home's addresses first (the relay's address counts as private to it), then
    // WebRTC (not a circuit address to it), the relay last
    expect(libp2p([circuit, webrtc, ...lan])).toEqual([...lan, webrtc, circuit])
  })

  test('behind a relay in carrier-grade NAT space (100.64.0.0/10), the same', () => {
    const circuit = `${CGNAT_RELAY}/p2p-circuit/p2p/${PEER}`
    const lan = `/ip4/192.168.1.20/tcp/4001/p2p/${PEER}`
    const ula = `/ip6/fd00:2::20/tcp/4001/p2p/${PEER}`
    expect(order([lan, ula, circuit])).toEqual([circuit, lan, ula])
  })

  test('an address on this machine’s own LAN keeps libp2p’s place: before a relay on a private address', () => {
    const circuit = `${LAB_RELAY}/p2p-circuit/p2p/${PEER}`
    const sameLan = [`/ip4/10.0.1.7/tcp/4001/p2p/${PEER}`, `/ip6/fd00:1::7/tcp/4001/p2p/${PEER}`]
    expect(order([circuit, ...sameLan])).toEqual([...sameLan, circuit])
  })

  test('behind a public relay: WebRTC last, where libp2p put it before the relay and the private addresses', () => {
    const webrtc = `${PUBLIC_RELAY}/p2p-circuit/webrtc/p2p/${PEER}`
    const circuit = `${PUBLIC_RELAY}/p2p-circuit/p2p/${PEER}`
    const lan = `/ip4/192.168.1.20/tcp/4001/p2p/${PEER}`
    const mapped = `/ip4/11.0.100.12/tcp/28502/p2p/${PEER}`
    // libp2p's order otherwise: public first (the relay too), then private
    expect(order([webrtc, lan, circuit, mapped])).toEqual([mapped, circuit, lan, webrtc])
    expect(libp2p([lan, circuit, mapped, webrtc])).toEqual([mapped, webrtc, circuit, lan])
  })

  test('without relayed WebRTC or another site’s private addresses it is libp2p’s order', () => {
    const xs = [
      `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`,
      `${LAB_RELAY}/p2p-circuit/p2p/${PEER}`,
      `/ip4/10.0.1.9/tcp/4002/ws/p2p/${PEER}`,
      `/ip4/10.0.1.9/tcp/4001/p2p/${PEER}`,
      `/ip4/11.0.100.12/tcp/4002/ws/p2p/${PEER}`,
      `/ip4/11.0.100.12/tcp/4001/p2p/${PEER}`,
    ]
    expect(order(xs)).toEqual(libp2p(xs))
    // and, all else equal, an address from a signed peer record first
    const [a, b] = [addr(`/ip4/11.0.100.12/tcp/4001/p2p/${PEER}`), addr(`/ip4/11.0.100.13/tcp/4001/p2p/${PEER}`, true)]
    expect([a, b].sort(dialOrderWith(home1))).toEqual([b, a])
  })

  test('what counts as WebRTC through a relay, and as another site’s private address', () => {
    expect(isRelayedWebrtc(multiaddr(`${LAB_RELAY}/p2p-circuit/webrtc/p2p/${PEER}`))).toBe(true)
    expect(isRelayedWebrtc(multiaddr(`${LAB_RELAY}/p2p-circuit/webrtc`))).toBe(true)
    expect(isRelayedWebrtc(multiaddr(`${LAB_RELAY}/p2p-circuit/p2p/${PEER}`))).toBe(false)
    expect(isRelayedWebrtc(multiaddr(`/ip4/11.0.100.12/udp/4001/webrtc-direct/p2p/${PEER}`))).toBe(false)
    const nets = home1()
    expect(isForeignPrivate(multiaddr('/ip4/10.0.2.2/tcp/4001'), nets)).toBe(true)
    expect(isForeignPrivate(multiaddr('/ip4/100.64.3.4/tcp/4001'), nets)).toBe(true)
    expect(isForeignPrivate(multiaddr('/ip6/fd00:2::1/tcp/4001'), nets)).toBe(true)
    expect(isForeignPrivate(multiaddr('/ip4/10.0.1.200/tcp/4001'), nets)).toBe(false)
    expect(isForeignPrivate(multiaddr('/ip6/fd00:1::99/tcp/4001'), nets)).toBe(false)
    // public, loopback, link-local, names and relayed addresses are not
    for (const a of ['/ip4/11.0.100.12/tcp/1', '/ip4/127.0.0.1/tcp/1', '/ip6/fe80::1/tcp/1', '/dns4/relay.example/tcp/1', `${CGNAT_RELAY}/p2p-circuit`]) {
      expect(isForeignPrivate(multiaddr(a), nets), a).toBe(false)
    }
  })

  test('this machine’s networks come from its interfaces (loopback left out)', () => {
    const nets = localNetworks({
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
      eth0: [{ address: '192.168.7.3', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.168.7.3/24' }],
    })
    expect(nets.check('192.168.7.200', 'ipv4')).toBe(true)
    expect(nets.check('192.168.8.1', 'ipv4')).toBe(false)
    expect(nets.check('127.0.0.1', 'ipv4')).toBe(false)
  })
})
