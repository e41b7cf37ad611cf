/**
 * The order in which a dial to a peer tries its addresses. libp2p dials them one after the other, each for up to
 * 6 s (its `addressDialTimeout`), in the order of its default sorter: loopback last, public first, circuit relay
 * last, certified first, reliable transports first. Two kinds of address could hold a first message for those 6 s
 * each before the relay was tried (7-14 s to a peer behind a symmetric NAT in the full-node NAT matrix):
 * - a WebRTC address through a relay (`<relay>/p2p-circuit/webrtc/p2p/<peer>`): libp2p does not count it as a
 *   circuit address, so it came before the plain relay; where ICE cannot cross the NATs it runs its whole 6 s;
 * - a private address of another site (the peer's home LAN, 10.0.2.2 seen from 10.0.1.2/24): it leads nowhere from
 *   here, and a dial to it either fails at once or hangs until the timeout (no route, dropped SYNs, an ICMP error
 *   rate-limited away). libp2p puts it before the relay whenever the relay's own address is private as well (a relay
 *   in carrier-grade NAT space, or on a private network).
 * Both now come after everything else: the relayed connection comes first, messages flow over it at once, and the
 * upgrader (upgrade.ts) dials the WebRTC address over it right after, as it does for any relayed connection we
 * dialled, so a pair ICE can connect still ends up direct. A private address on one of this machine's own networks
 * keeps libp2p's place (before a relay on a private address, after a public relay): it may be a peer on the same LAN,
 * or another home that uses the same private range.
 */
import { addressScope } from '@baran/actor'
import type { Address, AddressSorter } from '@libp2p/interface'
import { circuitRelayAddressesLast, loopbackAddressLast, publicAddressesFirst, reliableTransportsFirst } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { BlockList } from 'node:net'
import { networkInterfaces } from 'node:os'

/** How long the machine's networks are reused between dials (interfaces rarely change; a dial sorts many times). */
const NETWORKS_TTL_MS = 10_000

/** A private-to-private WebRTC address: signalled through a relay (`/p2p-circuit/webrtc`). */
export function isRelayedWebrtc(m: Multiaddr): boolean {
  const s = m.toString()
  const at = s.indexOf('/p2p-circuit/')
  return at >= 0 && /\/webrtc(\/|$)/.test(s.slice(at))
}

/** The networks this machine is on: each interface's subnet (address and prefix), loopback left out. */
export function localNetworks(ifaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): BlockList {
  const nets = new BlockList()
  for (const list of Object.values(ifaces)) {
    for (const a of list ?? []) {
      const prefix = Number(a.cidr?.split('/')[1])
      if (a.internal || !Number.isInteger(prefix)) continue
      nets.addSubnet(a.address, prefix, a.family === 'IPv4' ? 'ipv4' : 'ipv6')
    }
  }
  return nets
}

/** A direct address in private space (RFC 1918, carrier-grade NAT, IPv6 ULA) on none of `nets`: another site's LAN. */
export function isForeignPrivate(m: Multiaddr, nets: BlockList): boolean {
  const s = m.toString()
  if (s.includes('/p2p-circuit')) return false
  const host = /^\/(ip4|ip6)\/([^/]+)/.exec(s)
  if (host?.[2] === undefined || addressScope(s) !== 'private') return false
  return !nets.check(host[2], host[1] === 'ip4' ? 'ipv4' : 'ipv6')
}

function certifiedFirst(a: Address, b: Address): -1 | 0 | 1 {
  return a.isCertified === b.isCertified ? 0 : a.isCertified ? -1 : 1
}

/** libp2p's default order (connection-manager/address-sorter.js). */
function libp2pOrder(a: Address, b: Address): -1 | 0 | 1 {
  return (
    loopbackAddressLast(a.multiaddr, b.multiaddr) ||
    publicAddressesFirst(a.multiaddr, b.multiaddr) ||
    circuitRelayAddressesLast(a.multiaddr, b.multiaddr) ||
    certifiedFirst(a, b) ||
    reliableTransportsFirst(a.multiaddr, b.multiaddr)
  )
}

/** libp2p's order, with another site's private addresses after it and relayed WebRTC ones last; `nets`: ours. */
export function dialOrderWith(nets: () => BlockList): AddressSorter {
  return (a, b) => {
    const mine = nets()
    const tier = (x: Address) => (isRelayedWebrtc(x.multiaddr) ? 2 : isForeignPrivate(x.multiaddr, mine) ? 1 : 0)
    const d = tier(a) - tier(b)
    return d < 0 ? -1 : d > 0 ? 1 : libp2pOrder(a, b)
  }
}

/** The sorter a host dials with: this machine's networks, read again every 10 s. */
export function dialOrder(): AddressSorter {
  let nets = localNetworks()
  let at = performance.now()
  return dialOrderWith(() => {
    if (performance.now() - at > NETWORKS_TTL_MS) {
      nets = localNetworks()
      at = performance.now()
    }
    return nets
  })
}
