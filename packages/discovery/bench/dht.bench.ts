/**
 * Discovery DHT benchmark: 20 nodes in this process on 127.0.0.1, one operation at a time.
 * Prints one JSON line: put/get/lookup p50/p95, listen push latency, and where the time goes
 * (signature checks vs the network). Run from packages/discovery:
 *   npx node --conditions=@baran/source bench/dht.bench.ts [--nodes 20] [--iterations 30]
 * To compare another DHT later, add a scenario to `scenarios` (each returns ms samples).
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { randomBytes } from 'node:crypto'
import { generateKeyPair, signDetached, verifyDetached } from '@baran/trust'
import {
  createDiscoveryNode,
  type DiscoveryNode,
  encodeBundle,
  presenceKey,
  valueKey,
  verifyPresenceBundle,
  type WatchEvent,
} from '../src/index.ts'
import { makeAccount, makeDevice, presenceBundle, type TestDevice } from '../test/helpers.ts'
import { far, numberArg, samples, sleep, type Stats, stats, storingSet } from './lib.ts'

const NODES = numberArg('nodes', 20)
const ITER = numberArg('iterations', 30)
const REPLICATION = numberArg('replication', 8)
/** Pause after a put: its Kademlia lookup goes on in the background for ~100 ms. */
const PUT_GAP_MS = 250

async function main(): Promise<void> {
  const nodes: DiscoveryNode[] = []
  const out: Record<string, unknown> = {
    bench: 'discovery-dht',
    node: process.version,
    nodes: NODES,
    iterations: ITER,
    replication: REPLICATION,
  }
  const results: Record<string, Stats | undefined> = {}
  try {
    // --- setup
    const t0 = performance.now()
    const first = await createDiscoveryNode({ replication: REPLICATION })
    nodes.push(first)
    const bootstrap = [first.multiaddrs()[0] as string]
    nodes.push(...(await Promise.all(Array.from({ length: NODES - 1 }, () => createDiscoveryNode({ replication: REPLICATION, bootstrap })))))
    const started = performance.now() - t0
    for (let i = 0; i < 600 && !nodes.every((n) => n.stats().routingTableSize >= Math.min(NODES - 1, 8)); i++) await sleep(50)
    out.setup = {
      startMs: Math.round(started),
      tablesReadyMs: Math.round(performance.now() - t0),
      minRoutingTable: Math.min(...nodes.map((n) => n.stats().routingTableSize)),
    }
    // Joining nodes look themselves up for ~15 s: measure on a quiet network.
    const quietFrom = performance.now()
    for (let i = 0; i < 60; i++) {
      const c0 = process.cpuUsage()
      await sleep(500)
      const c = process.cpuUsage(c0)
      if ((c.user + c.system) / 1000 / 500 < 0.1) break
    }
    ;(out.setup as Record<string, number>).quietAfterMs = Math.round(performance.now() - quietFrom)

    // --- where time goes: signature checks through @baran/trust vs raw node:crypto
    const account = makeAccount()
    const devices: TestDevice[] = Array.from({ length: ITER }, () => makeDevice(account))
    const coldBundles = devices.map((d) => encodeBundle(presenceBundle(d)))
    results['verify.presenceBundle.cold'] = stats(await samples(ITER, (i) => verifyPresenceBundle(coldBundles[i] as Uint8Array)))
    const kp = generateKeyPair()
    const msg = randomBytes(400)
    const sig = signDetached(msg, kp.secretKey)
    results['verify.ed25519.trust'] = stats(await samples(ITER, () => verifyDetached(msg, sig, kp.publicKey)))
    const nk = generateKeyPairSync('ed25519')
    const nsig = sign(null, msg, nk.privateKey)
    results['verify.ed25519.nodeCrypto'] = stats(await samples(ITER, () => verify(null, msg, nk.publicKey, nsig)))

    // --- lookups (FIND_NODE walk, no records)
    results['lookup.closestPeers'] = stats(
      await samples(ITER, (i) => (nodes[i % NODES] as DiscoveryNode).closestPeers(presenceKey(devices[i]?.deviceId as string))),
    )

    // --- put: first publish of a device (storing nodes check 3 signatures)
    const publisher = nodes[1] as DiscoveryNode
    results['put.presence.first'] = stats(await samples(ITER, (i) => publisher.publishPresence(coldBundles[i] as Uint8Array), PUT_GAP_MS))
    // --- put: republish (same certificate and binding: storing nodes check 1 signature)
    const republish = devices.map((d) => encodeBundle(presenceBundle(d, { seq: 2 })))
    results['put.presence.republish'] = stats(await samples(ITER, (i) => publisher.publishPresence(republish[i] as Uint8Array), PUT_GAP_MS))
    // --- put: opaque value (no signatures: the network alone)
    const vkeys = Array.from({ length: ITER }, () => valueKey(randomBytes(20).toString('hex')))
    results['put.value'] = stats(await samples(ITER, (i) => publisher.putValue(vkeys[i] as string, randomBytes(256), { ttlMs: 600_000 }), PUT_GAP_MS))
    // --- put that also waits for the Kademlia lookup (what kad-dht's own put does)
    results['put.value.waitForLookup'] = stats(
      await samples(ITER, () => publisher.putValue(valueKey(randomBytes(20).toString('hex')), randomBytes(256), { ttlMs: 600_000, waitForLookup: true }), PUT_GAP_MS),
    )
    // --- one PUT RPC to one peer (value)
    const target = nodes[2] as DiscoveryNode
    const rpcKeys = Array.from({ length: ITER }, () => valueKey(randomBytes(20).toString('hex')))
    const { encodeValue, newDeleteToken } = await import('../src/lib/values.ts')
    const rpcValues = rpcKeys.map(() => encodeValue(randomBytes(256), { expiresAt: Date.now() + 600_000, deleteToken: newDeleteToken() }))
    results['rpc.putToOnePeer.value'] = stats(await samples(ITER, (i) => publisher.sendPut(target.peerId, rpcKeys[i] as string, rpcValues[i] as Uint8Array)))

    // --- get from a node that does not hold the record
    results['get.presence'] = stats(
      await samples(ITER, async (i) => {
        const d = devices[i] as TestDevice
        const reader = far(nodes, presenceKey(d.deviceId), publisher)
        const p = await reader.lookupPresence(d.deviceId)
        if (p?.seq !== 2) throw new Error('lookup returned a stale or no presence')
      }),
    )
    results['get.presence.quorum1'] = stats(
      await samples(ITER, (i) => far(nodes, presenceKey((devices[i] as TestDevice).deviceId), publisher).lookupPresence((devices[i] as TestDevice).deviceId, { quorum: 1 })),
    )
    results['get.value'] = stats(await samples(ITER, (i) => far(nodes, vkeys[i] as string, publisher).getValue(vkeys[i] as string)))
    results['get.missing'] = stats(await samples(Math.min(ITER, 10), (i) => (nodes[i % NODES] as DiscoveryNode).getValue(valueKey(randomBytes(20).toString('hex')))))

    // --- listen: watcher subscribed before the publish; latency from publish start to the push
    const pushFromStart: number[] = []
    const pushAfterPublish: number[] = []
    let viaOther = 0
    for (let i = 0; i < ITER; i++) {
      const d = makeDevice(account)
      const key = presenceKey(d.deviceId)
      const storing = storingSet(nodes, key, REPLICATION)
      const watcher = nodes.find((n, j) => j > 1 + (i % (NODES - 2)) && !storing.includes(n)) ?? nodes.find((n) => n !== publisher && !storing.includes(n))
      if (watcher === undefined) continue
      let arrived: ((e: WatchEvent) => void) | undefined
      const got = new Promise<WatchEvent & { at: number }>((resolve) => {
        arrived = (e) => resolve({ ...e, at: performance.now() })
      })
      const stop = watcher.watch(key, (e) => arrived?.(e), { requeryMinMs: 60_000, requeryMaxMs: 60_000 })
      // subscriptions in place (bounded wait)
      const subs = () => nodes.reduce((sum, n) => sum + n.stats().subscriptions, 0)
      for (let w = 0; w < 100 && subs() < REPLICATION; w++) await sleep(20)
      const bundle = encodeBundle(presenceBundle(d))
      const t = performance.now()
      await publisher.publishPresence(bundle)
      const done = performance.now()
      const e = await Promise.race([got, sleep(10_000).then(() => undefined)])
      stop()
      for (let w = 0; w < 100 && subs() > 0; w++) await sleep(20) // unsubscribed
      if (e === undefined) continue
      if (e.via !== 'push') viaOther++
      pushFromStart.push(e.at - t)
      pushAfterPublish.push(e.at - done)
    }
    results['listen.push.fromPublishStart'] = stats(pushFromStart)
    results['listen.push.afterPublishResolved'] = stats(pushAfterPublish)
    out.listenNotByPush = viaOther
    out.results = results
    out.notes = [
      'All nodes share one process (and the machine has 2 cores): every storing node checks signatures on the same thread, so put time grows with replication × signature cost.',
      'verify.*: @baran/trust verifies Ed25519 with node:crypto on Node (tweetnacl, ~5 ms per signature here, only in browsers): a whole presence bundle (3 signatures) costs well under 1 ms, so puts and gets are network-bound.',
      'put.* completes once the closest peers the routing table knows have answered over their rpc links (one round trip); a lookup (FIND over rpc; kad-dht\'s walk only when that cannot finish) follows in the background. put.value.waitForLookup also waits for it.',
      'put.value has no signatures: the network cost of a put alone. rpc.putToOnePeer.value: one PUT on a warm rpc link.',
      'get.* asks the closest known peers over rpc, just enough at once to make the quorum of 3 (quorum1: 1); get.missing then finds the closest peers over rpc and asks those it had not.',
    ]
  } finally {
    await Promise.allSettled(nodes.map((n) => n.stop()))
  }
  // One line: `npm run bench` (tools/bench/run.ts) keeps the last JSON line a bench prints.
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

await main()
