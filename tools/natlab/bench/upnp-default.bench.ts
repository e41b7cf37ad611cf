/**
 * What UPnP on by default costs a host that has no gateway: start (to createTransportHost resolved)
 * and stop times with `upnp` on (the default) and off, in a namespace of its own whose one
 * interface has a private LAN address and a default route but nothing behind it (so the SSDP search
 * runs and gets no answer), and on loopback (nothing to map: no search at all). Stops are measured
 * right after start (the search still running: stop must abort it) and after the search timed out.
 *
 *   npx node --conditions=@baran/source tools/natlab/bench/upnp-default.bench.ts [--runs N]
 *
 * 10 runs per case by default. Needs root; without it prints {"skipped": reason}.
 */
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { canCreateNamespaces } from '../src/index.ts'
import { exec } from '../src/lib/exec.ts'

const argv = process.argv.slice(2)
const i = argv.indexOf('--runs')
const runs = Math.min(Math.max(1, Number(i >= 0 ? argv[i + 1] : 10)), 100)
const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)

if (argv.includes('--child')) {
  const { createTransportHost } = await import('@baran/transport')
  const listen = argv[argv.indexOf('--child') + 1]!
  const out: Record<string, { startMs: number[]; stopMs: number[]; states: string[] }> = {}
  for (const [name, upnp, waitMs] of [
    ['upnp off, stop at once', false, 0],
    ['upnp on, stop at once', true, 0],
    ['upnp off, stop after 3 s', false, 3000],
    ['upnp on, stop after 3 s', true, 3000],
  ] as const) {
    const r = { startMs: [] as number[], stopMs: [] as number[], states: [] as string[] }
    for (let n = 0; n < runs; n++) {
      const t0 = performance.now()
      const host = await createTransportHost({ listen: [listen], upnp, webrtc: false })
      r.startMs.push(performance.now() - t0)
      if (waitMs > 0) await new Promise((res) => setTimeout(res, waitMs))
      const state = host.upnp()?.state
      const t1 = performance.now()
      await host.stop()
      r.stopMs.push(performance.now() - t1)
      r.states.push(state ?? 'off')
    }
    out[name] = r
  }
  print(out)
  process.exit(0)
}

const check = await canCreateNamespaces()
if (!check.ok) {
  print({ skipped: check.reason })
  process.exit(0)
}
const p50 = (v: number[]) => Math.round([...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]! * 10) / 10
const max = (v: number[]) => Math.round(Math.max(...v) * 10) / 10
const ns = `natlab-upnpd-${randomUUID().slice(0, 6)}`
const results: Record<string, unknown> = {}
await exec('ip', ['netns', 'add', ns])
try {
  for (const cmd of [
    ['link', 'set', 'lo', 'up'],
    // a veth pair inside the namespace: lan1 is a LAN with no gateway behind it
    ['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1'],
    ['addr', 'add', '10.77.0.2/24', 'dev', 'lan0'],
    ['link', 'set', 'lan0', 'up'],
    ['link', 'set', 'lan1', 'up'],
    ['route', 'add', 'default', 'dev', 'lan0'],
  ]) {
    await exec('ip', ['-n', ns, ...cmd])
  }
  const me = fileURLToPath(import.meta.url)
  for (const listen of ['/ip4/10.77.0.2/tcp/0', '/ip4/127.0.0.1/tcp/0']) {
    const { stdout } = await exec('ip', ['netns', 'exec', ns, process.execPath, '--conditions=@baran/source', me, '--runs', String(runs), '--child', listen], { timeoutMs: 600_000 })
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, { startMs: number[]; stopMs: number[]; states: string[] }>
    results[listen] = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { startP50: p50(v.startMs), startMax: max(v.startMs), stopP50: p50(v.stopMs), stopMax: max(v.stopMs), upnpStateAtStop: [...new Set(v.states)] }]))
  }
} finally {
  await exec('ip', ['netns', 'del', ns]).catch(() => undefined)
}
print({ runs, ms: results })
