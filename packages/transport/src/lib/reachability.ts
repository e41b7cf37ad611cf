/**
 * Whether a node can be reached from outside its own networks, and if not, why: what `baran status` prints. A node
 * is reachable from outside when it announces a public address, or holds a reservation on a relay that has one.
 * Without either it still works with every peer on its LAN (and, through WebRTC, with peers that can reach it by
 * STUN), but nobody elsewhere can open a connection to it.
 */
import { addressScope } from '@baran/actor'
import type { UpnpStatus } from './upnp.ts'

export interface RelayState {
  /** The relay's multiaddr (with /p2p/<id>). */
  relay: string
  /** True while this node holds a reservation on it. */
  reserved: boolean
}

export interface ReachabilityInput {
  /** The addresses this node announces (direct ones and `/p2p-circuit` ones). */
  addrs: readonly string[]
  /** The relays configured (or named by the local network) and whether each holds a reservation. */
  relays: readonly RelayState[]
  /** The ICE servers (STUN) WebRTC asks for this node's public address. */
  iceServers: readonly string[]
  /** What UPnP did (upnp.ts), undefined when it is off. */
  upnp: UpnpStatus | undefined
  /** Whether this node serves as a relay for others (the local network's owner). */
  relayServer: boolean
}

export interface Reachability {
  /** True when peers outside this node's networks can open a connection to it. */
  fromOutside: boolean
  /** Direct announced addresses that are public. */
  publicAddrs: string[]
  relays: RelayState[]
  /** Why it is not reachable from outside: one line per missing way in (empty when reachable). */
  why: string[]
}

const isCircuit = (a: string) => a.includes('/p2p-circuit')

/** Reachability from what the host knows now (a pure function: the host hands in its state). */
export function reachabilityOf(input: ReachabilityInput): Reachability {
  const direct = input.addrs.filter((a) => !isCircuit(a))
  const publicAddrs = direct.filter((a) => addressScope(a) === 'public')
  const publicRelays = input.relays.filter((r) => r.reserved && addressScope(r.relay) === 'public')
  const why: string[] = []
  if (input.relays.length === 0) why.push(input.relayServer ? 'no relay configured (this node is the relay of its local network)' : 'no relay configured')
  for (const r of input.relays) {
    if (!r.reserved) why.push(`relay ${r.relay} unreachable (no reservation)`)
    else if (addressScope(r.relay) !== 'public') why.push(`relay ${r.relay} is not public (${addressScope(r.relay)} address)`)
  }
  if (publicAddrs.length === 0) {
    const scopes = [...new Set(direct.map(addressScope))]
    why.push(direct.length === 0 ? 'no direct address' : `no public address (only ${scopes.join(', ')})`)
  }
  if (input.iceServers.length === 0) why.push('no STUN server (they come from the relays)')
  why.push(upnpWhy(input.upnp))
  const fromOutside = publicAddrs.length > 0 || publicRelays.length > 0
  return { fromOutside, publicAddrs, relays: input.relays.map((r) => ({ ...r })), why: fromOutside ? [] : why }
}

/** The UPnP part of "why not": off, or the mapper's state and its reason. */
function upnpWhy(u: UpnpStatus | undefined): string {
  if (u === undefined) return 'UPnP: off (transport.upnp is false)'
  if (u.state === 'mapped') return u.verified === true ? `UPnP: ${u.externalAddr ?? 'a port'} mapped` : `UPnP: ${u.externalAddr ?? 'a port'} mapped, not verified by a dial-back yet`
  return `UPnP: ${u.state}${u.reason ? ` (${u.reason})` : ''}`
}
