/**
 * serveDiscovery, through the DHT actor, inline on a real nats-server and real DHT nodes over loopback. Identity and
 * transport are STAND-INS on the bus (identity signs with test keys, as the identity actor would), so this package
 * needs no other actor. What is tested here is the publishing core: the actor publishes presence and the account's
 * device list at start and republishes both when its routing table has grown. The whole contract, for both
 * implementations, is the discovery conformance suite (apps/node/test/conformance.test.ts).
 */
import { BusError, discoveryInfo, discoveryLookup, discoveryPublished, healthContractOf, identityDevices, identityDevicesChanged, identitySignPresence } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createDiscoveryNode, DEFAULT_GET_QUORUM, DEFAULT_REPLICATION, type DiscoveryNode, deviceListKey, discoveryActor, presenceKey, verifyPresenceBundle } from '../src/index.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { deviceListBundle, makeAccount, makeDevice, presenceBundle, revocationsRecord, serviceStandIns, startNetwork, stopAll, waitFor } from './helpers.ts'

const cleanup = new Cleanup()
const net: DiscoveryNode[] = []
// Stopping the nodes and the nats-server outlasted vitest's 30 s at load ~10 (a fresh-clone run beside busy loops).
afterAll(async () => {
  await cleanup.run()
  await stopAll(net)
}, 120_000)

/** The `count` nodes closest to a key, by Kademlia (XOR of sha256) distance. */
function closestTo(key: string, among: DiscoveryNode[], count: number): DiscoveryNode[] {
  const target = createHash('sha256').update(keyBytes(key)).digest()
  const distance = (n: DiscoveryNode) =>
    Buffer.from(createHash('sha256').update(n.libp2p.peerId.toMultihash().bytes).digest().map((b, i) => b ^ (target[i] as number)))
  return among
    .map((n) => ({ n, d: distance(n) }))
    .sort((a, b) => Buffer.compare(a.d, b.d))
    .slice(0, count)
    .map((x) => x.n)
}

describe('serveDiscovery (DHT actor)', () => {
  it('publishes presence and device list, and both again once the routing table has grown', async () => {
    await startNetwork(3, {}, net, 2)
    const first = [...net]
    const nats = await setupNats({ cleanup, node: 'n1' })

    // Stand-in identity: one account, this device; every signPresence is a new seq. Stand-in transport: its info.
    const account = makeAccount()
    const device = makeDevice(account, 'phone')
    const revocations = revocationsRecord(account, [], 1)
    const list = deviceListBundle(account, [device])
    let seq = 0
    const { identity } = await serviceStandIns(nats.bus, cleanup)
    identity.serve(identitySignPresence, ({ peerId, addrs, ttlMs }) => presenceBundle(device, { seq: ++seq, peerId, addrs, ttlMs: ttlMs ?? 3600_000, revocations }) as never)
    identity.serve(
      identityDevices,
      () =>
        ({
          devices: [{ deviceId: device.deviceId, deviceKey: device.keys.signer, name: device.name, current: true }],
          revoked: [],
          deviceList: list.deviceList,
          revocations,
        }) as never,
    )

    const published: number[] = []
    const sub = await nats.bus.subscribe(discoveryPublished, (e) => {
      published.push(e.seq)
    })
    cleanup.add('unsubscribe', () => sub.unsubscribe())
    const bootstrap = [(net[0] as DiscoveryNode).multiaddrs()[0] as string]
    // Presence lives an hour: the refresh (30 min) cannot be what republishes here.
    await runInline(discoveryActor, { cleanup, node: 'n1', url: nats.url, dataDir: await tempDir(cleanup), config: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } })
    await waitFor(() => published.length >= 1, 20_000, 'the first publish')
    // What was published so far went to the first 4 nodes (a growth republish may be pending from this node's own join).
    const seqBeforeJoin = Math.max(...published)

    for (const node of await Promise.all(Array.from({ length: 17 }, () => createDiscoveryNode({ bootstrap })))) net.push(node)
    await waitFor(() => Math.max(...published) > seqBeforeJoin, 60_000, 'the republish on growth')
    expect((await nats.bus.request(discoveryInfo, {})).routingTableSize).toBeGreaterThan(3)

    // Both records reach the nodes now closest to their keys, new ones among them (not necessarily every one: see
    // the same test of PresencePublisher). The actor's own node may be one of the closest and keeps its copy itself:
    // the replication - 1 closest of the others are the ones asked in any case.
    const reached = (key: string, holds: (n: DiscoveryNode) => boolean) => {
      const holders = closestTo(key, net, DEFAULT_REPLICATION - 1).filter(holds)
      return holders.length >= DEFAULT_GET_QUORUM && holders.some((n) => !first.includes(n))
    }
    const presenceAt = presenceKey(device.deviceId)
    const seqAt = (n: DiscoveryNode) => {
      const bytes = n.getLocalRecord(presenceAt)
      return bytes ? verifyPresenceBundle(bytes).seq : 0
    }
    // 60 s: the growth republishes come as the table fills (each after 2 s of quiet, 10 s apart at least), and at
    // load ~10 the 17 joins and the lookups took long enough that 30 s missed the last one once.
    await waitFor(() => reached(presenceAt, (n) => seqAt(n) > seqBeforeJoin), 60_000, 'the republished presence on the closest nodes')
    const listAt = deviceListKey(account.accountId)
    await waitFor(() => reached(listAt, (n) => n.getLocalRecord(listAt) !== undefined), 30_000, 'the device list on the closest nodes')
  }, 210_000)

  it('a device list that changes while a publish runs is published right after it (not at the next refresh)', async () => {
    const nats = await setupNats({ cleanup, node: 'n1' })
    const account = makeAccount()
    const device = makeDevice(account, 'phone')
    const tablet = makeDevice(account, 'tablet')
    const revocations = revocationsRecord(account, [], 1)
    let current = { devices: [device], list: deviceListBundle(account, [device], { seq: 1 }) }
    // Stand-in identity: its first device-list answer waits until the test lets it go (the publish is then in flight).
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    let listAsked = 0
    let seq = 0
    const { identity } = await serviceStandIns(nats.bus, cleanup)
    // Runs before the stand-ins stop (cleanup goes in reverse): a held answer must not outlive them.
    cleanup.add('let the held device-list answer go', () => release())
    identity.serve(identitySignPresence, ({ peerId, addrs, ttlMs }) => presenceBundle(device, { seq: ++seq, peerId, addrs, ttlMs: ttlMs ?? 3600_000, revocations }) as never)
    identity.serve(identityDevices, async () => {
      const held = current
      if (++listAsked === 1) await gate
      return {
        devices: held.devices.map((d) => ({ deviceId: d.deviceId, deviceKey: d.keys.signer, name: d.name, current: d === device })),
        revoked: [],
        deviceList: held.list.deviceList,
        revocations,
      } as never
    })
    await runInline(discoveryActor, { cleanup, node: 'n1', url: nats.url, dataDir: await tempDir(cleanup), config: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] } })
    await waitFor(() => listAsked === 1, 20_000, 'the first publish to ask for the device list')
    // While it waits, identity merges another device in (seq 2) and says so; the running publish read seq 1.
    current = { devices: [device, tablet], list: deviceListBundle(account, [device, tablet], { seq: 2 }) }
    nats.bus.publish(identityDevicesChanged, { accountId: account.accountId, seq: 2, revocationsSeq: 1, reason: 'merged' })
    // The event handled before the running publish ends: a request sent after it on the same connection is answered
    // after the actor took the event (NATS keeps one publisher's order), and the publish it asks for (a 0 ms timer)
    // is queued before that answer's round trip ends. A fixed sleep here failed on a loaded machine.
    await nats.bus.request(healthContractOf('discovery'), {})
    release()
    const seqHeld = async () => (await nats.bus.request(discoveryLookup, { accountId: account.accountId }).catch(() => undefined))?.deviceList?.seq
    await waitFor(async () => (await seqHeld()) === 2, 20_000, 'device list #2 published')
    expect(listAsked).toBeGreaterThanOrEqual(2)
  }, 60_000)

  it('retries a failed publish with back-off (250 ms, 500 ms…), and publishes once identity can sign', async () => {
    const nats = await setupNats({ cleanup, node: 'n1' })
    const account = makeAccount()
    const device = makeDevice(account, 'phone')
    const revocations = revocationsRecord(account, [], 1)
    const list = deviceListBundle(account, [device])
    // Stand-in identity without an account at first: every signPresence fails (and is timed).
    const asked: number[] = []
    let canSign = false
    const { identity } = await serviceStandIns(nats.bus, cleanup)
    identity.serve(identitySignPresence, ({ peerId, addrs, ttlMs }) => {
      asked.push(performance.now())
      if (!canSign) throw new BusError('no_account', 'no account yet')
      return presenceBundle(device, { seq: asked.length, peerId, addrs, ttlMs: ttlMs ?? 3600_000, revocations }) as never
    })
    identity.serve(
      identityDevices,
      () =>
        ({
          devices: [{ deviceId: device.deviceId, deviceKey: device.keys.signer, name: device.name, current: true }],
          revoked: [],
          deviceList: list.deviceList,
          revocations,
        }) as never,
    )
    const published: number[] = []
    const sub = await nats.bus.subscribe(discoveryPublished, (e) => void published.push(e.seq))
    cleanup.add('unsubscribe the retry test', () => sub.unsubscribe())

    await runInline(discoveryActor, { cleanup, node: 'n1', url: nats.url, dataDir: await tempDir(cleanup), config: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] } })
    await waitFor(() => asked.length >= 3, 20_000, 'three publish attempts')
    // The first attempt at once, then 250 ms and 500 ms later at the earliest (a busy machine only adds to it).
    const [first, second, third] = asked as [number, number, number]
    expect(second - first).toBeGreaterThanOrEqual(240)
    expect(third - second).toBeGreaterThanOrEqual(490)
    canSign = true
    await waitFor(() => published.length >= 1, 20_000, 'the publish once identity signs')
  }, 60_000)
})
