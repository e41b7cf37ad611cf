import type { Multiaddr } from '@multiformats/multiaddr'
import type { Bounds } from './bounds.ts'
import { sha256 } from './bytes.ts'
import { FRAME_TIMEOUT_MS, RPC_PROTOCOL } from './constants.ts'
import type { DhtGet } from './dht-get.ts'
import type { DhtParts } from './dht-parts.ts'
import { InvalidKeyError } from './errors.ts'
import { decodeFrame, encodeFrame } from './frames.ts'
import { isBaranKey, keyBytes, parseKey } from './keys.ts'
import { type WatchLimits, WatchService } from './watch.ts'
import { Rpc } from './rpc.ts'
import { decodePut, encodeGetMiss, encodePut, RPC_FIND, RPC_GET, RPC_WATCH, RPC_PUSH, RPC_PUT } from './rpc-codec.ts'
import { RPC_MAILBOX_DELETE, RPC_MAILBOX_FETCH, RPC_MAILBOX_PUT } from './mailbox-service.ts'
import type { RpcCounts } from './node-options.ts'

/** Requests sent by method, by the methods' names. */
export function rpcCounts(sent: ReadonlyMap<number, number>): RpcCounts {
  const n = (method: number) => sent.get(method) ?? 0
  return {
    get: n(RPC_GET),
    put: n(RPC_PUT),
    find: n(RPC_FIND),
    watch: n(RPC_WATCH),
    push: n(RPC_PUSH),
    mailboxPut: n(RPC_MAILBOX_PUT),
    mailboxFetch: n(RPC_MAILBOX_FETCH),
    mailboxDelete: n(RPC_MAILBOX_DELETE),
  }
}

/** The IP address of a direct TCP address (`/ip4|ip6/…/tcp/…`, maybe `/p2p/…`): where datagrams can go too; a relayed or WebSocket one has none. */
export function directHost(addr: Multiaddr): string | undefined {
  const parts = addr.getComponents()
  const [ip, tcp, rest] = parts
  if (ip === undefined || tcp?.name !== 'tcp' || (ip.name !== 'ip4' && ip.name !== 'ip6')) return undefined
  if (parts.length > 3 || (rest !== undefined && rest.name !== 'p2p')) return undefined
  return ip.value
}

/**
 * The fast path (`/baran/rpc/1.0.0`): get, put and watch frames over one long-lived stream
 * per peer. Its handlers answer from the same store and rules as kad-dht's. A client queries
 * without serving: it stores nothing for others (it still takes pushes).
 */
export function createRpc(p: DhtParts, opts: { clientMode: boolean; watch: () => WatchService; udpRetryMs?: number }): Rpc {
  const rpc = new Rpc({
    openStream: async (peer, signal) => {
      try {
        const stream = await p.libp2p.dialProtocol(peer, RPC_PROTOCOL, { signal })
        p.routing.noteReachable(peer)
        return stream
      } catch (e) {
        // A dial that failed by itself, not one given up on (a timeout under load says nothing about the peer).
        if (!signal.aborted) p.routing.noteUnreachable(peer)
        throw e
      }
    },
    udpHost: (peer, stream) => {
      for (const conn of p.libp2p.getConnections(peer)) if (conn.streams.includes(stream)) return directHost(conn.remoteAddr)
      return undefined
    },
    log: p.log,
    sentByMethod: p.rpcSent,
    udpRetryMs: opts.udpRetryMs,
  })
  if (!opts.clientMode) {
    rpc.handle(RPC_GET, (_peer, key) => {
      if (!isBaranKey(key)) throw new InvalidKeyError('not a Baran key')
      // A miss names this node's closest peers: the asker needs no FIND round to learn of closer ones.
      return p.store.getRecord(parseKey(key).key) ?? encodeGetMiss(p.routing.closestEncoded(key))
    })
    rpc.handle(RPC_FIND, (_peer, key) => {
      if (key.length === 0 || key.length > 512) throw new InvalidKeyError('bad lookup key')
      return p.routing.closestEncoded(key)
    })
    rpc.handle(RPC_PUT, (peer, payload) => {
      const { key, value } = decodePut(payload)
      if (!isBaranKey(key)) throw new InvalidKeyError('not a Baran key')
      // Charged to the peer that sent it: the store's quotas are per uploader.
      p.store.storeLocal(parseKey(key).key, value, key, peer)
      // As a GET miss: the putter learns whether closer peers exist without a FIND round.
      return p.routing.closestEncoded(key)
    })
  }
  rpc.handle(RPC_WATCH, (peer, bytes) => encodeFrame(opts.watch().answer(peer, decodeFrame(bytes))))
  rpc.handle(RPC_PUSH, (peer, payload) => {
    const { key, value } = decodePut(payload)
    opts.watch().onPush(peer, parseKey(key).key, value)
    return new Uint8Array(0)
  })
  return rpc
}

/** A fresh watch service on a node's parts (stop() ends one for good; a restart gets a new one). */
export function createWatchService(p: DhtParts, opts: { get: DhtGet; limits?: WatchLimits }): WatchService {
  return new WatchService(
    {
      selfId: p.libp2p.peerId.toString(),
      store: p.store,
      policy: { verify: (key, value) => p.policy.verify(key, value) },
      call: async (peer, frame, signal) => decodeFrame(await p.rpc().request(peer, RPC_WATCH, encodeFrame(frame), { signal })),
      push: async (peer, key, value) => {
        await p.rpc().request(peer, RPC_PUSH, encodePut(keyBytes(key), value), { timeoutMs: FRAME_TIMEOUT_MS })
      },
      closestPeers: async (key, signal) => {
        const kb = keyBytes(key)
        const b: Bounds = { signal, deadline: performance.now() + p.queryTimeoutMs() }
        return p.routing.storingSet(sha256(kb), await p.routing.closest(kb, b)).map((peer) => peer.toString())
      },
      queryValues: (key, signal) => opts.get.values(key, { signal }),
      onPeerAdded: (listener) =>
        p.routing.onTableChange((_, change) => {
          if (change === 'add') listener()
        }),
      alone: () => p.routing.tableSize === 0,
      now: p.policy.now,
      log: p.log,
    },
    { limits: opts.limits, fanout: p.replication },
  )
}
