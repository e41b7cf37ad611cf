import { announceable } from '@baran/actor'
import { type Identify, identify } from '@libp2p/identify'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import type { Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p, type Libp2p } from 'libp2p'
import { DEFAULT_K, DEFAULT_LISTEN, KAD_PROTOCOL } from './constants.ts'
import { restrictKadRpc } from './kad-internals.ts'
import type { DiscoveryNodeInit } from './node-options.ts'
import type { RecordPolicy } from './policy.ts'
import type { VerifiedRecordStore } from './store.ts'
import { connectionMonitorOf, hostLogger, keepAlivePing, noiseOneWrite, yamuxCoalesced } from '@baran/p2p'

/** The libp2p services a discovery node runs. */
export type Services = { dht: KadDHT; identify: Identify; ping: Ping }

/** The libp2p host of a discovery node. */
export type DiscoveryLibp2p = Libp2p<Services>

/**
 * The libp2p stack of a discovery node (not started): TCP and WebSockets, noise and yamux tuned for
 * many small messages, identify, ping, and kad-dht in Baran's namespace on `store` as its datastore.
 */
export async function createDiscoveryLibp2p(init: DiscoveryNodeInit, policy: RecordPolicy, store: VerifiedRecordStore): Promise<DiscoveryLibp2p> {
  const logger = hostLogger()
  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey: init.privateKey,
    datastore: store,
    // libp2p's debug logging only when DEBUG asks for it (@baran/p2p)
    ...(logger ? { logger } : {}),
    // Only addresses others can use: no link-local, loopback only when there is nothing else.
    addresses: { listen: init.listen ?? DEFAULT_LISTEN, ...(init.announce ? { announce: init.announce } : {}), announceFilter: (addrs) => announceable(addrs) },
    transports: [tcp(), webSockets()],
    // noise, with each encrypted message written to the socket at once (see @baran/p2p).
    connectionEncrypters: [noiseOneWrite()],
    // yamux with one WindowUpdate per half window, as Go's yamux does, instead of one per data frame (see @baran/p2p).
    streamMuxers: [yamuxCoalesced()],
    // Many local nodes dial one bootstrap at once: the default (5/s per host) resets them.
    connectionManager: { inboundConnectionThreshold: 1_000 },
    connectionMonitor: connectionMonitorOf(init.keepAlive),
    peerDiscovery: init.mdns === true ? [mdns({ serviceTag: 'baran-discovery.local' })] : [],
    services: {
      identify: identify(),
      // room for the connection monitor's and kad-dht's pings at once (@baran/p2p)
      ping: keepAlivePing(),
      dht: kadDHT({
        protocol: KAD_PROTOCOL,
        clientMode: init.clientMode ?? false,
        // Loopback and LAN addresses are how Baran's local networks work.
        peerInfoMapper: passthroughMapper,
        kBucketSize: init.kBucketSize ?? DEFAULT_K,
        validators: policy.kadValidators(),
        selectors: policy.kadSelectors(),
        // A node with no peers is a network of one: its queries return at once instead of waiting.
        allowQueryWithZeroPeers: true,
      }),
    },
  })
  // kad-dht serves only its routing (FIND_NODE, PING): values travel over Baran's rpc.
  restrictKadRpc(libp2p.services.dht)
  return libp2p
}
