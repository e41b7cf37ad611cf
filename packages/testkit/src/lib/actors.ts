import { type ActorDefinition, ActorRuntime, silentLogger, type Logger } from '@baran/actor'
import type { Bus } from '@baran/bus'
import { dieWithParent, exitsWithin } from '@baran/launch'
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
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
  /** Both output streams ended: every line is in `output` (the exit can come first; a child's child may hold them open). */
  drained: Promise<void>
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

/** Spawns a Baran process (an actor's main.ts, the CLI…) on this Node, killed by the cleanup whatever happens. */
export function spawnProcess(entry: string, opts: { cleanup: Cleanup; args?: string[]; env?: NodeJS.ProcessEnv; ipc?: boolean; source?: boolean }): SpawnedProcess {
  const [cmd, args] = nodeCommand(entry, opts.args, opts.source ?? true)
  return spawnCommand(cmd, args, opts)
}

/**
 * Spawns any executable (a launcher script such as the installed `baran`, `ip netns exec …`), killed by the
 * cleanup whatever happens. Its environment is `baseEnv` (this process's by default) with `env` on top.
 * It gets SIGTERM when the process that spawned it dies (setpriv's parent-death signal, as nats-server and anvil
 * get): a test runner or bench killed before its cleanup ran leaves no node running behind it.
 */
export function spawnCommand(
  cmd: string,
  args: string[],
  opts: { cleanup: Cleanup; env?: NodeJS.ProcessEnv; baseEnv?: NodeJS.ProcessEnv; ipc?: boolean },
): SpawnedProcess {
  const child = spawn(...dieWithParent(cmd, args), {
    env: { ...(opts.baseEnv ?? process.env), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
  })
  const output: string[] = []
  const drained = collectLines(child, output)
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
  return { child, pid: child.pid ?? -1, output, exited, drained, stop }
}

/** Waits for the exit and then, for at most `drainMs`, for the rest of the output: a command's whole output. */
export async function finished(p: SpawnedProcess, drainMs = 5_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const exit = await p.exited
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p.drained, new Promise<void>((r) => (timer = setTimeout(r, drainMs)))])
  clearTimeout(timer)
  return exit
}

/**
 * Appends each line the child writes on stdout and stderr to `output` (empty lines left out), whole: a line that
 * arrives in two chunks (a pipe hands over at most 64 KiB at a time) stays one line, and so does a UTF-8 character.
 * Resolves once both streams ended (a last line without its newline included).
 */
export function collectLines(child: ChildProcess, output: string[]): Promise<void> {
  const ends = [child.stdout, child.stderr].map((stream) => {
    if (!stream) return Promise.resolve()
    stream.setEncoding('utf8')
    let partial = ''
    stream.on('data', (d: string) => {
      const lines = (partial + d).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) if (line) output.push(line)
    })
    return new Promise<void>((resolve) => {
      const flush = () => {
        if (partial) output.push(partial)
        partial = ''
        resolve()
      }
      stream.once('end', flush)
      stream.once('close', flush)
    })
  })
  return Promise.all(ends).then(() => undefined)
}

/**
 * True while a process with this pid runs. A zombie (exited, not yet reaped: an orphan whose new parent does not
 * reap, as a container's first process may not) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  if (process.platform !== 'linux') return true
  try {
    // /proc/<pid>/stat: "pid (comm) S …"; comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch (e) {
    // gone since the signal check, or /proc cannot tell (then the signal check stands)
    return (e as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}
