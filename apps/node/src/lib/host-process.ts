import { type ChildProcess, spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { PassThrough, type Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { exitsWithin } from '@baran/launch'
import type { Logger } from 'pino'
import { ACTOR_ENV_DEFAULTS, SHARED_PROCESS_FLAGS } from './child.ts'
import { conditionFlags } from './conditions.ts'
import { LogFile } from './log-file.ts'

/** The entry of a shared process (.ts from the sources, .js from the build). */
export const HOST_ENTRY = fileURLToPath(new URL(`../actor-host${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

/** The first fd of the actors' log pipes in a shared process (0-2 stdio, 3 the IPC channel). */
const FIRST_LOG_FD = 4
/** How long a killed thread may take to end before its whole process is killed. */
const THREAD_KILL_GRACE_MS = 3000

/**
 * One actor running as a thread of a shared process, with what ChildActor uses of a ChildProcess: pid (the
 * process's), exitCode/signalCode, kill, the 'exit' event and a stdout carrying the actor's log lines.
 * SIGKILL terminates the thread; any other signal asks it to stop as SIGTERM does a process.
 */
export class ThreadChild extends EventEmitter {
  readonly pid: number | undefined
  readonly stdout = new PassThrough()
  readonly stderr: Readable | null = null
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  #killed = false
  #send: (op: 'stop' | 'kill') => boolean

  constructor(pid: number | undefined, send: (op: 'stop' | 'kill') => boolean) {
    super()
    this.pid = pid
    this.#send = send
  }

  get ended(): boolean {
    return this.exitCode !== null || this.signalCode !== null
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.ended) return false
    if (signal === 'SIGKILL') this.#killed = true
    return this.#send(signal === 'SIGKILL' ? 'kill' : 'stop')
  }

  /** The thread ended (code from the host), or its process did (signal, or the process's code). */
  end(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return
    if (signal === null && this.#killed && code !== 0) signal = 'SIGKILL'
    this.exitCode = signal === null ? (code ?? 1) : null
    this.signalCode = signal
    this.emit('exit', this.exitCode, this.signalCode)
  }
}

export interface HostProcessOptions {
  /** The shared process's name (config `actors.<name>.process`). */
  name: string
  /** The actors it may run: each gets a log pipe of its own, in this order. */
  members: readonly string[]
  /** V8 flags of the process (every thread runs with them: V8's flags are per process). */
  flags: readonly string[]
  env: NodeJS.ProcessEnv
  /** The process's own log (the threads log to their actors' files). */
  logFile: string
  log: Logger
}

/**
 * A process that runs several actors, each in a worker thread (src/actor-host.ts), for the supervisor: it is
 * spawned when its first actor starts, and again after it died (every thread it ran ends with it: each actor's
 * ChildActor restarts it as after a crash). Every actor keeps its own bus user, config, data and log file.
 */
export class HostProcess {
  readonly name: string
  readonly members: readonly string[]
  #opts: HostProcessOptions
  #proc: ChildProcess | undefined
  #threads = new Map<string, ThreadChild>()
  /** Each actor's log pipe from the current process. */
  #pipes = new Map<string, Readable>()
  #out: LogFile
  #log: Logger

  constructor(opts: HostProcessOptions) {
    this.name = opts.name
    this.members = opts.members
    this.#opts = opts
    this.#log = opts.log.child({ process: opts.name })
    this.#out = new LogFile(opts.logFile, { onTrouble: (err) => this.#log.warn({ err: err.message, file: opts.logFile }, 'cannot write the shared process log: dropping lines') })
  }

  get pid(): number | undefined {
    return this.#proc?.pid
  }

  /** Starts `name` in a thread running `entry` (the process is spawned first if it is not running). */
  startThread(name: string, entry: string, env: NodeJS.ProcessEnv): ThreadChild {
    const index = this.#opts.members.indexOf(name)
    if (index < 0) throw new Error(`${name} is not an actor of the shared process ${this.name}`)
    const proc = this.#proc ?? this.#spawn()
    const thread = new ThreadChild(proc.pid, (op) => {
      const sent = this.#send(proc, { op, name })
      // A kill must end the thread as SIGKILL ends a process: if the process cannot end it, the process goes.
      if (op === 'kill') {
        const last = () => {
          if (thread.ended) return
          this.#log.warn({ pid: proc.pid, actor: name }, 'a thread did not end when killed: SIGKILL to its process')
          proc.kill('SIGKILL')
        }
        if (sent) setTimeout(last, THREAD_KILL_GRACE_MS).unref()
        else last()
        return true
      }
      return sent
    })
    this.#threads.get(name)?.stdout.end()
    this.#threads.set(name, thread)
    // a pipe held for the ended thread's log (its 'drain' will not come now) flows into the new one
    this.#pipes.get(name)?.resume()
    const threadEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'))
    // not reachable (the process is exiting): the thread ends at once, after the caller has attached its listeners
    if (!this.#send(proc, { op: 'start', name, entry, env: threadEnv, logFd: FIRST_LOG_FD + index })) queueMicrotask(() => thread.end(1, null))
    return thread
  }

  #send(proc: ChildProcess, message: object): boolean {
    if (!proc.connected) return false
    proc.send(message, undefined, {}, (err) => err && this.#log.warn({ err: err.message }, 'cannot reach the shared process'))
    return true
  }

  #spawn(): ChildProcess {
    const { members, flags, env } = this.#opts
    const proc = spawn(process.execPath, [...conditionFlags(), ...flags, HOST_ENTRY], {
      env,
      // The IPC channel carries the commands and makes the process leave if this supervisor dies; then one log
      // pipe per actor.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...members.map(() => 'pipe' as const)],
    })
    this.#proc = proc
    proc.stdout?.pipe(this.#out, { end: false })
    proc.stderr?.pipe(this.#out, { end: false })
    members.forEach((name, i) => {
      const pipe = proc.stdio[FIRST_LOG_FD + i] as Readable | null
      if (!pipe) return
      this.#pipes.set(name, pipe)
      // A line written just before a thread's end may arrive after it: it goes to that actor's latest thread. A log
      // file that cannot keep up holds the pipe (and so the thread's writes), as it does a process's stdout.
      pipe.on('data', (chunk: Buffer) => {
        const sink = this.#threads.get(name)?.stdout
        if (sink && !sink.write(chunk)) {
          pipe.pause()
          sink.once('drain', () => pipe.resume())
        }
      })
    })
    proc.on('message', (m: unknown) => {
      const e = m as { op?: unknown; name?: unknown; code?: unknown }
      if (e?.op !== 'exit' || typeof e.name !== 'string') return
      const thread = this.#threads.get(e.name)
      if (thread && thread.pid === proc.pid) thread.end(typeof e.code === 'number' ? e.code : 1, null)
    })
    proc.once('exit', (code, signal) => {
      if (this.#proc === proc) this.#proc = undefined
      this.#log.warn({ pid: proc.pid, code, signal }, 'shared process exited')
      for (const t of this.#threads.values()) if (t.pid === proc.pid) t.end(code, signal)
    })
    proc.once('error', (err) => {
      this.#log.error({ err }, 'could not spawn the shared process')
      // a process that never started sends no 'exit': its threads end here (their actors back off and retry)
      if (proc.pid === undefined) {
        if (this.#proc === proc) this.#proc = undefined
        for (const t of this.#threads.values()) if (t.pid === undefined) t.end(1, null)
      }
    })
    this.#log.info({ pid: proc.pid, actors: members }, 'shared process spawned')
    return proc
  }

  /** Ends the process once its actors have stopped (ChildActor.stop): SIGTERM, then SIGKILL after the deadline. */
  async stop(deadlineMs: number): Promise<void> {
    const proc = this.#proc
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()))
      proc.kill('SIGTERM')
      if (!(await exitsWithin(exited, deadlineMs + 1000))) {
        proc.kill('SIGKILL')
        await exited
      }
    }
    await new Promise<void>((r) => this.#out.end(r))
  }

  /** Kill -9 now (the supervisor itself is dying). */
  killNow(): void {
    this.#proc?.kill('SIGKILL')
  }
}

/** The shared processes of a node (name → actors, from sharedProcesses()), each with the actors' V8 flags and env defaults. */
export function sharedHosts(groups: Map<string, string[]>, opts: { env: NodeJS.ProcessEnv; logFile: (name: string) => string; log: Logger }): Map<string, HostProcess> {
  const env = { ...ACTOR_ENV_DEFAULTS, ...opts.env }
  return new Map([...groups].map(([name, members]) => [name, new HostProcess({ name, members, flags: SHARED_PROCESS_FLAGS, env, logFile: opts.logFile(name), log: opts.log })]))
}
