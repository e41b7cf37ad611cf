/**
 * The NAT-type matrix: for each pair of router types, N trials of A (home 1) → B (home 2) through
 * `baran relay`, and whether the transports upgrade the relayed connection to a direct one (WebRTC,
 * ICE over UDP, STUN on the relay). Prints one JSON object: per pair, the direct success ratio, the
 * time from A's first relayed message to the direct connection (p50/p95), and message RTT relayed
 * vs after the upgrade (p50).
 *
 *   npx node --conditions=@baran/source tools/natlab/bench/webrtc.bench.ts [--trials N] [--quick] [--pairs a:b,c:d]
 *
 * 20 trials per pair by default (the issue's ask), 3 with --quick. Needs root; without it prints {"skipped": reason}.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canCreateNamespaces, createNatLab, expectedKind, NAT_TYPES, type NatType, type PairTrial, runPairTrial, startLabRelay } from '../src/index.ts'

const argv = process.argv.slice(2)
const argOf = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const trials = Math.min(Math.max(1, Number(argOf('--trials') ?? (argv.includes('--quick') ? 3 : 20))), 100)
const allPairs: Array<[NatType, NatType]> = NAT_TYPES.flatMap((x, i) => NAT_TYPES.slice(i).map((y) => [x, y] as [NatType, NatType]))
const pairs = argOf('--pairs')?.split(',').map((p) => p.split(':') as [NatType, NatType]) ?? allPairs

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)

function quantiles(values: number[]) {
  const v = [...values].sort((x, y) => x - y)
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))]
  const r = (x: number | undefined) => (x === undefined ? null : Math.round(x * 10) / 10)
  return { n: v.length, p50: r(q(0.5)), p95: r(q(0.95)) }
}

const check = await canCreateNamespaces()
if (!check.ok) {
  print({ skipped: check.reason })
  process.exit(0)
}

const results: Record<string, unknown> = {}
for (const [nat1, nat2] of pairs) {
  const dir = await mkdtemp(join(tmpdir(), 'natlab-relay-'))
  const lab = await createNatLab({ nats: { nat1, nat2 } })
  const runs: PairTrial[] = []
  let errors = 0
  try {
    const relay = await startLabRelay(lab, dir)
    for (let i = 0; i < trials; i++) {
      try {
        runs.push(await runPairTrial(lab, relay.addr))
      } catch (err) {
        errors++
        process.stderr.write(`[webrtc.bench] ${nat1}:${nat2} trial ${i + 1} failed: ${(err as Error).message}\n`)
      }
    }
  } finally {
    await lab.teardown()
    await rm(dir, { recursive: true, force: true })
  }
  const direct = runs.filter((r) => r.kind === 'direct')
  const rttRelayed = quantiles(runs.flatMap((r) => r.rttRelayed.slice(1))) // the first one includes stream set-up
  const rttDirect = quantiles(direct.flatMap((r) => r.rttAfter.slice(1)))
  results[`${nat1}:${nat2}`] = {
    expected: expectedKind(nat1, nat2),
    trials: runs.length,
    errors,
    directRatio: runs.length === 0 ? 0 : Math.round((direct.length / runs.length) * 100) / 100,
    upgradeMs: quantiles(direct.flatMap((r) => (r.upgradeMs === undefined ? [] : [r.upgradeMs]))),
    rttMs: { relayed: rttRelayed, direct: rttDirect },
    delivered: runs.reduce((s, r) => s + r.delivered, 0),
    duplicates: runs.reduce((s, r) => s + r.duplicates, 0),
  }
  process.stderr.write(`[webrtc.bench] ${nat1}:${nat2} ${JSON.stringify(results[`${nat1}:${nat2}`])}\n`)
}
print({ trialsPerPair: trials, probesPerTrial: 5, pairs: results })
