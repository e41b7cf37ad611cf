import { type ActorService, type Bus, transportInfo } from '@baran/bus'
import type { Cleanup } from '@baran/testkit'
import { generateKeyPair, idFromPublicKey, type KeyPair, type SignedRecord, signRecord } from '@baran/trust'
import type { RevocationsBody } from '@baran/trust'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createDiscoveryNode, type DiscoveryNode, type DiscoveryNodeInit } from '../src/index.ts'
import type { DeviceListBundle, PresenceBundle } from '../src/index.ts'
import { kadInternals } from '../src/lib/kad-internals.ts'

/** An account key and its ID. */
export interface TestAccount {
  keys: KeyPair
  accountId: string
}

/** A device key, its ID and its certificate from the account. */
export interface TestDevice {
  account: TestAccount
  keys: KeyPair
  deviceId: string
  name: string
}

const HOUR = 60 * 60 * 1000

export function makeAccount(): TestAccount {
  const keys = generateKeyPair()
  return { keys, accountId: idFromPublicKey(keys.publicKey) }
}

export function makeDevice(account: TestAccount, name = 'laptop'): TestDevice {
  const keys = generateKeyPair()
  return { account, keys, deviceId: idFromPublicKey(keys.publicKey), name }
}

/** Times of a record: issued at `now`, living `ttlMs`. */
interface Times {
  now?: number
  ttlMs?: number
}

export function revocationsRecord(account: TestAccount, deviceIds: string[], seq: number, t: Times = {}): SignedRecord<RevocationsBody> {
  const now = t.now ?? Date.now()
  return signRecord(
    {
      type: 'revocations',
      v: 1,
      seq,
      issuedAt: now,
      expiresAt: now + (t.ttlMs ?? HOUR),
      body: { accountId: account.accountId, devices: deviceIds.map((deviceId) => ({ deviceId, revokedAt: now })) },
    },
    account.keys.secretKey,
  )
}

/** A presence bundle signed the way the identity actor will sign it. */
export function presenceBundle(
  device: TestDevice,
  opts: Times & { seq?: number; peerId?: string; addrs?: string[]; revocations?: SignedRecord<RevocationsBody>; certTtlMs?: number } = {},
): PresenceBundle {
  const now = opts.now ?? Date.now()
  const { account } = device
  const peerId = opts.peerId ?? '12D3KooWTestPeer'
  const deviceCert = signRecord(
    {
      type: 'device-cert',
      v: 1,
      seq: 0,
      issuedAt: now,
      expiresAt: now + (opts.certTtlMs ?? 24 * HOUR),
      body: { accountId: account.accountId, deviceId: device.deviceId, deviceKey: device.keys.signer, name: device.name },
    },
    account.keys.secretKey,
  )
  const peerBinding = signRecord(
    {
      type: 'peer-binding',
      v: 1,
      seq: 0,
      issuedAt: now,
      expiresAt: now + 24 * HOUR,
      body: { accountId: account.accountId, deviceId: device.deviceId, peerId },
    },
    device.keys.secretKey,
  )
  const presence = signRecord(
    {
      type: 'presence',
      v: 1,
      seq: opts.seq ?? 1,
      issuedAt: now,
      expiresAt: now + (opts.ttlMs ?? HOUR),
      body: { accountId: account.accountId, deviceId: device.deviceId, peerId, addrs: opts.addrs ?? ['/ip4/127.0.0.1/tcp/4001'] },
    },
    device.keys.secretKey,
  )
  return { presence, deviceCert, peerBinding, ...(opts.revocations ? { revocations: opts.revocations } : {}) }
}

/** A device-list bundle signed by the account. */
export function deviceListBundle(
  account: TestAccount,
  devices: TestDevice[],
  opts: Times & { seq?: number; revocations?: SignedRecord<RevocationsBody> } = {},
): DeviceListBundle {
  const now = opts.now ?? Date.now()
  const deviceList = signRecord(
    {
      type: 'device-list',
      v: 1,
      seq: opts.seq ?? 1,
      issuedAt: now,
      expiresAt: now + (opts.ttlMs ?? HOUR),
      body: {
        accountId: account.accountId,
        devices: devices.map((d) => ({ deviceId: d.deviceId, deviceKey: d.keys.signer, name: d.name })),
      },
    },
    account.keys.secretKey,
  )
  return { deviceList, ...(opts.revocations ? { revocations: opts.revocations } : {}) }
}

/** Poll until `cond` holds; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Start `n` nodes on 127.0.0.1: the first bootstraps itself, the others join it. Waits until
 * every routing table holds at least `minPeers` peers (up to `tablesTimeoutMs`). Pass the array to stopAll in afterAll.
 */
export async function startNetwork(
  n: number,
  init: DiscoveryNodeInit = {},
  nodes: DiscoveryNode[] = [],
  minPeers = Math.min(n - 1, 8),
  tablesTimeoutMs = 45_000,
): Promise<DiscoveryNode[]> {
  const first = await createDiscoveryNode(init)
  nodes.push(first)
  const bootstrap = [first.multiaddrs()[0] as string]
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => createDiscoveryNode({ ...init, bootstrap })))
  nodes.push(...rest)
  // Full tables asked for: Kademlia's own refresh fills them eventually, but on a loaded machine "eventually"
  // outlasts any budget. Connect the nodes to each other (kad-dht adds a peer to its table once identify shows the
  // DHT protocol). Partial tables stay the DHT's own doing, so lookups still have to route.
  if (minPeers >= n - 1) await introduce(nodes)
  // On a loaded machine a connection's identify can time out, and kad-dht then never adds that peer (until its next
  // connection): reconnect the pairs still missing from a short table, every few seconds, until every table is full.
  await fillTables(nodes, nodes, minPeers, tablesTimeoutMs, 'routing tables to fill')
  return nodes
}

/**
 * Waits until each of `some` has every other node of `nodes` in its routing table. For a test whose claim needs two
 * nodes to agree on a key's closest peers, which partial tables do not promise.
 */
export async function completeTables(some: DiscoveryNode[], nodes: DiscoveryNode[], timeoutMs = 60_000): Promise<void> {
  await fillTables(some, nodes, nodes.length - 1, timeoutMs, 'complete routing tables')
}

/** Waits until each of `some` holds `want` peers of `nodes`, reintroducing those missing from a short table every 3 s. */
async function fillTables(some: DiscoveryNode[], nodes: DiscoveryNode[], want: number, timeoutMs: number, what: string): Promise<void> {
  let repaired = Date.now()
  await waitFor(
    async () => {
      const short = some.filter((node) => node.stats().routingTableSize < want)
      if (short.length === 0) return true
      if (Date.now() - repaired > 3000) {
        repaired = Date.now()
        await reintroduce(short, nodes, want)
      }
      return false
    },
    timeoutMs,
    what,
  )
}

/**
 * For each short node whose routing table lacks other nodes: hang up on as many of them as it is short of (if
 * connected) and dial them again, all at once. One by one, a dial that waits out its 10 s on a loaded machine held
 * up the rest: at load ~14 a 20-node network's tables were still short after 90 s.
 */
async function reintroduce(short: DiscoveryNode[], nodes: DiscoveryNode[], want: number): Promise<void> {
  await Promise.all(
    short.map(async (a) => {
      const table = new Set(kadInternals(a.libp2p.services.dht).routingTable.closestPeers(new Uint8Array(32), { count: 1000 }).map((p) => p.toString()))
      // a random few: a peer that keeps failing is not the one retried every time
      const missing = nodes
        .filter((b) => b !== a && !table.has(b.peerId))
        .sort(() => Math.random() - 0.5)
        .slice(0, Math.max(0, want - a.stats().routingTableSize))
      await Promise.all(
        missing.map(async (b) => {
          await a.libp2p.hangUp(peerIdFromString(b.peerId)).catch(() => undefined)
          await a.libp2p.dial(multiaddr(b.multiaddrs()[0] as string), { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
        }),
      )
    }),
  )
}

/** Dial every node from every other one, a few dials at a time (a dial that fails is left to the DHT's refresh). */
async function introduce(nodes: DiscoveryNode[]): Promise<void> {
  const pairs = nodes.flatMap((a, i) => nodes.slice(i + 1).map((b) => [a, b] as const))
  const next = pairs[Symbol.iterator]()
  const worker = async (): Promise<void> => {
    for (const [a, b] of next) {
      await a.libp2p.dial(multiaddr(b.multiaddrs()[0] as string), { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

/** Stop every node, even if some fail to stop. */
export async function stopAll(nodes: DiscoveryNode[]): Promise<void> {
  await Promise.allSettled(nodes.map((n) => n.stop()))
  nodes.length = 0
}

/**
 * Stand-ins for the actors discovery asks (on a test's own nats-server): identity, which the caller gives its
 * handlers, and transport, which answers its info; both drained by the cleanup.
 */
export async function serviceStandIns(bus: Bus, cleanup: Cleanup): Promise<{ identity: ActorService }> {
  const identity = await bus.service({ name: 'identity', version: '0.0.0' })
  const transport = await bus.service({ name: 'transport', version: '0.0.0' })
  transport.serve(transportInfo, () => ({ peerId: '12D3KooWTestPeer', addrs: ['/ip4/127.0.0.1/tcp/4001'], relayAddrs: [], connections: [] }))
  cleanup.add('stop stand-ins', async () => {
    await identity.drain(1000)
    await transport.drain(1000)
  })
  return { identity }
}
