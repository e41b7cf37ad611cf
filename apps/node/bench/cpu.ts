/** CPU time of a running node's processes, by role, read from /proc (Linux): shared by the benches across real nodes. */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestNode } from '../test/helpers.ts'
import { cpuMs } from '@baran/testkit'

/** The node's processes by role: its supervisor, its actors and its nats-server (pids read now: read again after a restart). */
export async function rolesOf(n: TestNode): Promise<Map<string, number>> {
  const roles = new Map<string, number>()
  if (n.proc.child.pid) roles.set('supervisor', n.proc.child.pid)
  // Actors that share a process (threads) count as that process (e.g. core): its CPU is theirs together.
  for (const [name, a] of Object.entries((await n.status()).actors)) if (a.pid) roles.set(a.process ?? name, a.pid)
  const info = JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busPid?: number | null }
  if (info.busPid) roles.set('nats-server', info.busPid)
  return roles
}

/** CPU ms (user + system) each process has used so far, keyed `<node>.<role>`. */
export async function cpuSnapshot(nodes: Record<string, Map<string, number>>): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const [node, roles] of Object.entries(nodes)) for (const [role, pid] of roles) out[`${node}.${role}`] = await cpuMs(pid)
  return out
}

/** CPU ms per unit of work (e.g. per message) each process spent between two snapshots, with their total. */
export function cpuPer(before: Record<string, number>, after: Record<string, number>, units: number): Record<string, number> {
  const per = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round((100 * (v - (before[k] ?? 0))) / units) / 100]))
  return { total: Math.round(100 * Object.values(per).reduce((x, y) => x + y, 0)) / 100, ...per }
}
