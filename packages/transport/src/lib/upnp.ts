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
 *   it is verified, i.e. a peer outside dialled it back (`verify`, retried with a bounded back-off
 *   until one did: the host asks AutoNAT v2 and the peers that serve `/baran/dial-back`, see dial-back.ts).
 *
 * Built on @achingbrain/nat-port-mapper (what @libp2p/upnp-nat uses) rather than @libp2p/upnp-nat
 * itself, which maps every private address and port, keeps searching every 5 s while no gateway
 * answers, and has no status to show.
 */
import { deadline } from '@baran/actor/deadline'
import { Backoff } from '@baran/actor/recurring'
import { type Gateway, type UPnPNAT as UpnpClient, upnpNat } from '@achingbrain/nat-port-mapper'
import type { Connection, IdentifyResult, Libp2p, Libp2pEvents, PeerId, Startable } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import { isPrivateIp } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TypedEventTarget } from 'main-event'
import { DIAL_BACK_PROTOCOL } from './dial-back.ts'
import type { Logger } from './logger.ts'

export interface UpnpInit {
  /** How long one SSDP search for a gateway lasts. @default 2000 */
  searchTimeoutMs?: number
  /** Search again this often while no usable gateway answered. @default 300_000 */
  searchIntervalMs?: number
  /** Lease asked for the mapping; the gateway library asks for at least one hour and renews a minute before it ends. @default 3_600_000 */
  leaseMs?: number
  /**
   * Asks for the mapped address to be dialled back (attempt 1, 2, …; 0 for a re-check of a verified mapping):
   * `reached` when a peer reached the node at `externalHost:externalPort`, and the mapper then confirms the
   * address; `refuted` when a peer dialled it and could not connect; `unknown` when nobody could tell. Retried
   * with a back-off (1 s doubling to 60 s, VERIFY_ATTEMPTS times) until it, or AutoNAT by itself, verified it.
   */
  verify?: (mapping: { externalHost: string; externalPort: number }, attempt: number, signal: AbortSignal) => Promise<MappingCheck>
  /**
   * A verified mapping is dialled back again this often: a router that rebooted, or got another outside
   * address, may have lost it. When RECHECK_ROUNDS checks in a row are refuted, the address is no longer
   * announced and the port is mapped afresh (then verified as a new mapping). @default 600_000
   */
  recheckMs?: number
  log?: Logger
}

/** What one dial-back of the mapped address found (see UpnpInit.verify). */
export type MappingCheck = 'reached' | 'refuted' | 'unknown'

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
  /** ms since the epoch of the last re-check that reached the mapped address (after its verification). */
  recheckedAt?: number
  /** What the last re-check's dial-back found, and when (ms since the epoch): `unknown` keeps the mapping. */
  lastCheck?: { outcome: MappingCheck; at: number }
  /** Mappings found lost by a re-check and made again since start. */
  remapped?: number
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
/** Asking for the dial-back of a new mapping: this back-off, at most this many times (about 7 min in all). */
const VERIFY_BACKOFF = { initialMs: 1_000, maxMs: 60_000, factor: 2 }
const VERIFY_ATTEMPTS = 12
export const DEFAULT_UPNP_RECHECK_MS = 600_000
/** A re-check gives up on a mapping after this many refuted dial-backs in a row, this far apart (doubling). */
const RECHECK_ROUNDS = 3
const RECHECK_PAUSE_MS = 2_000
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
  private verifying: AbortController | undefined
  private started = false
  private readonly onAddresses = () => this.schedule(0)
  /** Ends the current back-off pause of the verification loop early (undefined: not pausing). */
  private wakeVerifier: (() => void) | undefined
  private verifierRunning = false
  private recheckTimer: NodeJS.Timeout | undefined
  private remapped = 0
  /**
   * A peer that serves dial-back was identified over a direct connection: ask now rather than at the
   * end of the back-off, and again if the loop had given up (e.g. the relay came back after it).
   */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>) => {
    if (evt.detail.connection.limits !== undefined || !evt.detail.protocols.includes(DIAL_BACK_PROTOCOL)) return
    if (this.current.state !== 'mapped' || this.status().verified === true) return
    if (this.verifierRunning) this.wakeVerifier?.()
    else this.askForVerification()
  }

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
    this.components.events.addEventListener('peer:identify', this.onIdentify)
  }

  afterStart(): void {
    this.schedule(0)
  }

  async stop(): Promise<void> {
    this.started = false
    this.components.events.removeEventListener('self:peer:update', this.onAddresses)
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.abort.abort()
    clearTimeout(this.timer)
    clearTimeout(this.recheckTimer)
    this.verifying?.abort()
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
    return { ...this.current, verified, ...(this.remapped > 0 ? { remapped: this.remapped } : {}) }
  }

  /**
   * Asks for the dial-back until the address is verified, with a bounded back-off: the first ask can
   * come before the relay's identify said what it serves, or fail (dial-back.ts says how AutoNAT v2
   * loses a dial-back that worked and then never asks that network segment again).
   */
  private askForVerification(): void {
    this.verifying?.abort()
    const verifying = new AbortController()
    this.verifying = verifying
    const signal = AbortSignal.any([verifying.signal, this.abort.signal])
    const mapping = this.mapping
    const verify = this.init.verify
    if (mapping === undefined || verify === undefined) return
    const stillWanted = () => !signal.aborted && this.mapping === mapping && this.status().verified !== true
    this.verifierRunning = true
    void (async () => {
      const backoff = new Backoff(VERIFY_BACKOFF)
      for (let attempt = 1; attempt <= VERIFY_ATTEMPTS && stillWanted(); attempt++) {
        const reached = (await this.check(mapping, attempt, signal)) === 'reached'
        if (reached && stillWanted()) {
          this.confirm(mapping)
          this.init.log?.info({ externalAddr: this.current.externalAddr, attempt }, 'upnp: mapping verified by a dial-back')
          return
        }
        if (!stillWanted() || !(await this.pauseUnlessWoken(backoff.next(), signal))) return
      }
      if (stillWanted()) this.init.log?.warn({ externalAddr: this.current.externalAddr }, 'upnp: no peer could dial the mapped address back yet; it stays unannounced until one that serves dial-back connects')
    })()
      .catch((err: unknown) => this.init.log?.warn({ err }, 'upnp: verifying the mapping failed'))
      .finally(() => {
        if (this.verifying === verifying) this.verifierRunning = false
      })
  }

  /** Waits `ms` (not keeping the process alive) or until onIdentify wakes it; false once `signal` aborted. */
  private pauseUnlessWoken(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (goOn: boolean) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.wakeVerifier = undefined
        resolve(goOn && !signal.aborted)
      }
      const onAbort = () => done(false)
      const timer = setTimeout(() => done(true), ms)
      timer.unref?.()
      if (signal.aborted) return done(false)
      signal.addEventListener('abort', onAbort, { once: true })
      this.wakeVerifier = () => done(true)
    })
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
    this.scheduleRecheck()
  }

  private async check(mapping: { externalHost: string; externalPort: number }, attempt: number, signal: AbortSignal): Promise<MappingCheck> {
    const verify = this.init.verify
    if (verify === undefined) return 'unknown'
    return verify({ externalHost: mapping.externalHost, externalPort: mapping.externalPort }, attempt, signal).catch((err: unknown) => {
      this.init.log?.debug({ err, attempt }, 'upnp: dial-back check failed')
      return 'unknown' as const
    })
  }

  /** A peer reached the mapped address: libp2p may announce it (verified). */
  private confirm(mapping: { externalHost: string; externalPort: number }): void {
    this.components.addressManager.confirmObservedAddr(multiaddr(`/ip4/${mapping.externalHost}/tcp/${mapping.externalPort}`), { type: 'ip-mapping' })
  }

  private scheduleRecheck(): void {
    clearTimeout(this.recheckTimer)
    if (!this.started || this.init.verify === undefined) return
    this.recheckTimer = setTimeout(() => {
      this.recheck().catch((err: unknown) => this.init.log?.warn({ err }, 'upnp: re-checking the mapping failed'))
    }, this.init.recheckMs ?? DEFAULT_UPNP_RECHECK_MS)
    this.recheckTimer.unref?.()
  }

  /**
   * Dials a verified mapping back again. Lost only on evidence (RECHECK_ROUNDS refuted checks in a row): a check
   * nobody could make (no peer to ask, the relay away) keeps it. A lost mapping leaves the announced addresses
   * and is mapped afresh, which the router that lost it takes again (and a new outside address shows up).
   */
  private async recheck(): Promise<void> {
    const mapping = this.mapping
    const signal = this.abort.signal
    if (mapping === undefined || signal.aborted) return
    // An unverified mapping belongs to the verification loop.
    if (this.status().verified !== true) return this.scheduleRecheck()
    const pause = new Backoff({ initialMs: RECHECK_PAUSE_MS, maxMs: RECHECK_PAUSE_MS * 4, factor: 2 })
    for (let round = 1; round <= RECHECK_ROUNDS; round++) {
      const outcome = await this.check(mapping, 0, signal)
      if (this.mapping !== mapping || signal.aborted) return
      this.current = { ...this.current, lastCheck: { outcome, at: Date.now() } }
      if (outcome === 'reached') {
        this.confirm(mapping)
        this.current = { ...this.current, recheckedAt: Date.now() }
        return this.scheduleRecheck()
      }
      if (outcome === 'unknown') return this.scheduleRecheck()
      if (round < RECHECK_ROUNDS && !(await sleep(pause.next(), true, { signal, ref: false }).catch(() => false))) return
    }
    if (this.mapping !== mapping) return
    this.init.log?.warn({ externalAddr: this.current.externalAddr, rounds: RECHECK_ROUNDS }, 'upnp: the mapped port no longer answers a dial-back: unannounced, mapping it again')
    this.mapping = undefined
    this.remapped++
    this.components.addressManager.removePublicAddressMapping(mapping.internal.host, mapping.internal.port, mapping.externalHost, mapping.externalPort, 'tcp')
    await this.gateway?.unmap(mapping.internal.port, { signal }).catch(() => undefined)
    this.current = { state: 'searching', reason: 'the mapping was lost: mapping again' }
    this.schedule(0)
  }

  /** One bounded SSDP search; the first IPv4 IGD that answers, or undefined. */
  private async search(): Promise<Gateway | undefined> {
    this.lastSearch = Date.now()
    const timeoutMs = this.init.searchTimeoutMs ?? DEFAULT_UPNP_SEARCH_TIMEOUT_MS
    this.current = { state: 'searching', reason: 'looking for a UPnP gateway on the LAN' }
    // Not released when a gateway answers early: the library's search stops at this signal (it cleans up at the time).
    const { signal } = deadline(timeoutMs, this.abort.signal)
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
