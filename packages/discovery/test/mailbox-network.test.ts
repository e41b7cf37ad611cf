/**
 * The DHT mailbox across real libp2p nodes on 127.0.0.1 (issue 17, item 2): deposits, fetches, the storing nodes'
 * refusals (asserted on their stores), floods, deletes, and an item outliving its sender and the nodes it was first
 * stored on (maintenance). A hostile peer is a bare libp2p host speaking `/baran/rpc/1.0.0` with rpc.ts.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { MAX_ENVELOPE_BYTES } from '@baran/trust'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscoveryNode, type DiscoveryNode } from '../src/index.ts'
import { RPC_PROTOCOL } from '../src/lib/constants.ts'
import { encodeDeleteRequest, itemHash, mailboxEpoch, mailboxId, signDeleteRequest } from '../src/lib/mailbox-item.ts'
import { decodeFetchReply, RPC_MAILBOX_DELETE, RPC_MAILBOX_FETCH, RPC_MAILBOX_PUT } from '../src/lib/mailbox-service.ts'
import { encodeFetchRequest, signFetchRequest } from '../src/lib/mailbox-fetch-auth.ts'
import { Rpc } from '../src/lib/rpc.ts'
import { startNetwork, stopAll, waitFor } from './helpers.ts'
import { fetchAuth, type MailDevice, mailDevice, sealTo } from './mailbox-fixtures.ts'

const KiB = 1024
const named = (name: string) => expect.objectContaining({ name })

function deposit(mailbox: string, envelope: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + envelope.length)
  out.set(Buffer.from(mailbox, 'hex'))
  out.set(envelope, 20)
  return out
}

const boxOf = (d: MailDevice, at = Date.now()) => mailboxId(d.deviceId, mailboxEpoch(at))
const holders = (nodes: DiscoveryNode[], box: string, hash: string) => nodes.filter((n) => n.isStarted && n.getLocalMailbox(box).some((i) => i.hash === hash))

describe('the DHT mailbox across nodes', () => {
  const LIMITS = { maxBytes: 48 * KiB, maxBytesPerSender: 8 * KiB, maxBytesPerMailbox: 24 * KiB }
  const nodes: DiscoveryNode[] = []
  let hostile: Libp2p
  let alice: MailDevice
  let bob: MailDevice
  let carol: MailDevice
  let envelope: Uint8Array
  let hash: string
  let box: string

  beforeAll(async () => {
    await startNetwork(8, { replication: 3, mailboxLimits: LIMITS }, nodes)
    ;[alice, bob, carol] = await Promise.all([mailDevice(), mailDevice(), mailDevice()])
    envelope = await sealTo(alice, [bob], { id: 'to-bob-1' })
    hash = itemHash(envelope)
    box = boxOf(bob)
    hostile = await createLibp2p({ addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
  }, 60_000)
  afterAll(async () => {
    await Promise.allSettled([stopAll(nodes), hostile?.stop()])
  })

  /** An rpc client on the hostile peer, connected to `target`. */
  async function hostileRpc(target: DiscoveryNode): Promise<(method: number, payload: Uint8Array) => Promise<Uint8Array>> {
    await hostile.dial(multiaddr(target.multiaddrs()[0] as string), { signal: AbortSignal.timeout(10_000) })
    const rpc = new Rpc({ openStream: (peer, signal) => hostile.dialProtocol(peer, RPC_PROTOCOL, { signal }) })
    return (method, payload) => rpc.request(peerIdFromString(target.peerId), method, payload, { timeoutMs: 10_000 })
  }

  it('an envelope one node deposits is held by the mailbox’s closest nodes and fetched by another node', async () => {
    const result = await nodes[1]!.mailboxPut(box, envelope)
    expect(result).toMatchObject({ mailbox: box, hash })
    expect(result.stored).toBeGreaterThanOrEqual(1)
    expect(holders(nodes, box, hash).length).toBeGreaterThanOrEqual(1)
    const items = await nodes[6]!.mailboxFetch(box, fetchAuth(bob, box))
    expect(items.map((i) => i.hash)).toEqual([hash])
    expect(Buffer.from(items[0]!.envelope).equals(Buffer.from(envelope))).toBe(true)
    expect(items[0]).toMatchObject({ senderDevice: alice.deviceId, envelopeId: 'to-bob-1' })
  })

  it('a storing node answers a fetch only with the mailbox device’s signed request: none, another device’s, or for another mailbox is refused', async () => {
    const target = holders(nodes, box, hash)[0] as DiscoveryNode
    const send = await hostileRpc(target)
    const fetchOf = (mailbox: string, auth?: Uint8Array) => new Uint8Array(Buffer.concat([Buffer.from(mailbox, 'hex'), new Uint8Array(4), ...(auth ? [auth] : [])]))
    await expect(send(RPC_MAILBOX_FETCH, fetchOf(box))).rejects.toMatchObject({ name: 'BadFetchRequestError', code: 'bad_fetch_request' })
    const byCarol = signFetchRequest({ mailbox: box, deviceCert: carol.cert, deviceSecretKey: carol.key.secretKey })
    await expect(send(RPC_MAILBOX_FETCH, fetchOf(box, encodeFetchRequest(byCarol)))).rejects.toMatchObject({ name: 'BadFetchRequestError' })
    await expect(send(RPC_MAILBOX_FETCH, fetchOf(box, encodeFetchRequest({ ...byCarol, deviceCert: bob.cert })))).rejects.toMatchObject({ name: 'BadFetchRequestError' })
    // Bob's request, sent for Carol's mailbox
    await expect(send(RPC_MAILBOX_FETCH, fetchOf(boxOf(carol), encodeFetchRequest(fetchAuth(bob, box))))).rejects.toMatchObject({ name: 'BadFetchRequestError' })
    await expect(nodes[3]!.mailboxFetch(box, byCarol)).rejects.toThrow(named('BadFetchRequestError'))
    // Bob's own: the item
    const reply = decodeFetchReply(await send(RPC_MAILBOX_FETCH, fetchOf(box, encodeFetchRequest(fetchAuth(bob, box)))))
    expect(reply.envelopes.some((e) => Buffer.from(e).equals(Buffer.from(envelope)))).toBe(true)
  })

  it('a storing node refuses forged, wrong-mailbox, replayed and oversized deposits and keeps none of them', async () => {
    const target = holders(nodes, box, hash)[0] as DiscoveryNode
    const send = await hostileRpc(target)
    const before = target.stats().mailbox
    const forged = new Uint8Array(envelope)
    forged[forged.length - 3] = (forged[forged.length - 3] as number) ^ 0x10
    await expect(send(RPC_MAILBOX_PUT, deposit(box, forged))).rejects.toMatchObject({ name: 'ForgedEnvelopeError', code: 'mailbox_forged' })
    const other = await sealTo(alice, [bob], { id: 'to-bob-2' })
    await expect(send(RPC_MAILBOX_PUT, deposit(boxOf(carol), other))).rejects.toMatchObject({ name: 'WrongMailboxError' })
    const replay = await sealTo(alice, [bob], { id: 'to-bob-1' })
    await expect(send(RPC_MAILBOX_PUT, deposit(box, replay))).rejects.toMatchObject({ name: 'MailboxReplayError' })
    await expect(send(RPC_MAILBOX_PUT, deposit(box, new Uint8Array(MAX_ENVELOPE_BYTES + 1)))).rejects.toMatchObject({ name: 'MailboxItemTooLargeError' })
    expect(target.getLocalMailbox(box).map((i) => i.hash)).toEqual([hash])
    expect(target.getLocalMailbox(boxOf(carol))).toEqual([])
    expect(target.stats().mailbox).toMatchObject({ items: before.items, bytes: before.bytes })
    // The same bytes again are a retry, not a replay.
    await expect(send(RPC_MAILBOX_PUT, deposit(box, envelope))).resolves.toBeInstanceOf(Uint8Array)
    // A node checks before it sends: the caller gets the typed refusal.
    await expect(nodes[2]!.mailboxPut(box, forged)).rejects.toThrow(named('ForgedEnvelopeError'))
  })

  it('a flood from one sender, then from many, cannot push out another sender’s item nor grow the store past its bound', async () => {
    const target = holders(nodes, box, hash)[0] as DiscoveryNode
    const send = await hostileRpc(target)
    const flooder = await mailDevice()
    const refusals = new Map<string, number>()
    const note = (err: unknown) => {
      const code = (err as { code?: string }).code ?? String(err)
      refusals.set(code, (refusals.get(code) ?? 0) + 1)
    }
    for (let i = 0; i < 16; i++) {
      const env = await sealTo(flooder, [bob], { bytes: 1000 })
      await send(RPC_MAILBOX_PUT, deposit(box, env)).catch(note)
      expect(target.stats().mailbox.bytes).toBeLessThanOrEqual(LIMITS.maxBytes)
    }
    expect(refusals.get('sender_quota')).toBeGreaterThan(0)
    // Fresh sender accounts (they cost nothing): each mailbox fills to its quota, then the store to its bound.
    const recipients = await Promise.all(Array.from({ length: 4 }, () => mailDevice()))
    for (let i = 0; i < 48; i++) {
      const r = recipients[i % recipients.length] as MailDevice
      const env = await sealTo(await mailDevice(), [r], { bytes: 1500 })
      await send(RPC_MAILBOX_PUT, deposit(boxOf(r), env)).catch(note)
      expect(target.stats().mailbox.bytes).toBeLessThanOrEqual(LIMITS.maxBytes)
    }
    expect(refusals.get('mailbox_store_full')).toBeGreaterThan(0)
    expect(target.getLocalMailbox(box).some((i) => i.hash === hash)).toBe(true)
    expect(target.stats().mailbox.refusals).toMatchObject({ senderQuota: refusals.get('sender_quota'), storeFull: refusals.get('mailbox_store_full') })
  })

  it('only the recipient deletes: a forged delete is refused by the storing node, the recipient’s removes the item everywhere', async () => {
    const target = holders(nodes, box, hash)[0] as DiscoveryNode
    const send = await hostileRpc(target)
    const byCarol = signDeleteRequest({ mailbox: box, items: [hash], deviceCert: carol.cert, deviceSecretKey: carol.key.secretKey })
    await expect(send(RPC_MAILBOX_DELETE, encodeDeleteRequest(byCarol))).rejects.toMatchObject({ name: 'BadDeleteRequestError' })
    const stolenCert = { ...byCarol, deviceCert: bob.cert }
    await expect(send(RPC_MAILBOX_DELETE, encodeDeleteRequest(stolenCert))).rejects.toMatchObject({ name: 'BadDeleteRequestError' })
    await expect(nodes[3]!.mailboxDelete(stolenCert)).rejects.toThrow(named('BadDeleteRequestError'))
    expect(target.getLocalMailbox(box).some((i) => i.hash === hash)).toBe(true)

    const byBob = signDeleteRequest({ mailbox: box, items: [hash], deviceCert: bob.cert, deviceSecretKey: bob.key.secretKey })
    const result = await nodes[5]!.mailboxDelete(byBob)
    expect(result.deleted).toBeGreaterThanOrEqual(1)
    expect(holders(nodes, box, hash)).toEqual([])
    expect((await nodes[6]!.mailboxFetch(box, fetchAuth(bob, box))).some((i) => i.hash === hash)).toBe(false)
    // Deposited again (a replay, or another node's re-store): refused, as its tombstone says.
    await expect(send(RPC_MAILBOX_PUT, deposit(box, envelope))).rejects.toMatchObject({ name: 'MailboxReplayError' })
  })
})

describe('a mailbox item outlives its sender and the nodes that first stored it', () => {
  const nodes: DiscoveryNode[] = []

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('A sends to B while B is offline; A stops for good; the storing nodes are replaced, half then all; B starts later and has the message', async () => {
    await startNetwork(10, { replication: 4, mailboxMaintenanceMs: 300 }, nodes, 9)
    const [alice, bob] = await Promise.all([mailDevice(), mailDevice()])
    const envelope = await sealTo(alice, [bob], { id: 'while-you-were-out' })
    const hash = itemHash(envelope)
    const box = boxOf(bob)
    const aNode = nodes[9] as DiscoveryNode
    await aNode.mailboxPut(box, envelope)
    await aNode.stop()

    const bootstrapFrom = (n: DiscoveryNode[]) => [n.find((x) => x.isStarted && !x.getLocalMailbox(box).length)?.multiaddrs()[0] as string]
    const original = holders(nodes, box, hash)
    expect(original.length).toBeGreaterThanOrEqual(2)
    console.info(`[mailbox-network] held by ${original.length} nodes at first`)
    const replace = async (gone: DiscoveryNode[]) => {
      const bootstrap = bootstrapFrom(nodes)
      await Promise.all(gone.map((n) => n.stop()))
      const fresh = await Promise.all(gone.map(() => createDiscoveryNode({ replication: 4, mailboxMaintenanceMs: 300, bootstrap })))
      nodes.push(...fresh)
      await waitFor(() => fresh.every((n) => n.stats().routingTableSize >= 3), 60_000, 'new nodes to join')
    }
    // Half of the nodes that stored it go (at least all but 3: the put may have reached more than the 4 closest, and
    // 4 survivors could be the 4 closest, leaving maintenance nobody new to give it to), as many new ones join.
    const first = Math.min(original.length - 1, Math.max(Math.ceil(original.length / 2), original.length - 3))
    await replace(original.slice(0, first))
    // Maintenance: the survivors re-store it on the mailbox's current closest nodes.
    await waitFor(() => holders(nodes, box, hash).some((n) => !original.includes(n)), 60_000, 'a node that did not hold it to get it by maintenance')
    // Then the rest of the first holders go too: only maintenance can have kept it.
    await replace(original.slice(first))
    expect(holders(nodes, box, hash).every((n) => !original.includes(n))).toBe(true)

    const bNode = await createDiscoveryNode({ replication: 4, bootstrap: bootstrapFrom(nodes) })
    nodes.push(bNode)
    await waitFor(() => bNode.stats().routingTableSize >= 3, 60_000, 'B to join')
    let items = await bNode.mailboxFetch(box, fetchAuth(bob, box))
    // B's table may still be filling: a bounded retry, not a sleep.
    for (let i = 0; i < 10 && !items.some((x) => x.hash === hash); i++) {
      await new Promise((r) => setTimeout(r, 500))
      items = await bNode.mailboxFetch(box, fetchAuth(bob, box))
    }
    expect(items.map((i) => i.hash)).toContain(hash)
    expect(items.find((i) => i.hash === hash)).toMatchObject({ senderDevice: alice.deviceId, envelopeId: 'while-you-were-out' })
  }, 300_000)
})
