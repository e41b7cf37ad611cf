/**
 * Direct connections through home routers: real lab peers (transport host processes) behind two NAT
 * routers, the real `baran relay` (circuit relay + STUN) on the public network: behind a carrier-grade
 * NAT, and an upgrade mid-conversation. The NAT-type matrix runs with full node processes in
 * apps/node/test/nat-matrix.e2e.test.ts (3 trials per pair) and with lab peers in bench/webrtc.bench.ts
 * (20 per pair). Needs root (network namespaces); skipped with the reason where they cannot be made.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  ADDRESSES,
  canCreateNamespaces,
  createNatLab,
  type LabHost,
  type NatLab,
  type NatType,
  probeMapping,
  runPairTrial,
  sendFrom,
  startLabRelay,
  startPair,
  storedBy,
  upgradeOutcome,
} from '../src/index.ts'

const check = await canCreateNamespaces()
if (!check.ok) console.warn(`[natlab] WebRTC NAT-matrix test skipped: ${check.reason}`)

const TRIALS = 3

/** A lab with routers of the given types and `baran relay` in it, torn down after the suite. */
function labWith(nat1: NatType, nat2: NatType, cgnat = false) {
  const ctx = {} as { lab: NatLab; relay: LabHost & { addr: string; stun: string }; dir: string }
  beforeAll(async () => {
    ctx.dir = await mkdtemp(join(tmpdir(), 'natlab-relay-'))
    ctx.lab = await createNatLab({ nats: { nat1, nat2, cgnat } })
    ctx.relay = await startLabRelay(ctx.lab, ctx.dir)
  }, 120_000)
  afterAll(async () => {
    await ctx.lab?.teardown()
    await rm(ctx.dir, { recursive: true, force: true })
  }, 30_000)
  return ctx
}

describe.skipIf(!check.ok)(`WebRTC through NATs${check.ok ? '' : ` (skipped: ${check.reason})`}`, () => {
  // The matrix itself (every pair of router types, 3 trials each) runs with full node processes in
  // apps/node/test/nat-matrix.e2e.test.ts, and with lab peers in bench/webrtc.bench.ts (20 trials per pair).
  describe('carrier-grade NAT: home 2’s router sits behind a carrier NAT (100.64.0.0/10 on its outside)', () => {
    const ctx = labWith('port-restricted', 'port-restricted', true)

    test(`B is seen at the carrier's public address, and A → B still goes direct (${TRIALS} trials)`, async () => {
      const probe = await probeMapping(ctx.lab, 'b')
      expect(probe.external.every((x) => x.startsWith(`${ADDRESSES.cgn.wan}:`))).toBe(true)
      for (let i = 0; i < TRIALS; i++) {
        const trial = await runPairTrial(ctx.lab, ctx.relay.addr)
        console.info(`[natlab] CGNAT trial ${i + 1}: ${trial.kind}, upgrade ${trial.upgradeMs ?? '-'} ms`)
        expect(trial.delivered).toBe(10)
        expect(trial.kind).toBe('direct')
      }
    }, 400_000)
  })

  describe('an upgrade mid-conversation (port-restricted ↔ port-restricted)', () => {
    const ctx = labWith('port-restricted', 'port-restricted')

    test('200 messages sent while the connection moves relayed → direct arrive exactly once, in order; killing the relay then changes nothing', async () => {
      const { a, b } = await startPair(ctx.lab, ctx.relay.addr)
      try {
        // one at a time, every 10 ms, from the first (relayed) message on: the upgrade happens meanwhile
        const sent = await sendFrom(a, b, ctx.relay.addr, 200, 10)
        expect(sent).toHaveLength(200)
        const kinds = sent.map((s) => s.connection)
        expect(kinds[0]).toBe('relayed')
        expect(kinds.at(-1)).toBe('direct')
        // once moved, it stays moved
        expect(kinds.indexOf('direct')).toBe(kinds.lastIndexOf('relayed') + 1)
        const stored = await storedBy(b, a.peerId, sent.map((s) => s.id))
        expect(stored).toEqual(sent.map((s) => s.id))
        expect(a.events.filter((e) => e.event === 'upgrade' && e.result === 'direct')).toHaveLength(1)

        // the helper node goes away: the direct connection carries on
        await ctx.relay.stop()
        const after = await sendFrom(a, b, ctx.relay.addr, 20)
        expect(after.map((s) => s.connection)).toEqual(Array(20).fill('direct'))
        const all = await storedBy(b, a.peerId, [...sent, ...after].map((s) => s.id))
        expect(all).toEqual([...sent, ...after].map((s) => s.id))
        // and the upgrade was attempted once: no further WebRTC dials, nothing relayed
        expect(await upgradeOutcome(a, 0, 1, 10)).toHaveLength(1)
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    }, 240_000)
  })
})
