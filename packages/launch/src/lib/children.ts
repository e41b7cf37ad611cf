import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Helpers for the servers Baran runs as children (nats-server, anvil): they must never outlive the process
 * that started them, even when it is killed with SIGKILL.
 */

let setprivFound: string | null | undefined
/** util-linux's setpriv on Linux, if installed: it sets a parent-death signal, then execs the command. */
function setprivPath(): string | undefined {
  if (setprivFound === undefined) {
    setprivFound = null
    if (process.platform === 'linux') {
      for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
        if (existsSync(join(dir, 'setpriv'))) {
          setprivFound = join(dir, 'setpriv')
          break
        }
      }
    }
  }
  return setprivFound ?? undefined
}

/**
 * The command line that runs `cmd args` so that it gets SIGTERM when its parent dies (the pid stays the
 * command's, since setpriv execs it). Without setpriv it is the command itself.
 */
export function dieWithParent(cmd: string, args: string[]): [string, string[]] {
  const setpriv = setprivPath()
  return setpriv ? [setpriv, ['--pdeathsig', 'TERM', cmd, ...args]] : [cmd, args]
}

// Every tracked child still running is killed synchronously when this process exits normally.
const live = new Set<ChildProcess>()
let hooked = false
export function killOnExit(child: ChildProcess): void {
  live.add(child)
  child.once('exit', () => live.delete(child))
  if (hooked) return
  hooked = true
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL')
  })
}

/**
 * SIGTERM, then SIGKILL once `graceMs` passed; resolves once the process has exited (at once when it has already
 * ended, or never started: a failed spawn has no pid and sends no 'exit').
 */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
