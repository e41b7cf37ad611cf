/**
 * kad-dht serves only what Baran uses (issue 14, item 2; issue 16, item 2): provider records are IPFS's, and a
 * peer's ADD_PROVIDER must not store anything; values travel over Baran's rpc only, so kad-dht's PUT_VALUE and
 * GET_VALUE are refused. Real libp2p nodes speaking kad-dht's own messages to each other over loopback.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { QueryEvent } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { Libp2pRecord } from '@libp2p/record'
import type { Datastore } from 'interface-datastore'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode, valueKey } from '../src/index.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { encodeValue, newDeleteToken } from '../src/lib/values.ts'
import { waitFor } from './helpers.ts'

/** kad-dht's network of a node, to send it raw kad messages as any kad-dht peer can. */
interface KadNetwork {
  sendMessage(to: PeerId, msg: object, options?: { signal?: AbortSignal }): AsyncGenerator<QueryEvent>
  sendRequest(to: PeerId, msg: object, options?: { signal?: AbortSignal }): AsyncGenerator<QueryEvent>
}
const kadNetwork = (node: DiscoveryNode) => (node.libp2p.services.dht as unknown as { network: KadNetwork }).network
/** What a node's datastore holds under a prefix (the datastore kad-dht writes to). */
async function heldUnder(node: DiscoveryNode, prefix: string): Promise<string[]> {
  const ds = (node.libp2p as unknown as { components: { datastore: Datastore } }).components.datastore
  const keys: string[] = []
  for await (const key of ds.queryKeys({ prefix })) keys.push(key.toString())
  return keys
}

async function drain(events: AsyncGenerator<QueryEvent>): Promise<QueryEvent[]> {
  const out: QueryEvent[] = []
  for await (const e of events) out.push(e)
  return out
}

describe('kad-dht restricted to what Baran uses', () => {
  const nodes: DiscoveryNode[] = []
  let target: DiscoveryNode
  let peer: DiscoveryNode
  let other: DiscoveryNode

  beforeAll(async () => {
    target = await createDiscoveryNode({ storeLimits: { maxItemsPerPeer: 1 } })
    nodes.push(target)
    const bootstrap = [target.multiaddrs()[0] as string]
    peer = await createDiscoveryNode({ bootstrap })
    nodes.push(peer)
    other = await createDiscoveryNode({ bootstrap })
    nodes.push(other)
    await waitFor(() => target.stats().routingTableSize >= 2, 20_000, 'the target to meet both peers')
  }, 30_000)
  afterAll(() => Promise.allSettled(nodes.map((n) => n.stop())))

  it('a remote ADD_PROVIDER stores nothing, and GET_PROVIDERS names no provider', async () => {
    const to = peerIdFromString(target.peerId)
    // The key of a provider record: a sha2-256 multihash (kad-dht reads it as a CIDv0).
    const key = Uint8Array.from([0x12, 0x20, ...createHash('sha256').update(randomBytes(32)).digest()])
    const provider = { id: peer.libp2p.peerId.toMultihash().bytes, multiaddrs: peer.libp2p.getMultiaddrs().map((ma) => ma.bytes) }
    const sent = await drain(kadNetwork(peer).sendMessage(to, { type: 'ADD_PROVIDER', key, providers: [provider] }, { signal: AbortSignal.timeout(5_000) }))
    expect(sent.some((e) => e.name === 'SEND_QUERY')).toBe(true) // it did go out
    // ADD_PROVIDER has no answer: give the target time to act on it (bounded), then look.
    await waitFor(async () => (await heldUnder(target, '/dht/provider')).length > 0, 2_000, 'a provider record').catch(() => {})
    expect(await heldUnder(target, '/dht/provider')).toEqual([])
    const asked = await drain(kadNetwork(other).sendRequest(to, { type: 'GET_PROVIDERS', key }, { signal: AbortSignal.timeout(5_000) }))
    const named = asked.flatMap((e) => (e.name === 'PEER_RESPONSE' ? e.providers : []))
    expect(named).toEqual([])
    expect(asked.some((e) => e.name === 'QUERY_ERROR')).toBe(true) // refused: kad-dht resets the stream
    // What Baran does use still works: FIND_NODE.
    const found = await drain(kadNetwork(other).sendRequest(to, { type: 'FIND_NODE', key: other.libp2p.peerId.toMultihash().bytes }, { signal: AbortSignal.timeout(5_000) }))
    expect(found.some((e) => e.name === 'PEER_RESPONSE')).toBe(true)
  })

  it('a remote PUT_VALUE stores nothing and GET_VALUE is refused: values travel over rpc only', async () => {
    const to = peerIdFromString(target.peerId)
    const key = valueKey(randomBytes(20).toString('hex'))
    const kb = keyBytes(key)
    const value = encodeValue(randomBytes(64), { expiresAt: Date.now() + 600_000, deleteToken: newDeleteToken() })
    const record = new Libp2pRecord(kb, value, new Date()).serialize()
    const put = await drain(kadNetwork(peer).sendRequest(to, { type: 'PUT_VALUE', key: kb, record }, { signal: AbortSignal.timeout(5_000) }))
    expect(put.some((e) => e.name === 'QUERY_ERROR')).toBe(true) // refused: kad-dht resets the stream
    expect(target.getLocalRecord(key)).toBeUndefined()
    expect(target.stats().store).toMatchObject({ items: 0, uploaders: 0 })
    // The same value over rpc is stored and charged to its sender.
    expect(await peer.sendPut(target.peerId, key, value)).toBe(true)
    expect(target.getLocalRecord(key)).toBeDefined()
    expect(target.stats().store).toMatchObject({ items: 1, uploaders: 1 })
    const get = await drain(kadNetwork(other).sendRequest(to, { type: 'GET_VALUE', key: kb }, { signal: AbortSignal.timeout(5_000) }))
    expect(get.some((e) => e.name === 'PEER_RESPONSE' && e.record !== undefined)).toBe(false)
    expect(get.some((e) => e.name === 'QUERY_ERROR')).toBe(true)
  })
})
