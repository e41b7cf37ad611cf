/**
 * The UPnP column of the NAT-type matrix: routers that run a real UPnP IGD (miniupnpd) on the lab's
 * routable public network, N trials of A (home 1) → B (home 2) with fresh peers each time (UPnP on,
 * as by default), and whether the pair reaches a direct connection. Prints one JSON object: per
 * pair, the direct success ratio, the share of trials where every UPnP side's mapping was verified
 * (dialled back by the relay: /baran/dial-back, or AutoNAT v2), the time from the peers being up to
 * the mapping verified and to the first direct connection (p50/p95).
 *
 *   npx node --conditions=@baran/source tools/natlab/bench/upnp.bench.ts [--trials N] [--quick] [--pairs symmetric+upnp:symmetric,…]
 *
 * A router type with `+upnp` runs miniupnpd. 20 trials per pair by default, 3 with --quick. Needs
 * root; without it prints {"skipped": reason}.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canCreateNamespaces, createNatLab, expectedUpnpKind, NAT_TYPES, type NatType, runUpnpTrial, startLabRelay, type UpnpTrial } from '../src/index.ts'

const argv = process.argv.slice(2)
const argOf = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const trials = Math.min(Math.max(1, Number(argOf('--trials') ?? (argv.includes('--quick') ? 3 : 20))), 100)
const DEFAULT_PAIRS = 'symmetric:symmetric+upnp,symmetric+upnp:symmetric,symmetric+upnp:symmetric+upnp,port-restricted:symmetric+upnp,symmetric:symmetric'

interface Side {
  type: NatType
  upnp: boolean
}
function side(spec: string): Side {
  const [type, flag] = spec.split('+')
  if (!(NAT_TYPES as readonly string[]).includes(type ?? '') || (flag !== undefined && flag !== 'upnp')) throw new Error(`not a router: ${spec} (one of ${NAT_TYPES.join(', ')}, optionally +upnp)`)
  return { type: type as NatType, upnp: flag === 'upnp' }
}
const pairs = (argOf('--pairs') ?? DEFAULT_PAIRS).split(',').map((p) => {
  const [x, y] = p.split(':')
  return [side(x ?? ''), side(y ?? '')] as const
})

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)

function quantiles(values: number[]) {
  const v = [...values].sort((x, y) => x - y)
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))]
  const r = (x: number | undefined) => (x === undefined ? null : Math.round(x))
  return { n: v.length, p50: r(q(0.5)), p95: r(q(0.95)) }
}

const ratio = (n: number, of: number) => (of === 0 ? 0 : Math.round((n / of) * 100) / 100)

const check = await canCreateNamespaces()
if (!check.ok) {
  print({ skipped: check.reason })
  process.exit(0)
}

const results: Record<string, unknown> = {}
for (const [s1, s2] of pairs) {
  const name = `${s1.type}${s1.upnp ? '+upnp' : ''}:${s2.type}${s2.upnp ? '+upnp' : ''}`
  const upnp = { nat1: s1.upnp, nat2: s2.upnp }
  const dir = await mkdtemp(join(tmpdir(), 'natlab-relay-'))
  const lab = await createNatLab({ nats: { nat1: s1.type, nat2: s2.type, upnp }, publicNet: 'routable' })
  const runs: UpnpTrial[] = []
  let errors = 0
  try {
    const relay = await startLabRelay(lab, dir)
    for (let i = 0; i < trials; i++) {
      try {
        runs.push(await runUpnpTrial(lab, relay.addr))
      } catch (err) {
        errors++
        process.stderr.write(`[upnp.bench] ${name} trial ${i + 1} failed: ${(err as Error).message}\n`)
      }
    }
  } finally {
    await lab.teardown()
    await rm(dir, { recursive: true, force: true })
  }
  const direct = runs.filter((r) => r.kind === 'direct')
  results[name] = {
    expected: expectedUpnpKind(s1.type, s2.type, upnp),
    trials: runs.length,
    errors,
    directRatio: ratio(direct.length, runs.length),
    // every UPnP side verified: what the direct connection depends on
    verifiedRatio: ratio(runs.filter((r) => Object.keys(r.verifiedMs).length === Number(s1.upnp) + Number(s2.upnp)).length, runs.length),
    verifiedMs: quantiles(runs.flatMap((r) => Object.values(r.verifiedMs))),
    directMs: quantiles(direct.flatMap((r) => (r.directMs === undefined ? [] : [r.directMs]))),
    delivered: runs.reduce((s, r) => s + r.delivered, 0),
  }
  process.stderr.write(`[upnp.bench] ${name} ${JSON.stringify(results[name])}\n`)
}
print({ trialsPerPair: trials, probesPerTrial: 5, pairs: results })
