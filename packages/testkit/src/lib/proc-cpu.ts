import { readFile } from 'node:fs/promises'

const TICK_MS = 10 // USER_HZ is 100 on Linux

/**
 * utime+stime of a process so far, ms, from /proc/<pid>/stat (Linux; 10 ms ticks); 0 once it is gone. With
 * `children`, also that of its children that ended (e.g. the inspector). Benches use it: CPU time stays comparable
 * on a busy machine where the wall clock does not.
 */
export async function cpuMs(pid: number, children = false): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (!text) return 0
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // After "pid (comm) ": state is f[0], utime f[11], stime f[12], cutime f[13], cstime f[14].
  const own = Number(f[11]) + Number(f[12])
  return (children ? own + Number(f[13]) + Number(f[14]) : own) * TICK_MS
}
