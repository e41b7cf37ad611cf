/**
 * The order in which a dial to a peer tries its addresses. libp2p dials them one after the other, each for up to
 * 6 s (its `addressDialTimeout`), in the order of its default sorter: loopback last, public first, circuit relay
 * last, certified first, reliable transports first. That sorter does not count a WebRTC address reached through a
 * relay (`<relay>/p2p-circuit/webrtc/p2p/<peer>`) as a circuit address, so it came before the plain circuit one,
 * and before the peer's private addresses when the relay is public. Where ICE cannot cross the NATs (a symmetric
 * one against anything but full-cone) that attempt ran its whole 6 s before the relay was tried: a first message
 * to such a peer took 7-14 s (the full-node NAT matrix) instead of about one.
 *
 * Here a relayed WebRTC address comes last: the relayed connection comes first, messages flow over it at once, and
 * the upgrader (upgrade.ts) dials the WebRTC address over it right after, as it does for any relayed connection we
 * dialled, so a pair that ICE can connect still ends up direct. Everything else keeps libp2p's order.
 */
import type { Address } from '@libp2p/interface'
import { circuitRelayAddressesLast, loopbackAddressLast, publicAddressesFirst, reliableTransportsFirst } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A private-to-private WebRTC address: signalled through a relay (`/p2p-circuit/webrtc`). */
export function isRelayedWebrtc(m: Multiaddr): boolean {
  const s = m.toString()
  const at = s.indexOf('/p2p-circuit/')
  return at >= 0 && /\/webrtc(\/|$)/.test(s.slice(at))
}

function relayedWebrtcLast(a: Multiaddr, b: Multiaddr): -1 | 0 | 1 {
  const x = isRelayedWebrtc(a)
  const y = isRelayedWebrtc(b)
  return x === y ? 0 : x ? 1 : -1
}

function certifiedFirst(a: Address, b: Address): -1 | 0 | 1 {
  return a.isCertified === b.isCertified ? 0 : a.isCertified ? -1 : 1
}

/** libp2p's default order (connection-manager/address-sorter.js), with relayed WebRTC addresses moved last. */
export function dialOrder(a: Address, b: Address): -1 | 0 | 1 {
  return (
    relayedWebrtcLast(a.multiaddr, b.multiaddr) ||
    loopbackAddressLast(a.multiaddr, b.multiaddr) ||
    publicAddressesFirst(a.multiaddr, b.multiaddr) ||
    circuitRelayAddressesLast(a.multiaddr, b.multiaddr) ||
    certifiedFirst(a, b) ||
    reliableTransportsFirst(a.multiaddr, b.multiaddr)
  )
}
