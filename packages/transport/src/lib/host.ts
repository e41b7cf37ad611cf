/**
 * The libp2p host of a Baran node: TCP + WebSockets, Noise, Yamux, identify, ping, AutoNAT,
 * optional UPnP, circuit relay v2 (client, and server for apps/relay), DCUtR hole punching,
 * WebRTC (ICE over UDP: relayed connections upgrade to direct ones, see upgrade.ts), and the
 * `/baran/msg/1.0.0` message protocol on top. Loopback-only by default: no public bootstrap,
 * relay or STUN server is ever configured here (the ICE servers come from the configured relays).
 */
import { announceable } from '@baran/actor'
import type { SyncAnswer, SyncRequest } from '@baran/bus'
import { autoNAT } from '@libp2p/autonat'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { connectionMonitorOf, hostLogger, type KeepAliveInit, keepAlivePing, noiseOneWrite, yamuxCoalesced } from '@baran/p2p'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { identify } from '@libp2p/identify'
import { type Connection, FaultTolerance, type Libp2p, type PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  YAMUX_MAX_STREAM_WINDOW,
} from './constants.ts'
import { type ConnectionEvent, classifyConnection, connectionEventOf } from './connection-events.ts'
import { baranDialBack, type DialBack } from './dial-back.ts'
import { dialOrder } from './dial-order.ts'
import { InvalidArgumentError, ListenFailedError } from './errors.ts'
import type { Credentials } from './handshake.ts'
import { type ConnectionLimitsInit, type RelayServerOptions, relayServerInit } from './libp2p-options.ts'
import type { Logger } from './logger.ts'
import { type Reachability, reachabilityOf } from './reachability.ts'
import { type RelayKeeper, relayKeeper } from './relay-keeper.ts'
import type { AnyEnvelopeHandler, EnvelopeHandler, ImmediateEnvelopeHandler } from './envelope-handler.ts'
import { MessageProtocol, type RevokedSessions } from './protocol.ts'
import type { MessageProtocolInit } from './protocol-options.ts'
import type { Envelope, SendOptions, SendResult, SendTarget } from './send.ts'
import { SyncChannel, type SyncHandler, type SyncTarget } from './sync-channel.ts'
import { askAutonatToVerify, baranUpnp, type UpnpInit, type UpnpMapper, type UpnpStatus } from './upnp.ts'
import { DirectUpgrader, parseIceServers, stunServersOf, type UpgradeEvent } from './upgrade.ts'

export type { ConnectionPath, UpgradeEvent } from './upgrade.ts'

export interface TransportHostInit extends MessageProtocolInit {
  /** The host's libp2p key (its PeerId); persisted by the caller. @default a fresh Ed25519 key */
  privateKey?: PrivateKey
  /** @default ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] (only the /ws one without 'tcp' in `transports`) */
  listen?: string[]
  /**
   * Direct transports the host listens and dials with (circuit relay always comes on top). `['ws']` makes a
   * WebSockets-only host for networks that let only HTTP-like traffic through. @default ['tcp', 'ws']
   */
  transports?: Array<'tcp' | 'ws'>
  /** Addresses to announce instead of the listen addresses (e.g. a port forwarded by hand). */
  announce?: string[]
  /** Circuit relay v2 servers (`.../p2p/<relayPeerId>`); the host reserves a slot on each. @default [] */
  relays?: string[]
  /** More relays, asked again while the host runs (the local network's description): reserved on as well. */
  relaysSource?: () => Promise<string[]>
  /**
   * Map the TCP listen port on the LAN's UPnP gateway (upnp.ts: only when listening on a private LAN
   * address, one bounded search in the background, lease renewed, removed at stop, announced once
   * AutoNAT verified it). `false` turns it off. @default true
   */
  upnp?: boolean | UpnpInit
  /**
   * WebRTC (private-to-private): listen on `/webrtc` (reachable through our relays) and upgrade the
   * relayed connections we dial to direct ones (ICE). @default true, except on a relay server
   */
  webrtc?: boolean
  /**
   * WebRTC upgrade attempts per relayed connection before it stays relayed, each bounded by libp2p's per-address dial
   * timeout (6 s). @default 2
   */
  upgradeAttempts?: number
  /**
   * ICE servers (`stun:host:port`, `turn:…`) for WebRTC. Never a public default: without this
   * option they are the relays' STUN servers (`stun:<relay host>:<stunPort>`), and none without relays.
   */
  iceServers?: string[]
  /** Port of the STUN server on each relay. @default 3478 */
  stunPort?: number
  /** Ask peers to dial back to learn which addresses are reachable. @default true */
  autonat?: boolean
  /** libp2p's connection monitor (a ping on every connection each interval); see KeepAliveInit. @default libp2p's */
  keepAlive?: KeepAliveInit
  /** Serve as a circuit relay (apps/relay). @default false */
  relayServer?: boolean | RelayServerOptions
  connectionLimits?: ConnectionLimitsInit
  log?: Logger
}

export interface TransportHost {
  /** This host's PeerId (string form). */
  readonly peerId: string
  /** The underlying libp2p node, for services built beside the transport (and for tests). */
  readonly libp2p: Libp2p
  /** Dialable addresses with `/p2p/<peerId>`, including `/p2p-circuit` ones once reserved. */
  multiaddrs(): string[]
  /** Called with the full address list whenever it changes; returns an unsubscribe function. */
  onAddresses(cb: (addrs: string[]) => void): () => void
  /** Called on every connection open and close; returns an unsubscribe function. */
  onConnection(cb: (evt: ConnectionEvent) => void): () => void
  /** Open connections as they were classified when they opened. */
  connections(): ConnectionEvent[]
  /** Sets the handler that persists incoming envelopes; the ACK waits for it. */
  onEnvelope(handler: EnvelopeHandler): void
  onEnvelope(handler: ImmediateEnvelopeHandler): void
  /** Delivers one envelope and resolves once the receiver acknowledged it. */
  send(target: SendTarget, env: Envelope, opts?: SendOptions): Promise<SendResult>
  /** Replaces this device's credentials (renewals); new streams use them. */
  setCredentials(creds: Credentials): void
  /** Closes the streams of a device its account revoked and refuses it from now on (see MessageProtocol). */
  revokeDevice(accountId: string, deviceId: string): RevokedSessions
  /** Called when a revocation closed streams; returns an unsubscribe function. */
  onRevoked(cb: (r: RevokedSessions) => void): () => void
  /** The verified remotes of the open message streams. */
  remotes(): Array<{ peerId: string; accountId: string; deviceId: string }>
  /** Sets what answers history sync requests of this account's other devices (`/baran/history-sync/1.0.0`). */
  onSyncRequest(handler: SyncHandler): void
  /** One history sync request to another device of this account; only that device (verified) answers. */
  syncRequest(target: SyncTarget, request: SyncRequest, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<SyncAnswer>
  /** Number of message streams open now. */
  readonly streamCount: number
  /** The ICE servers WebRTC uses (from the relays unless configured). */
  readonly iceServers: readonly string[]
  /** Called after each relayed → direct upgrade attempt; returns an unsubscribe function. */
  onUpgrade(cb: (evt: UpgradeEvent) => void): () => void
  /** Whether peers outside this node's networks can reach it, and why not (see reachability.ts). */
  reachability(): Reachability
  /** What UPnP did (the mapping, or why there is none); undefined when UPnP is off. */
  upnp(): UpnpStatus | undefined
  /** Closes every stream (CLOSE going_away) and stops libp2p. Idempotent. */
  stop(): Promise<void>
}

function parseAddrs(addrs: unknown, name: string): string[] {
  if (addrs === undefined) return []
  if (!Array.isArray(addrs)) throw new InvalidArgumentError(`${name} must be an array of multiaddrs`)
  return addrs.map((a) => {
    try {
      return multiaddr(a as string).toString()
    } catch (err) {
      throw new InvalidArgumentError(`${name}: not a multiaddr: ${String(a)}`, { cause: err })
    }
  })
}

/** Starts a transport host. Stop it with `host.stop()`. */
export async function createTransportHost(init: TransportHostInit = {}): Promise<TransportHost> {
  const kinds = new Set(init.transports ?? ['tcp', 'ws'])
  if (kinds.size === 0) throw new InvalidArgumentError('transports: name at least one of tcp, ws')
  const listen = parseAddrs(init.listen ?? DEFAULT_LISTEN.filter((a) => kinds.has(a.endsWith('/ws') ? 'ws' : 'tcp')), 'listen')
  for (const a of listen) {
    const kind = /\/wss?(\/|$)/.test(a) ? 'ws' : 'tcp'
    if (!kinds.has(kind)) throw new InvalidArgumentError(`listen: ${a} needs the ${kind} transport, and this host runs only ${[...kinds].join(', ')}`)
  }
  const relays = parseAddrs(init.relays, 'relays')
  for (const r of relays) {
    if (!r.includes('/p2p/')) throw new InvalidArgumentError(`relay address needs /p2p/<peerId>: ${r}`)
  }
  const limits = init.connectionLimits ?? {}

  const isRelayServer = init.relayServer !== undefined && init.relayServer !== false
  const withWebrtc = init.webrtc ?? !isRelayServer
  const iceServers = init.iceServers === undefined ? stunServersOf(relays, init.stunPort) : parseIceServers(init.iceServers)

  const services: Record<string, unknown> = { identify: identify(), ping: keepAlivePing(), dcutr: dcutr() }
  if (init.autonat !== false) {
    services.autoNAT = autoNAT()
    // v2 dials back over a fresh connection: v1's server reuses the one the request came on, so it can
    // never confirm an address of a peer it is connected to (a UPnP mapping, upnp.ts)
    services.autoNATv2 = autoNATv2()
  }
  // every node serves dial-back checks (dial-back.ts: bounded, only to the asker's own IP); a UPnP
  // mapping is verified with them (AutoNAT v2 alone can lose its only server's answer for good)
  services.dialBack = baranDialBack({ log: init.log })
  let verifyMapped: NonNullable<UpnpInit['verify']> = async () => 'unknown'
  if (init.upnp !== false) {
    const upnpInit = typeof init.upnp === 'object' ? init.upnp : {}
    services.upnp = baranUpnp({ log: init.log, verify: (m, attempt, signal) => verifyMapped(m, attempt, signal), ...upnpInit })
  }
  // libp2p reserves on each relay once, at start: the keeper makes lost and missed reservations again.
  if (relays.length > 0 || init.relaysSource) services.relayKeeper = relayKeeper({ relays, relaysSource: init.relaysSource, log: init.log })
  if (init.relayServer !== undefined && init.relayServer !== false) {
    services.relay = circuitRelayServer(relayServerInit(init.relayServer))
  }

  const options: Libp2pOptions = {
    privateKey: init.privateKey,
    addresses: {
      // `/webrtc`: the WebRTC listener announces `<relay>/p2p-circuit/webrtc` for each reservation
      listen: [...listen, ...relays.map((r) => `${r}/p2p-circuit`), ...(withWebrtc ? ['/webrtc'] : [])],
      announce: init.announce === undefined ? undefined : parseAddrs(init.announce, 'announce'),
      // Only addresses others can use (no link-local; loopback only when there is nothing else); what is announced by hand goes as is.
      ...(init.announce === undefined ? { announceFilter: (addrs: Multiaddr[]) => announceable(addrs) } : {}),
    },
    transports: [
      ...(kinds.has('tcp') ? [tcp()] : []),
      ...(kinds.has('ws') ? [webSockets()] : []),
      circuitRelayTransport(),
      // iceServers always set (even empty): @libp2p/webrtc would otherwise use public STUN servers
      ...(withWebrtc ? [webRTC({ rtcConfiguration: () => ({ iceServers: iceServers.map((urls) => ({ urls })) }) })] : []),
    ],
    // noise, with each encrypted message written to the socket at once (@baran/p2p).
    connectionEncrypters: [noiseOneWrite()],
    // yamux with one WindowUpdate per half window, as Go's yamux does, instead of one per data frame (@baran/p2p).
    streamMuxers: [yamuxCoalesced({ streamOptions: { maxStreamWindowSize: YAMUX_MAX_STREAM_WINDOW } })],
    services: services as Libp2pOptions['services'],
    connectionMonitor: connectionMonitorOf(init.keepAlive),
    connectionManager: {
      // the relay before a WebRTC attempt through it or another site's private address (dial-order.ts)
      addressSorter: dialOrder(),
      maxConnections: limits.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      inboundConnectionThreshold: limits.inboundConnectionThreshold ?? DEFAULT_INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: limits.maxIncomingPendingConnections,
    },
    // an unreachable relay must not stop the node from starting (it still has its direct addresses)
    transportManager: { faultTolerance: relays.length > 0 ? FaultTolerance.NO_FATAL : FaultTolerance.FATAL_ALL },
  }

  // what the listeners bound, seen as they start: getMultiaddrs() leaves out a public address until
  // AutoNAT verified it, so it cannot tell whether a host on a public IP listens at all
  const bound: string[] = []
  // libp2p's debug logging only when DEBUG asks for it (@baran/p2p)
  const logger = hostLogger()
  const node: Libp2p = await createLibp2p({ ...options, ...(logger ? { logger } : {}), start: false })
  node.addEventListener('transport:listening', (evt) => {
    for (const a of evt.detail.getAddrs()) bound.push(a.toString())
  })
  try {
    await node.start()
  } catch (err) {
    await Promise.resolve(node.stop()).catch(() => undefined)
    if ((err as Error).name === 'UnsupportedListenAddressesError') {
      throw new ListenFailedError((err as Error).message, { cause: err })
    }
    throw err
  }
  verifyMapped = async (m, attempt, signal) => {
    // AutoNAT v2 too, once (it verifies by itself when it can; with several servers it often does)
    if (attempt === 1) void askAutonatToVerify(node).catch((err: unknown) => init.log?.warn({ err }, 'upnp: could not ask AutoNAT to verify'))
    const check = await (node.services as { dialBack: DialBack }).dialBack.check(m.externalHost, m.externalPort, { signal })
    if (check.reached) return 'reached'
    init.log?.debug({ attempt, reason: check.reason }, attempt === 0 ? 'upnp: the re-check did not reach the mapped port' : 'upnp: the mapped port was not dialled back yet')
    return check.refuted ? 'refuted' : 'unknown'
  }
  try {
    const host = new Host(node, init, iceServers, withWebrtc)
    await host.start(listen.length > 0, relays, bound)
    return host
  } catch (err) {
    try {
      await node.stop()
    } catch {
      // already failing: report the first error
    }
    throw err
  }
}

class Host implements TransportHost {
  readonly libp2p: Libp2p
  readonly peerId: string
  private readonly protocol: MessageProtocol
  private readonly sync: SyncChannel
  private readonly log: Logger | undefined
  private readonly addressListeners = new Set<(addrs: string[]) => void>()
  private readonly connectionListeners = new Set<(evt: ConnectionEvent) => void>()
  private readonly upgradeListeners = new Set<(evt: UpgradeEvent) => void>()
  private readonly upgrader: DirectUpgrader | undefined
  readonly iceServers: readonly string[]
  private readonly open = new Map<string, ConnectionEvent>()
  private lastAddrs = ''
  private stopping: Promise<void> | undefined
  private readonly relayServer: boolean

  constructor(node: Libp2p, init: TransportHostInit, iceServers: string[], withWebrtc: boolean) {
    this.libp2p = node
    this.peerId = node.peerId.toString()
    this.log = init.log
    this.iceServers = Object.freeze([...iceServers])
    this.relayServer = init.relayServer !== undefined && init.relayServer !== false
    this.upgrader = withWebrtc
      ? new DirectUpgrader(node, {
          log: init.log,
          ...(init.upgradeAttempts === undefined ? {} : { attempts: init.upgradeAttempts }),
          onEvent: (evt) => {
            for (const cb of this.upgradeListeners) this.call(cb, evt)
          },
        })
      : undefined
    this.protocol = new MessageProtocol(node, init)
    this.sync = new SyncChannel({
      node,
      self: () => this.protocol.ownHello(),
      verify: (hello, peerId) => this.protocol.verifyRemote(hello, peerId),
      log: init.log,
    })
    node.addEventListener('self:peer:update', () => this.checkAddresses())
    node.addEventListener('transport:listening', () => this.checkAddresses())
    node.addEventListener('transport:close', () => this.checkAddresses())
    node.addEventListener('connection:open', (evt) => this.onConnectionOpen(evt.detail))
    node.addEventListener('connection:close', (evt) => this.onConnectionClose(evt.detail))
    // connections made while libp2p started (relay reservations) came before these listeners
    for (const conn of node.getConnections()) this.onConnectionOpen(conn)
  }

  async start(wantsDirect: boolean, relays: string[], bound: string[] = []): Promise<void> {
    await this.protocol.start()
    await this.sync.start()
    const addrs = this.multiaddrs()
    if (wantsDirect && ![...addrs, ...bound].some((a) => !a.includes('/p2p-circuit'))) {
      throw new ListenFailedError('could not listen on any direct address')
    }
    for (const r of relays) {
      if (!addrs.some((a) => a.startsWith(`${r}/p2p-circuit`))) {
        this.log?.warn({ relay: r }, 'no reservation on relay yet')
      }
    }
    this.lastAddrs = addrs.join('\n')
  }

  get streamCount(): number {
    return this.protocol.streamCount
  }

  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString())
  }

  onAddresses(cb: (addrs: string[]) => void): () => void {
    this.addressListeners.add(cb)
    return () => this.addressListeners.delete(cb)
  }

  onConnection(cb: (evt: ConnectionEvent) => void): () => void {
    this.connectionListeners.add(cb)
    return () => this.connectionListeners.delete(cb)
  }

  onUpgrade(cb: (evt: UpgradeEvent) => void): () => void {
    this.upgradeListeners.add(cb)
    return () => this.upgradeListeners.delete(cb)
  }

  connections(): ConnectionEvent[] {
    return [...this.open.values()]
  }

  reachability(): Reachability {
    const keeper = (this.libp2p.services as { relayKeeper?: RelayKeeper }).relayKeeper
    return reachabilityOf({
      addrs: this.multiaddrs(),
      relays: keeper?.reservations() ?? [],
      iceServers: this.iceServers,
      upnp: this.upnp(),
      relayServer: this.relayServer,
    })
  }

  upnp(): UpnpStatus | undefined {
    return (this.libp2p.services as { upnp?: UpnpMapper }).upnp?.status()
  }

  onEnvelope(handler: AnyEnvelopeHandler): void {
    this.protocol.onEnvelope(handler)
  }

  send(target: SendTarget, env: Envelope, opts?: SendOptions): Promise<SendResult> {
    return this.protocol.send(target, env, opts)
  }

  setCredentials(creds: Credentials): void {
    this.protocol.setCredentials(creds)
  }

  revokeDevice(accountId: string, deviceId: string): RevokedSessions {
    return this.protocol.revokeDevice(accountId, deviceId)
  }

  onRevoked(cb: (r: RevokedSessions) => void): () => void {
    return this.protocol.onRevoked(cb)
  }

  remotes(): Array<{ peerId: string; accountId: string; deviceId: string }> {
    return this.protocol.remotes()
  }

  onSyncRequest(handler: SyncHandler): void {
    this.sync.onRequest(handler)
  }

  syncRequest(target: SyncTarget, request: SyncRequest, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<SyncAnswer> {
    return this.sync.request(target, request, opts)
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // no address or connection events for the shutdown itself
      this.addressListeners.clear()
      this.connectionListeners.clear()
      this.upgradeListeners.clear()
      this.upgrader?.stop()
      await this.sync.stop()
      await this.protocol.stop()
      await this.libp2p.stop()
    })()
    return this.stopping
  }

  private checkAddresses(): void {
    const addrs = this.multiaddrs()
    const key = addrs.join('\n')
    if (key === this.lastAddrs) return
    this.lastAddrs = key
    for (const cb of this.addressListeners) this.call(cb, addrs)
  }

  private onConnectionOpen(conn: Connection): void {
    const peerConns = this.libp2p.getConnections(conn.remotePeer)
    const evt = connectionEventOf('open', classifyConnection(conn, peerConns), conn)
    this.open.set(conn.id, evt)
    this.log?.debug({ ...evt }, 'connection opened')
    for (const cb of this.connectionListeners) this.call(cb, evt)
  }

  private onConnectionClose(conn: Connection): void {
    const opened = this.open.get(conn.id)
    this.open.delete(conn.id)
    const evt = connectionEventOf('close', opened?.kind ?? (conn.direct ? 'direct' : 'relayed'), conn)
    for (const cb of this.connectionListeners) this.call(cb, evt)
  }

  /** A throwing listener must not break libp2p's event dispatch. */
  private call<T>(cb: (arg: T) => void, arg: T): void {
    try {
      cb(arg)
    } catch (err) {
      this.log?.error({ err }, 'transport listener threw')
    }
  }
}
