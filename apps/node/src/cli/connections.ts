/** The `connections` section of `baran status`: the transport's open connections, their kind and path. */
import { transportInfo } from '@baran/bus/client'
import type { connectCli } from './connect.ts'
import { paint } from './output.ts'

/** One open connection as `baran status` shows it: direct, relayed, or upgraded (direct after relayed). */
export interface StatusConnection {
  peerId: string
  kind: 'direct' | 'relayed' | 'upgraded'
  path: 'tcp' | 'ws' | 'webrtc' | 'circuit'
  remoteAddr: string
}

/** Whether peers outside this node's networks can reach it, and why not (from the transport). */
export interface StatusReachability {
  fromOutside: boolean
  publicAddrs: string[]
  relays: Array<{ relay: string; reserved: boolean }>
  why: string[]
}

/** The transport's open connections, or why they are not known (no transport actor answering). */
/** The UPnP mapping as the transport reports it (bus UpnpStatusSchema). */
export type StatusUpnp = NonNullable<Awaited<ReturnType<typeof transportInfoReply>>['upnp']>
type Bus = Awaited<ReturnType<typeof connectCli>>['bus']
const transportInfoReply = (bus: Bus) => bus.request(transportInfo, {}, { timeoutMs: 3000 })

export async function connectionsOf(bus: Bus): Promise<{ list: StatusConnection[]; iceServers: string[]; reachability?: StatusReachability; upnp?: StatusUpnp } | { unavailable: string }> {
  try {
    const info = await transportInfoReply(bus)
    const list = info.connections.map((c) => ({
      peerId: c.peerId,
      kind: c.upgraded ? ('upgraded' as const) : c.kind,
      path: c.path ?? (c.remoteAddr.includes('/p2p-circuit') ? ('circuit' as const) : ('tcp' as const)),
      remoteAddr: c.remoteAddr,
    }))
    return {
      list,
      iceServers: info.iceServers ?? [],
      ...(info.reachability ? { reachability: info.reachability } : {}),
      ...(info.upnp ? { upnp: info.upnp } : {}),
    }
  } catch (e) {
    return { unavailable: `transport did not answer: ${(e as Error).message}` }
  }
}

export function printConnections(c: Awaited<ReturnType<typeof connectionsOf>>): void {
  if ('unavailable' in c) {
    process.stdout.write(`  connections  ${paint('gray', c.unavailable)}\n`)
    return
  }
  const stun = c.iceServers.length > 0 ? c.iceServers.join(', ') : 'none (no relay configured: not reachable through NATs)'
  process.stdout.write(`  connections  ${c.list.length}  ${paint('gray', `ICE servers: ${stun}`)}\n`)
  for (const x of c.list) process.stdout.write(`    ${x.peerId}  ${x.kind.padEnd(8)} ${x.path.padEnd(7)} ${paint('gray', x.remoteAddr)}\n`)
  process.stdout.write(`  upnp         ${describeUpnp(c.upnp)}\n`)
  const r = c.reachability
  if (!r) return
  if (r.fromOutside) process.stdout.write(`  reachable    from outside: ${[...r.publicAddrs, ...r.relays.filter((x) => x.reserved).map((x) => `relay ${x.relay}`)].join(', ')}\n`)
  else process.stdout.write(`  reachable    ${paint('yellow', `not reachable from outside: ${r.why.join('; ')}`)}\n`)
}

/** One line for `baran status`: the mapping (public address, lease, verified) or why there is none. */
export function describeUpnp(u: StatusUpnp | undefined): string {
  if (u === undefined) return paint('gray', 'off')
  if (u.state === 'mapped') {
    const check = u.verified ? 'verified by a dial-back, announced' : 'not verified yet (waiting for a peer to dial it back), not announced'
    const lost = u.remapped ? `; mapped again ${u.remapped}× after a re-check found it lost` : ''
    // A re-check nobody could make keeps the mapping: say so, since the address is announced on older evidence.
    const unknown = u.lastCheck?.outcome === 'unknown' ? `; last re-check ${new Date(u.lastCheck.at).toISOString().slice(11, 19)} found no peer to dial it back (kept)` : ''
    return `${u.internalAddr} → ${u.externalAddr} on ${u.gateway}  ${paint('gray', `lease ${u.leaseSeconds} s, renewed; ${check}${lost}${unknown}`)}`
  }
  return `${u.state}  ${paint('gray', u.reason ?? '')}`
}
