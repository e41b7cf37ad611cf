/**
 * UPnP port mapping for the host's TCP listener, safe to leave on by default (as Jami does):
 * - it acts only when the host listens for TCP on a private, non-loopback IPv4 address (a LAN);
 *   on loopback or a public address it does nothing, not even a search;
 * - it searches the LAN for an IGD (SSDP M-SEARCH, in the background: never delays start) for a
 *   bounded time, and again only every `searchIntervalMs` while none answered;
 * - it maps that one TCP listen port (not every address, not UDP), with a lease the gateway
 *   library renews before it runs out, and deletes it at stop;
 * - it refuses a gateway whose own external address is private (CGNAT, double NAT): a mapping
 *   there cannot be reached from the internet, so nothing is mapped and the reason is reported;
 * - the mapped public address is only added as an unverified IP mapping: libp2p announces it once
 *   AutoNAT had a peer dial it back (`onMapped` lets the host ask its connected peers at once).
 *
 * Built on @achingbrain/nat-port-mapper (what @libp2p/upnp-nat uses) rather than @libp2p/upnp-nat
 * itself, which maps every private address and port, keeps searching every 5 s while no gateway
 * answers, and has no status to show.
 */
import { type Gateway, type UPnPNAT as UpnpClient, upnpNat } from '@achingbrain/nat-port-mapper'
import type { Connection, Libp2p, Libp2pEvents, PeerId, Startable } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import { isPrivateIp } from '@libp2p/utils'
import type { TypedEventTarget } from 'main-event'
import type { Logger } from './logger.ts'

export interface UpnpInit {
  /** How long one SSDP search for a gateway lasts. @default 2000 */
  searchTimeoutMs?: number
  /** Search again this often while no usable gateway answered. @default 300_000 */
  searchIntervalMs?: number
  /** Lease asked for the mapping; the gateway library asks for at least one hour and renews a minute before it ends. @default 3_600_000 */
  leaseMs?: number
  /** Called once a mapping was added, and again every 2 s until it is verified (the host asks AutoNAT v2 to dial it back). */
  onMapped?: () => void
  log?: Logger
}

/** What UPnP did, for `baran status`. */
export interface UpnpStatus {
  state: 'idle' | 'searching' | 'no-gateway' | 'unusable' | 'mapped' | 'failed' | 'stopped'
  /** Why there is no mapping (every state but 'mapped'). */
  reason?: string
  /** The IGD's control URL host:port. */
  gateway?: string
  /** The listen address that is mapped, and the public one it is mapped to (multiaddrs). */
  internalAddr?: string
  externalAddr?: string
  /** The lease the mapping was made with, in seconds (renewed before it ends). */
  leaseSeconds?: number
  /** ms since the epoch. */
  mappedAt?: number
  /** AutoNAT had the public address dialled back: libp2p announces it. */
  verified?: boolean
}

export interface UpnpComponents {
  peerId: PeerId
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
}

/** The running mapper; `status()` for the host. */
export interface UpnpMapper {
  status(): UpnpStatus
}

export const DEFAULT_UPNP_SEARCH_TIMEOUT_MS = 2_000
export const DEFAULT_UPNP_SEARCH_INTERVAL_MS = 300_000
export const DEFAULT_UPNP_LEASE_MS = 3_600_000
/** nat-port-mapper never asks a gateway for less. */
const MIN_LEASE_SECONDS = 3_600
/** Asking for the dial-back of a new mapping: again this often, at most this many times. */
const VERIFY_RETRY_MS = 2_000
const VERIFY_TRIES = 30
/** Unmapping at stop must not hold the shutdown up. */
const UNMAP_TIMEOUT_MS = 2_000

interface Candidate {
  host: string
  port: number
}

/** The TCP listen addresses worth mapping: private, non-loopback, non-link-local IPv4. */
export function mappableAddresses(addrs: Array<{ multiaddr: { toString(): string }; type: string }>): Candidate[] {
  const out: Candidate[] = []
  for (const { multiaddr: ma, type } of addrs) {
    if (type !== 'transport') continue
    const m = /^\/ip4\/([\d.]+)\/tcp\/(\d+)$/.exec(ma.toString())
    if (m === null) continue
    const host = m[1]!
    if (isPrivateIp(host) !== true || host.startsWith('127.') || host.startsWith('169.254.')) continue
    out.push({ host, port: Number(m[2]) })
  }
  return out
}

/** The libp2p service factory (`services.upnp = baranUpnp(init)`). */
export function baranUpnp(init: UpnpInit = {}): (components: UpnpComponents) => UpnpMapper & Startable {
  return (components) => new Mapper(components, init)
}

class Mapper implements UpnpMapper, Startable {
  private readonly components: UpnpComponents
  private readonly init: UpnpInit
  private readonly client: UpnpClient
  private current: UpnpStatus = { state: 'idle', reason: 'not started' }
  private gateway: Gateway | undefined
  private mapping: { internal: Candidate; externalHost: string; externalPort: number } | undefined
  private abort = new AbortController()
  private busy: Promise<void> | undefined
  private lastSearch = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private verifyTimer: ReturnType<typeof setInterval> | undefined
  private started = false
  private readonly onAddresses = () => this.schedule(0)

  constructor(components: UpnpComponents, init: UpnpInit) {
    this.components = components
    this.init = init
    this.client = upnpNat({
      description: `baran ${components.peerId.toString()}`,
      ttl: init.leaseMs ?? DEFAULT_UPNP_LEASE_MS,
      autoRefresh: true,
    })
  }

  readonly [Symbol.toStringTag] = '@baran/upnp'

  /** Listen addresses come after the services start: look once libp2p is up, and whenever they change. */
  async start(): Promise<void> {
    this.started = true
    this.abort = new AbortController()
    this.current = { state: 'idle', reason: 'waiting for listen addresses' }
    this.components.events.addEventListener('self:peer:update', this.onAddresses)
  }

  afterStart(): void {
    this.schedule(0)
  }

  async stop(): Promise<void> {
    this.started = false
    this.components.events.removeEventListener('self:peer:update', this.onAddresses)
    this.abort.abort()
    clearTimeout(this.timer)
    clearInterval(this.verifyTimer)
    await this.busy?.catch(() => undefined)
    const { mapping, gateway } = this
    this.mapping = undefined
    this.gateway = undefined
    if (mapping) {
      this.components.addressManager.removePublicAddressMapping(mapping.internal.host, mapping.internal.port, mapping.externalHost, mapping.externalPort, 'tcp')
    }
    // deletes the mapping on the gateway and ends its renewal timer
    await gateway?.stop({ signal: AbortSignal.timeout(UNMAP_TIMEOUT_MS) }).catch((err: unknown) => this.init.log?.warn({ err }, 'upnp: could not remove the port mapping'))
    this.current = { state: 'stopped', reason: 'the node stopped' }
  }

  status(): UpnpStatus {
    if (this.current.state !== 'mapped' || this.current.externalAddr === undefined) return { ...this.current }
    const external = this.current.externalAddr
    const verified = this.components.addressManager
      .getAddressesWithMetadata()
      .some((a) => a.type === 'ip-mapping' && a.verified && a.multiaddr.toString() === external)
    return { ...this.current, verified }
  }

  /**
   * Asks for the dial-back now and again every VERIFY_RETRY_MS until it came (at most VERIFY_TRIES
   * times): right after start the relay's identify may not have told us yet that it serves AutoNAT v2.
   */
  private askForVerification(): void {
    clearInterval(this.verifyTimer)
    let tries = 0
    const ask = () => {
      if (!this.started || this.current.state !== 'mapped' || this.status().verified === true || tries++ >= VERIFY_TRIES) {
        clearInterval(this.verifyTimer)
        return
      }
      this.init.onMapped?.()
    }
    ask()
    this.verifyTimer = setInterval(ask, VERIFY_RETRY_MS)
    this.verifyTimer.unref?.()
  }

  private schedule(ms: number): void {
    if (!this.started) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      if (this.busy) return
      this.busy = this.refresh()
        .catch((err: unknown) => {
          if (!this.abort.signal.aborted) {
            this.current = { state: 'failed', reason: (err as Error).message }
            this.init.log?.warn({ err }, 'upnp: mapping failed')
          }
        })
        .finally(() => {
          this.busy = undefined
        })
    }, ms)
    this.timer.unref?.()
  }

  private async refresh(): Promise<void> {
    const candidates = mappableAddresses(this.components.addressManager.getAddressesWithMetadata())
    if (this.mapping) {
      if (candidates.some((c) => c.host === this.mapping!.internal.host && c.port === this.mapping!.internal.port)) return
      // the listener we mapped is gone: drop its mapping and map what there is now
      const m = this.mapping
      this.mapping = undefined
      this.components.addressManager.removePublicAddressMapping(m.internal.host, m.internal.port, m.externalHost, m.externalPort, 'tcp')
      await this.gateway?.unmap(m.internal.port, { signal: this.abort.signal }).catch(() => undefined)
    }
    if (candidates.length === 0) {
      this.current = { state: 'idle', reason: 'no TCP listen address on a private LAN address (nothing to map)' }
      return
    }
    const interval = this.init.searchIntervalMs ?? DEFAULT_UPNP_SEARCH_INTERVAL_MS
    if (this.gateway === undefined) {
      const wait = this.lastSearch + interval - Date.now()
      if (this.lastSearch > 0 && wait > 0) return this.schedule(wait)
      this.gateway = await this.search()
      if (this.gateway === undefined) return this.schedule(interval)
    }
    const gateway = this.gateway
    const signal = this.abort.signal
    const where = `${gateway.host}:${gateway.port}`
    const externalIp = await gateway.externalIp({ signal })
    if (isPrivateIp(externalIp) !== false) {
      this.current = {
        state: 'unusable',
        gateway: where,
        reason:
          externalIp === ''
            ? "the gateway reports no external address (its own outside address is private: carrier-grade or double NAT): a mapping there cannot be reached from the internet, so none was made"
            : `the gateway's external address ${externalIp} is not public (carrier-grade or double NAT): a mapping there cannot be reached from the internet, so none was made`,
      }
      this.gateway = undefined
      return this.schedule(interval)
    }
    const internal = pickForGateway(candidates, gateway.host)
    const mapped = await gateway.map(internal.port, internal.host, { protocol: 'TCP', signal })
    if (signal.aborted) return
    this.mapping = { internal, externalHost: mapped.externalHost, externalPort: mapped.externalPort }
    this.components.addressManager.addPublicAddressMapping(internal.host, internal.port, mapped.externalHost, mapped.externalPort, 'tcp')
    this.current = {
      state: 'mapped',
      gateway: where,
      internalAddr: `/ip4/${internal.host}/tcp/${internal.port}`,
      externalAddr: `/ip4/${mapped.externalHost}/tcp/${mapped.externalPort}`,
      leaseSeconds: Math.max(Math.round((this.init.leaseMs ?? DEFAULT_UPNP_LEASE_MS) / 1000), MIN_LEASE_SECONDS),
      mappedAt: Date.now(),
      verified: false,
    }
    this.init.log?.info({ ...this.current }, 'upnp: port mapped')
    this.askForVerification()
  }

  /** One bounded SSDP search; the first IPv4 IGD that answers, or undefined. */
  private async search(): Promise<Gateway | undefined> {
    this.lastSearch = Date.now()
    const timeoutMs = this.init.searchTimeoutMs ?? DEFAULT_UPNP_SEARCH_TIMEOUT_MS
    this.current = { state: 'searching', reason: 'looking for a UPnP gateway on the LAN' }
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)])
    // The library honours the signal only between answers (not while it sets up its SSDP sockets, which can be
    // slow on a busy machine): the search ends at the timeout whatever the library does.
    const ended = new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }))
    const gateway = await Promise.race([firstIPv4GatewayOf(this.client, signal), ended])
    if (gateway !== undefined) return gateway
    if (!this.abort.signal.aborted) {
      this.current = { state: 'no-gateway', reason: `no UPnP IGD answered on the LAN within ${timeoutMs} ms` }
    }
    return undefined
  }
}

/** The first IPv4 IGD that answers the library's search, or undefined when the search ends without one. */
async function firstIPv4GatewayOf(client: UpnpClient, signal: AbortSignal): Promise<Gateway | undefined> {
  for await (const gateway of client.findGateways({ signal, searchInterval: 500 })) {
    if (gateway.family === 'IPv4') return gateway
    await gateway.stop().catch(() => undefined)
  }
  return undefined
}

/** The listen address on the gateway's subnet (its /24), else the first. */
function pickForGateway(candidates: Candidate[], gatewayHost: string): Candidate {
  const net = (ip: string) => ip.split('.').slice(0, 3).join('.')
  return candidates.find((c) => net(c.host) === net(gatewayHost)) ?? candidates[0]!
}

const AUTONAT_V2_PROTOCOL = '/libp2p/autonat/2/dial-request'

/** The part of @libp2p/autonat-v2's service this module uses (its client's per-connection entry point). */
interface AutonatV2Like {
  client?: { verifyExternalAddresses?(c: Connection): Promise<void> }
}

/**
 * Asks every directly connected peer that serves AutoNAT v2 to dial our unverified addresses back:
 * the mapping is new, and AutoNAT asks by itself only when a peer connects. This calls the
 * entry point its topology calls on connect (the service's `client`, not part of its typed API:
 * without it, the mapping is verified at the next connection to an AutoNAT server instead).
 */
export async function askAutonatToVerify(node: Libp2p): Promise<void> {
  const client = (node.services as { autoNATv2?: AutonatV2Like }).autoNATv2?.client
  if (typeof client?.verifyExternalAddresses !== 'function') return
  for (const conn of node.getConnections()) {
    if (conn.limits !== undefined || conn.status !== 'open') continue
    const peer = await node.peerStore.get(conn.remotePeer).catch(() => undefined)
    if (!peer?.protocols.includes(AUTONAT_V2_PROTOCOL)) continue
    await client.verifyExternalAddresses(conn)
  }
}
