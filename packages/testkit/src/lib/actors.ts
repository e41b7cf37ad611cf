import { type ActorDefinition, ActorRuntime, silentLogger, type Logger } from '@baran/actor'
import type { Bus } from '@baran/bus'
import { exitsWithin } from '@baran/launch'
import { type ChildProcess, spawn } from 'node:child_process'
import type { Cleanup } from './cleanup.ts'

/** Runs an actor in this process against a bus URL (or a shared bus), stopped by the cleanup. */
export async function runInline<Config>(
  def: ActorDefinition<Config>,
  opts: { cleanup: Cleanup; node?: string; url?: string; bus?: Bus; config?: unknown; dataDir: string; log?: Logger; start?: boolean },
): Promise<ActorRuntime<Config>> {
  const bus = opts.bus ? { shared: opts.bus } : { connect: { servers: opts.url ?? '' } }
  const runtime = new ActorRuntime(def, {
    node: opts.node ?? 'n1',
    bus,
    config: opts.config,
    dataDir: opts.dataDir,
    log: opts.log ?? silentLogger(),
    connectBackoff: { initialMs: 50, maxMs: 500 },
  })
  opts.cleanup.add(`stop ${def.name}`, async () => {
    await runtime.stop('test cleanup')
    await runtime.close()
  })
  if (opts.start !== false) await runtime.start()
  return runtime
}

export interface SpawnedProcess {
  child: ChildProcess
  pid: number
  /** Lines the process wrote (stdout and stderr). */
  output: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Sends a signal and waits for the exit (SIGKILL after the deadline). */
  stop(signal?: NodeJS.Signals, deadlineMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * The Node 22 binary this process runs on, with the source condition: how every Baran process is started in
 * tests. `source: false` runs built JavaScript as `npm start` does (packages resolve to their dist).
 */
export function nodeCommand(entry: string, args: string[] = [], source = true): [string, string[]] {
  return [process.execPath, [...(source ? ['--conditions=@baran/source'] : []), entry, ...args]]
}

/** Spawns a Baran process (an actor's main.ts, the CLI…), killed by the cleanup whatever happens. */
export function spawnProcess(entry: string, opts: { cleanup: Cleanup; args?: string[]; env?: NodeJS.ProcessEnv; ipc?: boolean; source?: boolean }): SpawnedProcess {
  const [cmd, args] = nodeCommand(entry, opts.args, opts.source ?? true)
  const child = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
  })
  const output: string[] = []
  const collect = (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line) output.push(line)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', deadlineMs = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal)
      if (!(await exitsWithin(exited, deadlineMs))) child.kill('SIGKILL')
    }
    return exited
  }
  opts.cleanup.add(`kill pid ${child.pid}`, () => stop('SIGKILL'))
  return { child, pid: child.pid ?? -1, output, exited, stop }
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
