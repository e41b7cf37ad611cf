/**
 * The public helper node: a circuit relay v2 server (TURN's role for nodes behind NATs), a STUN server on
 * UDP (nodes learn their public address for ICE hole punching), and a DHT node in Baran's namespace that
 * new nodes bootstrap from, each libp2p host with its own key kept in the data dir, plus, optionally, a
 * Jami-compatible name server over a registry chain. It holds no account and no bus.
 */
import { createDiscoveryNode, type DiscoveryNode } from '@baran/discovery'
import { CachedResolver, createProvider, type NameServer, RegistryClient, startNameServer } from '@baran/naming'
import { createTransportHost, type TransportHost } from '@baran/transport'
import { isPrivateIp } from '@libp2p/utils'
import { Wallet } from 'ethers'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  DEFAULT_DATA_LIMIT_BYTES,
  DEFAULT_DURATION_LIMIT_MS,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_RESERVATIONS,
  DHT_KEY_FILE,
  RELAY_KEY_FILE,
} from './constants.ts'
import { InvalidRelayOptionError, NameServerStartError, RelayError, RelayListenError } from './errors.ts'
import { loadOrCreateKey } from './keys.ts'
import type { Logger } from './logger.ts'
import { defaultDhtListen, defaultStunHost, parseListenAddr, parsePeerAddr } from './options.ts'
import { startStunServer, type StunService } from './stun.ts'

export interface RelayNameServerInit {
  /** The chain's JSON-RPC URL. */
  rpcUrl: string
  /** 0x address of the registry on that chain. */
  registry: string
  /** 0x private key that pays gas for registrations; without it the server only answers lookups. */
  privateKey?: string
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (a free port) */
  port?: number
}

export interface RelayInit {
  /** Where the two libp2p keys live (created 0700; keys 0600). */
  dataDir: string
  /** The relay's listen addresses. @default ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] */
  listen?: string[]
  /** The DHT node's listen addresses. @default each plain-TCP `listen` address on the next port (0 stays 0) */
  dhtListen?: string[]
  /** Other DHT nodes to join (multiaddrs with /p2p/). @default [] (this relay starts its own network) */
  bootstrap?: string[]
  /** Reservations held at once. @default 256 */
  maxReservations?: number
  /** Per relayed connection; `false`: none. @default { dataBytes: 64 MiB, durationMs: 30 min } */
  limits?: false | { dataBytes?: number; durationMs?: number }
  /** @default 1024 */
  maxConnections?: number
  /** Also serve Jami's name-server HTTP protocol over a registry. */
  nameServer?: RelayNameServerInit
  /**
   * STUN on UDP, on the host of the first IP `listen` address; `false`: none.
   * @default port 3478 when that listen port is fixed, a free port when it is 0 (as dhtListen)
   */
  stun?: false | { host?: string; port?: number }
  log?: Logger
}

export interface RelayStats {
  /** Clients holding a reservation now. */
  reservations: number
  /** Open connections of the relay host. */
  connections: number
  /** Connected peers of the DHT node. */
  dhtPeers: number
  routingTableSize: number
  /** Baran records the DHT node stores for others. */
  storedRecords: number
}

export interface Relay {
  readonly peerIds: { relay: string; dht: string }
  /** Full multiaddrs (with /p2p/<peerId>): `relay` for transport.relays, `dht` for discovery.bootstrap. */
  readonly addrs: { relay: string[]; dht: string[] }
  /** The name server's base URL, when one runs. */
  readonly nameServer: { url: string } | undefined
  /** The STUN server (`stun:<host>:<port>`, what nodes put in their ICE servers), when one runs. */
  readonly stun: { url: string; port: number } | undefined
  /** Why no STUN server runs although one was wanted (its default port was taken). */
  readonly stunError: string | undefined
  /** The limits each relayed connection gets (`false`: none). */
  readonly limits: false | { dataBytes: number; durationMs: number }
  readonly maxReservations: number
  stats(): RelayStats
  /** Stops the name server, the DHT node and the relay. Idempotent. */
  stop(): Promise<void>
}

/** Starts the relay, its DHT node and the optional name server; all of them or none (throws a RelayError). */
export async function startRelay(init: RelayInit): Promise<Relay> {
  if (typeof init.dataDir !== 'string' || init.dataDir.length === 0) throw new InvalidRelayOptionError('dataDir is required')
  const listen = (init.listen ?? [...DEFAULT_LISTEN]).map((a) => parseListenAddr(a, 'listen'))
  const dhtListen = (init.dhtListen ?? defaultDhtListen(listen)).map((a) => parseListenAddr(a, 'dhtListen'))
  const bootstrap = (init.bootstrap ?? []).map((a) => parsePeerAddr(a, 'bootstrap'))
  const maxReservations = init.maxReservations ?? DEFAULT_MAX_RESERVATIONS
  if (!Number.isSafeInteger(maxReservations) || maxReservations < 1) throw new InvalidRelayOptionError('maxReservations must be a positive integer')
  const limits =
    init.limits === false
      ? false
      : { dataBytes: init.limits?.dataBytes ?? DEFAULT_DATA_LIMIT_BYTES, durationMs: init.limits?.durationMs ?? DEFAULT_DURATION_LIMIT_MS }
  if (limits && !(limits.dataBytes > 0 && limits.durationMs > 0)) throw new InvalidRelayOptionError('limits must be positive')
  if (init.nameServer) checkNameServer(init.nameServer)
  const log = init.log

  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const [relayKey, dhtKey] = await Promise.all([
    loadOrCreateKey(join(init.dataDir, RELAY_KEY_FILE), log),
    loadOrCreateKey(join(init.dataDir, DHT_KEY_FILE), log),
  ])

  const undo: Array<() => Promise<void>> = []
  const unwind = async () => {
    for (const fn of undo.reverse()) await fn().catch(() => undefined)
  }
  try {
    const host = await createTransportHost({
      privateKey: relayKey,
      listen,
      announce: announceOf(listen),
      relayServer: { maxReservations, limits },
      // A helper node has a public address: no gateway to map. AutoNAT stays on for the nodes it helps:
      // it dials back the address a node mapped with UPnP, which libp2p announces only once verified.
      autonat: true,
      upnp: false,
      connectionLimits: { maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS },
      ...(log ? { log } : {}),
    }).catch((e: unknown) => {
      throw new RelayListenError(`the relay cannot listen on ${listen.join(', ')}: ${(e as Error).message}`, { cause: e })
    })
    undo.push(() => host.stop())
    const dhtAnnounce = announceOf(dhtListen)
    const dht = await createDiscoveryNode({ privateKey: dhtKey, listen: dhtListen, bootstrap, ...(dhtAnnounce ? { announce: dhtAnnounce } : {}), ...(log ? { log } : {}) }).catch((e: unknown) => {
      const hint = init.dhtListen ? '' : ' (pass dhtListen / --dht-listen to choose its addresses)'
      throw new RelayListenError(`the DHT node cannot listen on ${dhtListen.join(', ')}${hint}: ${(e as Error).message}`, { cause: e })
    })
    undo.push(() => dht.stop())
    const nameServer = init.nameServer ? await startRelayNameServer(init.nameServer, log) : undefined
    if (nameServer) undo.push(() => nameServer.close())
    const stunAt = init.stun === false ? undefined : defaultStunHost(listen, init.stun ?? {})
    let stun: StunService | undefined
    let stunError: string | undefined
    if (stunAt) {
      try {
        stun = await startStunServer({ ...stunAt, ...(log ? { log } : {}) })
        undo.push(() => stun!.close())
      } catch (e) {
        // a port asked for must be had; the default one (3478, maybe another relay's on this host) only degrades
        if (init.stun !== undefined && init.stun !== false && init.stun.port !== undefined) throw e
        stunError = (e as Error).message
        log?.warn({ err: stunError }, 'no STUN server: nodes behind NATs cannot punch through with this relay')
      }
    }
    const relay = new RunningRelay(host, dht, nameServer, stun, limits, maxReservations, unwind)
    if (stunError !== undefined) relay.stunError = stunError
    if (log) watch(host, log)
    return relay
  } catch (e) {
    await unwind()
    if (e instanceof RelayError) throw e
    throw new RelayListenError(`the relay could not start: ${(e as Error).message}`, { cause: e })
  }
}

function checkNameServer(ns: RelayNameServerInit): void {
  if (!/^0x[0-9a-fA-F]{40}$/.test(ns.registry ?? '')) throw new InvalidRelayOptionError('nameServer.registry must be a 0x address')
  let url: URL
  try {
    url = new URL(ns.rpcUrl)
  } catch (e) {
    throw new InvalidRelayOptionError(`nameServer.rpcUrl: ${JSON.stringify(ns.rpcUrl)} is not a URL`, { cause: e })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidRelayOptionError('nameServer.rpcUrl must be an http(s) URL')
}

async function startRelayNameServer(ns: RelayNameServerInit, log: Logger | undefined): Promise<NameServer> {
  const provider = createProvider(ns.rpcUrl)
  try {
    let signer: Wallet | undefined
    if (ns.privateKey !== undefined) {
      try {
        signer = new Wallet(ns.privateKey, provider)
      } catch (e) {
        throw new InvalidRelayOptionError('nameServer.privateKey is not a 0x private key', { cause: e })
      }
    }
    const client = new RegistryClient({ provider, registry: ns.registry, ...(signer ? { signer } : {}), ...(log ? { log } : {}) })
    const chainId = await client.chainId().catch((e: unknown) => {
      throw new NameServerStartError(`the chain at ${ns.rpcUrl} does not answer: ${(e as Error).message}`, { cause: e })
    })
    const server = await startNameServer({
      client,
      resolver: new CachedResolver(client),
      // The operator's --key-file is its consent to pay gas for other people's claims.
      sponsor: signer !== undefined,
      ...(ns.host ? { host: ns.host } : {}),
      ...(ns.port === undefined ? {} : { port: ns.port }),
      ...(log ? { log } : {}),
    }).catch((e: unknown) => {
      throw new NameServerStartError(`the name server cannot listen: ${(e as Error).message}`, { cause: e })
    })
    log?.info({ url: server.url, chainId: String(chainId), registry: ns.registry, registers: signer !== undefined }, 'name server listening')
    return {
      url: server.url,
      port: server.port,
      close: async () => {
        await server.close()
        provider.destroy()
      },
    }
  } catch (e) {
    provider.destroy()
    throw e
  }
}

/** Logs reservations (info) and connections (debug): what an operator looks for in the relay's log. */
function watch(host: TransportHost, log: Logger): void {
  const relay = (host.libp2p.services as { relay?: EventTarget }).relay
  relay?.addEventListener('relay:reservation', (evt) => {
    const r = (evt as CustomEvent<{ addr: { toString(): string }; expiry: Date }>).detail
    log.info({ addr: r.addr.toString(), expiry: r.expiry.toISOString() }, 'reservation')
  })
  host.onConnection((evt) => log.debug({ ...evt }, `connection ${evt.type}`))
}

class RunningRelay implements Relay {
  readonly peerIds: { relay: string; dht: string }
  readonly nameServer: { url: string } | undefined
  readonly stun: { url: string; port: number } | undefined
  stunError: string | undefined
  readonly limits: false | { dataBytes: number; durationMs: number }
  readonly maxReservations: number
  readonly #host: TransportHost
  readonly #dht: DiscoveryNode
  readonly #unwind: () => Promise<void>
  #stopping: Promise<void> | undefined

  constructor(
    host: TransportHost,
    dht: DiscoveryNode,
    nameServer: NameServer | undefined,
    stun: StunService | undefined,
    limits: false | { dataBytes: number; durationMs: number },
    maxReservations: number,
    unwind: () => Promise<void>,
  ) {
    this.#host = host
    this.#dht = dht
    this.#unwind = unwind
    this.peerIds = { relay: host.peerId, dht: dht.peerId }
    this.nameServer = nameServer ? { url: nameServer.url } : undefined
    this.stun = stun ? { url: stun.url, port: stun.port } : undefined
    this.limits = limits
    this.maxReservations = maxReservations
  }

  get addrs(): { relay: string[]; dht: string[] } {
    const full = (addrs: string[], peerId: string) => addrs.map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`))
    return {
      relay: full(this.#host.multiaddrs(), this.peerIds.relay).filter((a) => !a.includes('/p2p-circuit')),
      dht: full(this.#dht.multiaddrs(), this.peerIds.dht),
    }
  }

  stats(): RelayStats {
    const services = this.#host.libp2p.services as { relay?: { reservations: { size: number } } }
    const dht = this.#dht.stats()
    return {
      reservations: services.relay?.reservations.size ?? 0,
      connections: this.#host.libp2p.getConnections().length,
      dhtPeers: dht.peers,
      routingTableSize: dht.routingTableSize,
      storedRecords: dht.storedRecords,
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#unwind()
    return this.#stopping
  }
}

/**
 * A relay is public by definition: when every listen address names a public IP and a fixed port, it
 * announces them as they are. libp2p would otherwise leave a public address out of what it tells
 * peers (reservations included) until AutoNAT had it dialled back, which no client of a fresh relay
 * does. Wildcard, private or port-0 listen addresses: libp2p's own addresses (undefined).
 */
export function announceOf(listen: string[]): string[] | undefined {
  const concrete = listen.every((a) => {
    const m = /^\/ip4\/([\d.]+)\/tcp\/(\d+)(\/ws)?$/.exec(a)
    return m !== null && m[1] !== '0.0.0.0' && m[2] !== '0'
  })
  const anyPublic = listen.some((a) => {
    const ip = /^\/ip4\/([\d.]+)\//.exec(a)?.[1]
    return ip !== undefined && isPrivateIp(ip) === false
  })
  return concrete && anyPublic ? listen : undefined
}
