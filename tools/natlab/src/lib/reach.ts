/**
 * Whether a lab host's packets get out through its router(s) to a public host and back: a TCP connect
 * from inside the host's namespace to a port on the public host. An accept or a reset (nothing listens
 * there) both prove the round trip; a timeout or an unreachable network does not. No ping (not installed
 * everywhere, and ICMP is not what the nodes send): the probe is this Node.js, run in the namespace.
 */
import { LabSetupError } from './errors.ts'
import { exec } from './exec.ts'

/** The part of a lab the probe needs (a NatLab has it). */
export interface ProbeTarget {
  readonly namespaces: Readonly<Record<string, string>>
}

export interface Reach {
  ok: boolean
  /** 'open', 'refused' (both ok), or what stopped the connect (a timeout, EHOSTUNREACH, …). */
  outcome: string
}

/** A port nothing in the lab listens on (discard): the public host answers with a reset. */
const PROBE_PORT = 9

const probeScript = (host: string, port: number, timeoutMs: number) => `
const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${port} })
const done = (outcome) => { process.stdout.write(outcome); s.destroy(); process.exit(0) }
s.setTimeout(${timeoutMs}, () => done('timeout after ${timeoutMs} ms'))
s.on('connect', () => done('open'))
s.on('error', (err) => done(err.code === 'ECONNREFUSED' ? 'refused' : String(err.code ?? err.message)))
`

/** One probe from `node`'s namespace to `host` (a TCP port there; by default one nothing listens on). */
export async function reaches(lab: ProbeTarget, node: string, host: string, opts: { port?: number; timeoutMs?: number } = {}): Promise<Reach> {
  const ns = lab.namespaces[node]
  if (ns === undefined) return { ok: false, outcome: `no namespace for ${node}` }
  const timeoutMs = opts.timeoutMs ?? 2_000
  try {
    // the process's own start can be slow on a loaded machine: the kill deadline leaves room for it
    const { stdout } = await exec('ip', ['netns', 'exec', ns, process.execPath, '-e', probeScript(host, opts.port ?? PROBE_PORT, timeoutMs)], {
      timeoutMs: timeoutMs + 15_000,
    })
    const outcome = stdout.trim()
    return { ok: outcome === 'open' || outcome === 'refused', outcome }
  } catch (err) {
    return { ok: false, outcome: `probe failed: ${(err as Error).message}` }
  }
}

/**
 * Waits until every one of `nodes` reaches `host` (probing again every few hundred ms), bounded by
 * `timeoutMs`; throws LabSetupError naming each node that still does not and what its last probe saw.
 */
export async function waitUntilReachable(lab: ProbeTarget, nodes: readonly string[], host: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let pending = [...nodes]
  let last = new Map<string, Reach>()
  for (;;) {
    const results = await Promise.all(pending.map(async (n) => [n, await reaches(lab, n, host)] as const))
    last = new Map(results)
    pending = results.filter(([, r]) => !r.ok).map(([n]) => n)
    if (pending.length === 0) return
    if (Date.now() >= deadline) break
    await new Promise((r) => setTimeout(r, 300))
  }
  const why = pending.map((n) => `${n}: ${last.get(n)?.outcome}`).join('; ')
  throw new LabSetupError(`lab hosts do not reach ${host} within ${timeoutMs} ms (${why})`)
}
