import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** This process's open-file limit (soft, hard), from /proc (undefined where there is no /proc). */
export function fileLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const [soft, hard] = (line?.match(/\d+|unlimited/g) ?? []).map((x) => (x === 'unlimited' ? Number.POSITIVE_INFINITY : Number(x)))
    return soft !== undefined && hard !== undefined ? { soft, hard } : undefined
  } catch {
    return undefined
  }
}

/**
 * Every simulated node's sockets live in this one process (both ends of each loopback connection): a few hundred
 * nodes need tens of thousands of descriptors. Raises this process's limit to `wanted` with prlimit(1) when it is
 * lower (root, or CAP_SYS_RESOURCE, may raise the hard limit too); returns the limit in force afterwards.
 */
export function raiseFileLimit(wanted: number): { before: number; after: number } {
  const before = fileLimit()?.soft ?? Number.NaN
  if (!(before < wanted)) return { before, after: before }
  spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: 'ignore', timeout: 10_000 })
  return { before, after: fileLimit()?.soft ?? before }
}
