/**
 * The NAT-type matrix with UPnP, full node processes: one home router is symmetric and runs a real UPnP IGD (Debian's
 * miniupnpd), the other walks the NAT types (switched in place between pairs) with none; then the same with the IGD
 * on the other side. Both nodes start as a user's would, UPnP on (the default), with the lab's `baran relay` (DHT
 * bootstrap, circuit relay, STUN, dial-back) as their only configured peer, on a public network that libp2p and
 * miniupnpd count as public (natlab `ROUTABLE_NET`, never routed beyond the lab). The node behind the IGD maps its TCP
 * listen port, has the mapping verified by a dial-back and says so in `baran status`; the other says it found no
 * gateway. For every type of the other router a message A → B is delivered over a direct TCP connection to the mapped
 * port: what makes a pair with a symmetric router direct, where WebRTC alone stays relayed (nat-matrix.e2e.test.ts).
 * Needs root (network namespaces); skipped with the reason where they cannot be made.
 */
import { canCreateNamespaces, createNatLab, NAT_TYPES, type NatLab, probeMapping, setRouterNat, startLabRelay } from '@baran/natlab'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accountOf, cliIn, type LanNode, statusOf, transportPeerOf, waitForMessage } from './lan-lab.ts'
import { labNode, restartTransport } from './nat-nodes.ts'

const check = await canCreateNamespaces()
if (!check.ok) console.warn(`[nat-matrix-upnp] skipped: ${check.reason}`)

type Upnp = { state: string; externalAddr?: string; verified?: boolean; reason?: string }
const upnpOf = async (cleanup: Cleanup, n: LanNode) => (await statusOf(cleanup, n)).connections as unknown as { upnp?: Upnp }

/**
 * One lab: `mapper`'s router symmetric with an IGD, the other router walking the NAT types. The node that is not
 * behind the IGD must hold a direct TCP connection to the mapped port: A dials it from B's presence when B maps; B
 * dials it (DCUtR, after A's relayed first contact) when A maps.
 */
function matrixWithUpnp(mapper: 'a' | 'b') {
  const [mapperRouter, otherRouter] = mapper === 'a' ? (['nat1', 'nat2'] as const) : (['nat2', 'nat1'] as const)
  const other = mapper === 'a' ? 'b' : 'a'
  describe(`UPnP on ${mapper.toUpperCase()}'s router (symmetric), ${other.toUpperCase()}'s router of every type`, () => {
    const local = new Cleanup()
    afterAll(() => local.run(), 60_000)
    let lab: NatLab
    const nodes = {} as Record<'a' | 'b', LanNode>
    const peers = {} as Record<'a' | 'b', string>
    let bob: string
    let mapped: string

    beforeAll(async () => {
      lab = await createNatLab({ nats: { nat1: 'symmetric', nat2: 'symmetric', upnp: { [mapperRouter]: true } }, publicNet: 'routable' })
      local.add('remove the NAT lab', () => lab.teardown())
      const relay = await startLabRelay(lab, await tempDir(local, 'baran-nat-upnp-relay-'))
      local.add('stop the relay', () => relay.stop())
      // One after the other: two nodes starting at once on a busy 2-core machine can outlast the start budget.
      nodes.b = await labNode(local, lab, 'b', relay, { upnp: true })
      nodes.a = await labNode(local, lab, 'a', relay, { upnp: true })
      bob = await accountOf(local, nodes.b)
      peers.a = await transportPeerOf(nodes.a)
      peers.b = await transportPeerOf(nodes.b)
    }, 400_000)

    it(`${mapper.toUpperCase()}'s node maps its TCP port on the IGD, verified by a dial-back, and says so; ${other.toUpperCase()}'s finds no gateway`, async () => {
      const up = await waitUntil(
        async () => {
          const u = (await upnpOf(local, nodes[mapper])).upnp
          return u?.state === 'mapped' && u.verified === true ? u : undefined
        },
        { timeoutMs: 120_000, intervalMs: 1000, what: `the mapping of ${mapper.toUpperCase()} verified in \`baran status\`` },
      )
      const wan = lab.addresses[mapperRouter].wan
      expect(up.externalAddr).toMatch(new RegExp(`^/ip4/${wan.replaceAll('.', '\\.')}/tcp/\\d+$`))
      mapped = up.externalAddr!
      const none = await waitUntil(
        async () => {
          const u = (await upnpOf(local, nodes[other])).upnp
          return u && u.state !== 'searching' ? u : undefined
        },
        { timeoutMs: 60_000, intervalMs: 1000, what: `the UPnP search of ${other.toUpperCase()} ended` },
      )
      expect(none.state).toBe('no-gateway')
    }, 200_000)

    for (const type of NAT_TYPES) {
      const pair = mapper === 'a' ? `symmetric+UPnP ↔ ${type}` : `${type} ↔ symmetric+UPnP`
      it(`${pair}: A → B delivered; ${other.toUpperCase()} holds a direct TCP connection to the mapped port`, async () => {
        expect(mapped, 'the mapping (the test before)').toBeDefined()
        await setRouterNat(lab, otherRouter, type)
        expect((await probeMapping(lab, other)).mapping).toBe(type === 'symmetric' ? 'endpoint-dependent' : 'endpoint-independent')
        // A fresh start on A's side: its connections to B die with it.
        await restartTransport(local, nodes.a)
        const body = pair
        const sent = await cliIn(local, nodes.a.host, ['send', bob, body], nodes.a.env)
        expect(sent.code, sent.out).toBe(0)
        await waitForMessage(local, nodes.b, body)
        const toMapper = await waitUntil(
          async () => {
            const list = (await statusOf(local, nodes[other])).connections.list.filter((c) => c.peerId === peers[mapper])
            return list.some((c) => c.kind !== 'relayed' && c.path === 'tcp' && c.remoteAddr.startsWith(`${mapped}/`)) ? list : undefined
          },
          { timeoutMs: 60_000, intervalMs: 1000, what: `a direct TCP connection from ${other.toUpperCase()} to ${mapped}` },
        )
        console.info(`[nat-matrix-upnp] ${pair}: ${JSON.stringify(toMapper.map((c) => [c.kind, c.path, c.remoteAddr]))}`)
      }, 300_000)
    }
  })
}

describe.skipIf(!check.ok)(`NAT-type matrix with UPnP, full nodes${check.ok ? '' : ` (skipped: ${check.reason})`}`, () => {
  matrixWithUpnp('b')
  matrixWithUpnp('a')
})
