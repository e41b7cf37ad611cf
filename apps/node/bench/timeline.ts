/**
 * Where a node's start goes, read back from its JSON logs (pino lines: time, msg, state). The CPU time its processes
 * spent is @baran/testkit's `cpuMs` (from /proc).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

interface Line {
  at: number
  msg: string
  state?: string
  child?: string
}

async function linesOf(file: string): Promise<Line[]> {
  const text = await readFile(file, 'utf8').catch(() => '')
  const out: Line[] = []
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue
    try {
      const j = JSON.parse(raw) as { time?: string | number; msg?: string; state?: string; child?: string }
      const at = typeof j.time === 'number' ? j.time : Date.parse(j.time ?? '')
      if (Number.isFinite(at)) out.push({ at, msg: j.msg ?? '', ...(j.state ? { state: j.state } : {}), ...(j.child ? { child: j.child } : {}) })
    } catch {
      // a torn last line
    }
  }
  return out
}

/**
 * The phases of the last start in `logs` (ms from the supervisor's `preparing`): the local network, the implementations
 * loaded (and checked), the bus, then per actor the spawn, its runtime's first line (its modules are loaded) and ready.
 */
export async function startPhases(logs: string, actors: string[]): Promise<Record<string, number | null>> {
  const node = await linesOf(join(logs, 'node.log'))
  const begin = node.findLast((l) => l.msg === 'supervisor preparing')
  if (!begin) return {}
  const after = (ls: Line[], f: (l: Line) => boolean) => {
    const l = ls.find((x) => x.at >= begin.at && f(x))
    return l ? l.at - begin.at : null
  }
  const out: Record<string, number | null> = {
    localnet: after(node, (l) => /local network$/.test(l.msg)),
    configurationLoaded: after(node, (l) => l.msg === 'configuration loaded'),
    busStarted: after(node, (l) => l.msg === 'bus started'),
    running: after(node, (l) => l.msg === 'supervisor running'),
  }
  for (const a of actors) {
    const own = await linesOf(join(logs, `${a}.log`))
    out[`${a}.spawned`] = after(node, (l) => l.msg === 'spawned' && l.child === a)
    out[`${a}.loaded`] = after(own, (l) => l.state === 'idle')
    out[`${a}.ready`] = after(own, (l) => l.state === 'ready')
  }
  return out
}
