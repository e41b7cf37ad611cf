/**
 * The NAT-type matrix with full node processes: two `baran start` process trees (supervisor, nats-server, identity,
 * discovery, transport, outbox) in the NAT lab's two homes, the real `baran relay` (circuit relay, DHT bootstrap,
 * STUN) on its public network, nothing else configured. For every pair of router types (switched in place between
 * pairs) and one trial each (BARAN_NAT_MATRIX_TRIALS for more; A's transport killed and restarted by its supervisor, so every trial starts with no
 * connection between them), a message A → B is delivered and A's connection to B reaches the kind the pair allows (natlab
 * expectedKind(): direct through WebRTC/ICE unless a symmetric router meets one that is not full-cone; see
 * tools/natlab/README.md). Naming is left out (messages go to account IDs): it needs a chain and adds nothing here.
 * Needs root (network namespaces); skipped with the reason where they cannot be made.
 */
import { canCreateNamespaces, createNatLab, expectedKind, type LabHost, NAT_TYPES, type NatLab, type NatType, probeMapping, setRouterNat, startLabRelay } from '@baran/natlab'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { actorLog } from './helpers.ts'
import { accountOf, cliIn, type LanHost, type LanNode, startNodeIn, statusOf, transportPeerOf, waitForMessage } from './lan-lab.ts'

const check = await canCreateNamespaces()
if (!check.ok) console.warn(`[nat-matrix] skipped: ${check.reason}`)
const cleanup = new Cleanup()
afterAll(() => cleanup.run(), 60_000)

// One trial per pair keeps the suite in its time budget; the bench (natlab/bench/webrtc) repeats them.
const TRIALS = Math.max(1, Number(process.env.BARAN_NAT_MATRIX_TRIALS ?? 1) || 1)
// Behind their NATs the nodes use the DHT as clients: a DHT server nobody can dial only makes every lookup wait for
// it to time out (the relay's DHT node is the network's one server here).
const ACTORS = {
  identity: '@baran/identity',
  discovery: { module: '@baran/discovery', config: { clientMode: true } },
  transport: '@baran/transport',
  outbox: '@baran/outbox',
}
const PAIRS: Array<[NatType, NatType]> = NAT_TYPES.flatMap((x, i) => NAT_TYPES.slice(i).map((y): [NatType, NatType] => [x, y]))

/** A node in one of the lab's homes: its own BARAN_HOME, the relay for DHT bootstrap and circuit relay, no mDNS or UPnP. */
async function labNode(lab: NatLab, home: 'a' | 'b', relay: LabHost & { addr: string }): Promise<LanNode> {
  const dir = await tempDir(cleanup, `baran-nat-${home}-`)
  await mkdir(join(dir, 'default'), { recursive: true })
  // Every trial kills A's transport: more restarts in a minute than the supervisor's crash-loop guard allows by default.
  const supervisor = { restart: { initialMs: 100, maxMs: 1000, crashLoopCount: 100, crashLoopWindowMs: 60_000 } }
  await writeFile(join(dir, 'default', 'config.json'), JSON.stringify({ actors: ACTORS, supervisor }))
  const ready = relay.events.find((e) => e.event === 'ready') as { dht?: string[] } | undefined
  const dht = ready?.dht?.find((a) => a.includes(lab.addresses.relay))
  if (!dht) throw new Error(`the relay printed no DHT address: ${JSON.stringify(ready)}`)
  const host: LanHost = { ns: lab.namespaces[home], addr: lab.addresses[home] }
  return startNodeIn(cleanup, host, dir, {
    BARAN_DISCOVERY_BOOTSTRAP: dht,
    BARAN_TRANSPORT_RELAYS: relay.addr,
    BARAN_DISCOVERY_MDNS: 'false',
    BARAN_TRANSPORT_UPNP: 'false',
  })
}

/**
 * Kills the node's transport actor (SIGKILL) and waits until its supervisor runs a new one that is ready, as
 * `baran start` prints it (cheaper than asking `baran status` every second on a loaded machine).
 */
async function restartTransport(n: LanNode): Promise<void> {
  const pid = (await statusOf(cleanup, n)).actors.transport?.pid
  if (!pid) throw new Error(`no transport pid on ${n.host.addr}`)
  const from = n.proc.output.length
  process.kill(pid, 'SIGKILL')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the start command paints its lines
  const plain = (l: string) => l.replace(/\x1b\[[0-9;]*m/g, '')
  await waitUntil(() => n.proc.output.slice(from).some((l) => /^\s*transport\s+ready\s+pid (\d+)/.test(plain(l)) && !plain(l).includes(`pid ${pid} `)), {
    timeoutMs: 90_000,
    intervalMs: 200,
    what: `a new transport ready on ${n.host.addr}`,
  })
}

type Upgrade = { msg: string; peerId?: string; result?: string; ms?: number; attempt?: number; reason?: string; time?: string }

/** A's upgrade attempts towards `peer` logged after `since`. */
async function upgradesTo(n: LanNode, peer: string, since: number): Promise<Upgrade[]> {
  return ((await actorLog(n, 'transport')) as Upgrade[]).filter((l) => l.peerId === peer && typeof l.result === 'string' && Date.parse(l.time ?? '') >= since)
}

describe.skipIf(!check.ok)(`NAT-type matrix, full nodes${check.ok ? '' : ` (skipped: ${check.reason})`}`, () => {
  let lab: NatLab
  let relay: LabHost & { addr: string }
  let a: LanNode
  let b: LanNode
  let bob: string
  let bobPeer: string

  beforeAll(async () => {
    lab = await createNatLab()
    cleanup.add('remove the NAT lab', () => lab.teardown())
    relay = await startLabRelay(lab, await tempDir(cleanup, 'baran-nat-relay-'))
    // One after the other: two nodes starting at once on a busy 2-core machine can outlast the start budget.
    b = await labNode(lab, 'b', relay)
    a = await labNode(lab, 'a', relay)
    bob = await accountOf(cleanup, b)
    bobPeer = await transportPeerOf(b)
  }, 400_000)

  for (const [nat1, nat2] of PAIRS) {
    const want = expectedKind(nat1, nat2)
    it(`${nat1} ↔ ${nat2}: A → B delivered, connection ${want} (${TRIALS} trial${TRIALS > 1 ? 's' : ''})`, async () => {
      await setRouterNat(lab, 'nat1', nat1)
      await setRouterNat(lab, 'nat2', nat2)
      // the routers now behave as their types say
      const mapping = (t: NatType) => (t === 'symmetric' ? 'endpoint-dependent' : 'endpoint-independent')
      expect((await probeMapping(lab, 'a')).mapping).toBe(mapping(nat1))
      expect((await probeMapping(lab, 'b')).mapping).toBe(mapping(nat2))
      for (let trial = 1; trial <= TRIALS; trial++) {
        // A fresh start on A's side: its connections to B (relayed and direct) die with it; B keeps its relay slot.
        const t0 = Date.now()
        await restartTransport(a)
        const since = Date.now()
        const body = `${nat1}/${nat2} trial ${trial}`
        const sent = await cliIn(cleanup, a.host, ['send', bob, body], a.env)
        expect(sent.code, sent.out).toBe(0)
        await waitForMessage(cleanup, b, body)
        const delivered = Date.now()
        // The upgrade's outcome: direct at once, or every attempt failed (each is bounded by the transport).
        const outcome = await waitUntil(
          async () => {
            const ups = await upgradesTo(a, bobPeer, since)
            if (ups.some((u) => u.result === 'direct')) return ups
            return ups.filter((u) => u.result === 'failed').length >= 2 ? ups : undefined
          },
          { timeoutMs: 60_000, intervalMs: 1000, what: `the upgrade outcome of trial ${trial}` },
        )
        const toBob = (await statusOf(cleanup, a)).connections.list.filter((c) => c.peerId === bobPeer)
        const phases = `restart ${since - t0} ms, delivered ${delivered - since} ms, outcome ${Date.now() - delivered} ms`
        console.info(`[nat-matrix] ${nat1} ↔ ${nat2} trial ${trial} (${phases}): ${JSON.stringify(outcome.map((u) => [u.result, u.ms, u.reason]))}; ${JSON.stringify(toBob.map((c) => [c.kind, c.path]))}`)
        if (want === 'direct') {
          expect(outcome.find((u) => u.result === 'direct')).toBeDefined()
          // `baran status` names a direct connection that replaced a relayed one `upgraded`
          expect(toBob.some((c) => c.kind === 'upgraded' && c.path === 'webrtc')).toBe(true)
        } else {
          expect(outcome.every((u) => u.result === 'failed')).toBe(true)
          expect(toBob.length).toBeGreaterThan(0)
          expect(toBob.every((c) => c.kind === 'relayed' && c.path === 'circuit')).toBe(true)
        }
      }
    }, 600_000)
  }
})
