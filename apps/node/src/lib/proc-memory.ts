import { readFileSync } from 'node:fs'

/**
 * Resident memory (VmRSS) of a process in bytes, from /proc/<pid>/status; null when the process is gone or the
 * system has no /proc (then `baran status` shows no memory rather than a wrong one).
 */
export function rssBytes(pid: number | null | undefined): number | null {
  if (!pid) return null
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}
