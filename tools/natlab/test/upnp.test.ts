/**
 * UPnP for real: home routers run Debian's miniupnpd (a real UPnP IGD) on a lab whose public
 * network counts as public to libp2p and miniupnpd (ROUTABLE_NET, never routed beyond the lab).
 * Real lab peers (transport host processes, UPnP on as by default) behind two routers and the real
 * `baran relay` (which serves AutoNAT dial-backs): a message A → B is delivered and the connection
 * kind is asserted — direct over TCP to the mapped port when a symmetric router runs UPnP, relayed
 * for symmetric ↔ symmetric without it; behind a carrier-grade NAT the IGD's outside address is
 * private and the node maps nothing and says why. The mapping is gone from the router after the
 * node stops. Needs root (network namespaces); skipped with the reason where they cannot be made.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  canCreateNamespaces,
  createNatLab,
  type LabHost,
  type LabNats,
  type NatLab,
  runUpnpTrial,
  startLabHost,
  startLabRelay,
  startPair,
  TRANSPORT_HOST_SCRIPT,
  type UpnpPeerStatus,
  upnpStatusOf,
  waitForUpnp,
} from '../src/index.ts'

const check = await canCreateNamespaces()
if (!check.ok) console.warn(`[natlab] UPnP test skipped: ${check.reason}`)

function labWith(nats: LabNats) {
  const ctx = {} as { lab: NatLab; relay: LabHost & { addr: string }; dir: string }
  beforeAll(async () => {
    ctx.dir = await mkdtemp(join(tmpdir(), 'natlab-relay-'))
    ctx.lab = await createNatLab({ nats, publicNet: 'routable' })
    ctx.relay = await startLabRelay(ctx.lab, ctx.dir)
  }, 120_000)
  afterAll(async () => {
    await ctx.lab?.teardown()
    await rm(ctx.dir, { recursive: true, force: true })
  }, 30_000)
  return ctx
}

/** The port mappings miniupnpd holds on a router (its DNAT rules). */
async function mappingsOn(lab: NatLab, router: 'nat1' | 'nat2'): Promise<string[]> {
  const { stdout } = await lab.exec(router, 'nft', ['list', 'chain', 'inet', lab.names.table, 'upnp_prerouting'])
  return stdout.split('\n').filter((l) => l.includes('dnat'))
}

describe.skipIf(!check.ok)(`UPnP through lab routers (miniupnpd)${check.ok ? '' : ` (skipped: ${check.reason})`}`, () => {
  describe('symmetric ↔ symmetric with UPnP on B’s router: A dials B’s mapped port', () => {
    const ctx = labWith({ nat1: 'symmetric', nat2: 'symmetric', upnp: { nat2: true } })
    test('B maps its listen port (1 h lease); A → B is delivered; the mapping is removed when B stops', async () => {
      const trial = await runUpnpTrial(ctx.lab, ctx.relay.addr)
      console.info(`[natlab] upnp sym ↔ sym(UPnP): ${trial.kind}, verified ${JSON.stringify(trial.verifiedMs)} ms, direct at ${trial.directMs} ms, ${JSON.stringify(trial.directConnections)}`)
      const b = trial.upnp.b!
      expect(b).toMatchObject({ state: 'mapped', externalAddr: `/ip4/${ctx.lab.addresses.nat2.wan}/tcp/4001` })
      expect(b.leaseSeconds).toBeGreaterThanOrEqual(3600)
      // A's router has no IGD: it searched, found none, and did nothing else
      expect(trial.upnp.a).toMatchObject({ state: 'no-gateway' })
      expect(trial.delivered).toBe(10)
      expect(await mappingsOn(ctx.lab, 'nat2')).toEqual([])
    }, 240_000)

    test('… B’s mapping is verified and announced, and A dials it directly over TCP', async () => {
      const trial = await runUpnpTrial(ctx.lab, ctx.relay.addr)
      expect(trial.upnp.b).toMatchObject({ state: 'mapped', verified: true })
      expect(trial.kind).toBe('direct')
      expect(trial.directConnections).toContainEqual({ side: 'a', remoteAddr: expect.stringMatching(new RegExp(`^/ip4/${ctx.lab.addresses.nat2.wan.replaceAll('.', '\\.')}/tcp/4001/`)), path: 'tcp' })
    }, 240_000)

    test('a router that lost the mapping (its DNAT rule gone): the re-check finds it, unannounces it, maps again, verified again', async () => {
      const { a, b } = await startPair(ctx.lab, ctx.relay.addr, ['--upnp-recheck-ms', '2000'])
      try {
        // A dial-back through the relay can take more than a minute on a busy machine.
        expect(await waitForUpnp(b, 120_000)).toMatchObject({ state: 'mapped', verified: true })
        const external = `/ip4/${ctx.lab.addresses.nat2.wan}/tcp/4001`
        expect((await upnpStatusOf(b)).addrs.some((x) => x.startsWith(external))).toBe(true)
        // The router forgets it (as after a reboot): new connections to the port no longer reach B.
        expect(await mappingsOn(ctx.lab, 'nat2')).toHaveLength(1)
        await ctx.lab.exec('nat2', 'nft', ['flush', 'chain', 'inet', ctx.lab.names.table, 'upnp_prerouting'])
        expect(await mappingsOn(ctx.lab, 'nat2')).toEqual([])
        // Three refuted dial-backs later (2 s apart, then 4 s) B maps it again; the new mapping is verified like the first.
        const deadline = Date.now() + 120_000
        let st: UpnpPeerStatus = { state: 'unknown' }
        while (Date.now() < deadline) {
          st = (await upnpStatusOf(b)).status ?? st
          if ((st.remapped ?? 0) >= 1 && st.state === 'mapped' && st.verified === true) break
          await new Promise((r) => setTimeout(r, 250))
        }
        expect(st).toMatchObject({ state: 'mapped', verified: true, remapped: 1, externalAddr: external })
        expect(await mappingsOn(ctx.lab, 'nat2')).toHaveLength(1)
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
      expect(await mappingsOn(ctx.lab, 'nat2')).toEqual([])
    }, 300_000)

    test('a host listening on a public address starts (libp2p leaves it out of getMultiaddrs until verified)', async () => {
      const host = await startLabHost(ctx.lab, 'relay', TRANSPORT_HOST_SCRIPT, ['--listen', `/ip4/${ctx.lab.addresses.relay}/tcp/4010`], { readyTimeoutMs: 60_000 })
      try {
        expect(host.peerId).toMatch(/^12D3KooW/)
      } finally {
        await host.stop()
      }
    }, 90_000)

    // Last in this lab: it stops the relay.
    test('a re-check that nobody can make (A gone, the relay gone: no peer to dial it back) keeps the mapping, announced', async () => {
      const { a, b } = await startPair(ctx.lab, ctx.relay.addr, ['--upnp-recheck-ms', '2000'])
      try {
        // A dial-back through the relay can take more than a minute on a busy machine.
        expect(await waitForUpnp(b, 120_000)).toMatchObject({ state: 'mapped', verified: true })
        await a.stop()
        await ctx.relay.stop()
        const gone = Date.now()
        // Two re-checks after both left, each with nobody to ask.
        const unknownAfter = async (t: number) => {
          const deadline = Date.now() + 60_000
          while (Date.now() < deadline) {
            const st = (await upnpStatusOf(b)).status
            if (st?.lastCheck?.outcome === 'unknown' && st.lastCheck.at > t) return st
            await new Promise((r) => setTimeout(r, 250))
          }
          throw new Error(`no unknown re-check after ${new Date(t).toISOString()}: ${JSON.stringify((await upnpStatusOf(b)).status)}`)
        }
        const first = await unknownAfter(gone)
        const second = await unknownAfter(first.lastCheck!.at)
        expect(second).toMatchObject({ state: 'mapped', verified: true })
        expect(second.remapped ?? 0).toBe(0)
        const external = `/ip4/${ctx.lab.addresses.nat2.wan}/tcp/4001`
        expect((await upnpStatusOf(b)).addrs.some((x) => x.startsWith(external))).toBe(true)
        expect(await mappingsOn(ctx.lab, 'nat2')).toHaveLength(1)
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    }, 360_000)
  })

  describe('symmetric with UPnP ↔ symmetric: B dials A’s mapped port (DCUtR after the relayed first contact)', () => {
    const ctx = labWith({ nat1: 'symmetric', nat2: 'symmetric', upnp: { nat1: true } })
    test('A maps its listen port on its router and A → B is delivered', async () => {
      const trial = await runUpnpTrial(ctx.lab, ctx.relay.addr)
      console.info(`[natlab] upnp sym(UPnP) ↔ sym: ${trial.kind}, verified ${JSON.stringify(trial.verifiedMs)} ms, direct at ${trial.directMs} ms, ${JSON.stringify(trial.directConnections)}`)
      expect(trial.upnp.a).toMatchObject({ state: 'mapped', externalAddr: `/ip4/${ctx.lab.addresses.nat1.wan}/tcp/4001` })
      expect(trial.delivered).toBe(10)
    }, 240_000)

    test('… and the pair reaches a direct TCP connection to A’s verified mapped port', async () => {
      const trial = await runUpnpTrial(ctx.lab, ctx.relay.addr)
      expect(trial.upnp.a).toMatchObject({ state: 'mapped', verified: true, externalAddr: `/ip4/${ctx.lab.addresses.nat1.wan}/tcp/4001` })
      expect(trial.kind).toBe('direct')
      expect(trial.directConnections.some((c) => c.side === 'b' && c.remoteAddr.startsWith(`/ip4/${ctx.lab.addresses.nat1.wan}/tcp/4001/`))).toBe(true)
    }, 240_000)
  })

  describe('symmetric ↔ symmetric without UPnP', () => {
    const ctx = labWith({ nat1: 'symmetric', nat2: 'symmetric' })
    // WebRTC off: what TCP and UPnP reach alone (webrtc.test.ts has this pair with WebRTC on TEST-NET,
    // relayed; on this routable network a WebRTC connection opens and dies, see the README)
    test('A → B is delivered, relayed (no mapping anywhere: both report no gateway)', async () => {
      const trial = await runUpnpTrial(ctx.lab, ctx.relay.addr, { directTimeoutMs: 15_000, peerArgs: ['--no-webrtc'] })
      console.info(`[natlab] upnp sym ↔ sym (no UPnP): ${trial.kind}`)
      expect(trial.delivered).toBe(10)
      expect(trial.kind).toBe('relayed')
      expect(trial.upnp.a).toMatchObject({ state: 'no-gateway' })
      expect(trial.upnp.b).toMatchObject({ state: 'no-gateway' })
    }, 240_000)
  })

  describe('carrier-grade NAT: B’s router runs UPnP but its own outside address is 100.64.0.2', () => {
    const ctx = labWith({ cgnat: true, upnp: { nat2: true } })
    test('B maps nothing and reports why; A → B still arrives', async () => {
      const trial = await runUpnpTrial(ctx.lab, ctx.relay.addr, { directTimeoutMs: 5_000 })
      console.info(`[natlab] upnp behind CGNAT: ${trial.kind}, B ${JSON.stringify(trial.upnp.b)}`)
      expect(trial.upnp.b).toMatchObject({ state: 'unusable', gateway: `${ctx.lab.addresses.nat2.lan}:5000` })
      // miniupnpd does not hand out its private outside address (100.64.0.2): it reports none
      expect(trial.upnp.b?.reason).toContain('carrier-grade')
      expect(await mappingsOn(ctx.lab, 'nat2')).toEqual([])
      expect(trial.delivered).toBe(10)
    }, 240_000)
  })
})
