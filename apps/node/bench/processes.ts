/** The processes of a running node and their memory, read from /proc (Linux). */
import { readdir, readFile } from 'node:fs/promises'

export interface ProcessMemory {
  pid: number
  /** What the process is to the node: supervisor, nats-server, an actor's name, anvil, or its command name. */
  role: string
  /** Resident set size (VmRSS of /proc/<pid>/status), MiB. Shared pages count in every process that maps them. */
  rssMiB: number
  /** Proportional set size (Pss of /proc/<pid>/smaps_rollup), MiB: shared pages split between their users. */
  pssMiB: number
}

async function statOf(pid: number): Promise<{ comm: string; ppid: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (!text) return undefined
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after its last ')'.
  const close = text.lastIndexOf(')')
  const ppid = Number(text.slice(close + 2).split(' ')[1])
  return { comm: text.slice(text.indexOf('(') + 1, close), ppid }
}

/** Every live descendant of `root` (root included). */
export async function processTree(root: number): Promise<Map<number, string>> {
  const children = new Map<number, number[]>()
  const comms = new Map<number, string>()
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const s = await statOf(pid)
    if (!s) continue
    comms.set(pid, s.comm)
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid])
  }
  const tree = new Map<number, string>()
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.shift() as number
    if (tree.has(pid) || !comms.has(pid)) continue
    tree.set(pid, comms.get(pid) as string)
    queue.push(...(children.get(pid) ?? []))
  }
  return tree
}

const kib = (text: string | undefined, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text ?? '')?.[1] ?? 0)

/** RSS and PSS of each process; `roles` names the known pids, other processes keep their command name. */
export async function memoryOf(pids: Map<number, string>, roles: Map<number, string>): Promise<ProcessMemory[]> {
  const out: ProcessMemory[] = []
  for (const [pid, comm] of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined)
    if (!status) continue
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => undefined)
    out.push({ pid, role: roles.get(pid) ?? comm, rssMiB: kib(status, 'VmRSS') / 1024, pssMiB: kib(rollup, 'Pss') / 1024 })
  }
  return out
}
