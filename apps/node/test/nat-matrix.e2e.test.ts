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
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accountOf, cliIn, type LanNode, statusOf, transportPeerOf, waitForMessage } from './lan-lab.ts'
import { labNode, restartTransport, upgradesTo } from './nat-nodes.ts'

const check = await canCreateNamespaces()
if (!check.ok) console.warn(`[nat-matrix] skipped: ${check.reason}`)
const cleanup = new Cleanup()
afterAll(() => cleanup.run(), 60_000)

// One trial per pair keeps the suite in its time budget; the bench (natlab/bench/webrtc) repeats them.
const TRIALS = Math.max(1, Number(process.env.BARAN_NAT_MATRIX_TRIALS ?? 1) || 1)
const PAIRS: Array<[NatType, NatType]> = NAT_TYPES.flatMap((x, i) => NAT_TYPES.slice(i).map((y): [NatType, NatType] => [x, y]))

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
    b = await labNode(cleanup, lab, 'b', relay)
    a = await labNode(cleanup, lab, 'a', relay)
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
        await restartTransport(cleanup, a)
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
