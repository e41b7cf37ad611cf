import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { connect as tcpConnect } from 'node:net'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { dieWithParent, killOnExit } from './children.ts'

/** Thrown when no nats-server binary can be found. */
export class NatsServerNotFoundError extends Error {
  override name = 'NatsServerNotFoundError'
  readonly code = 'nats_server_missing'
  constructor(message = 'nats-server not found: run `npm run setup` (it installs Debian\'s nats-server) or set BARAN_NATS_SERVER', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when nats-server exits or stays silent before it listens. */
export class NatsServerStartError extends Error {
  override name = 'NatsServerStartError'
  readonly code = 'nats_server_failed'
}

/** Finds nats-server: $BARAN_NATS_SERVER, then PATH, then Debian's /usr/sbin (not on a normal user's PATH). */
export function resolveNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.BARAN_NATS_SERVER
  if (explicit) {
    if (existsSync(explicit)) return explicit
    throw new NatsServerNotFoundError(`BARAN_NATS_SERVER=${explicit} does not exist`)
  }
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin']
  for (const d of dirs) {
    if (d && existsSync(join(d, 'nats-server'))) return join(d, 'nats-server')
  }
  throw new NatsServerNotFoundError()
}

export interface NatsServerOptions {
  /** A nats-server config file (the supervisor's, with users and permissions). */
  configFile?: string
  /** Directory for the ports file and, without a config file, the JetStream store. */
  workDir: string
  /** Enable JetStream with its store under `<workDir>/jetstream` (ignored with a config file, which says it). */
  jetstream?: boolean
  /** Fixed port; default: a random free one (nats-server picks it, the ports file tells us). */
  port?: number
  /** Where nats-server's own log goes (default: discarded). */
  logFile?: string
  readyTimeoutMs?: number
  binary?: string
}

/** One nats-server child process, loopback only. */
export class NatsServerProcess {
  readonly opts: NatsServerOptions
  #child: ChildProcess | undefined
  #port: number | undefined
  #exited: Promise<void> = Promise.resolve()

  constructor(opts: NatsServerOptions) {
    this.opts = opts
  }

  get port(): number {
    if (this.#port === undefined) throw new NatsServerStartError('nats-server has not started')
    return this.#port
  }
  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }
  get pid(): number | undefined {
    return this.#child?.pid
  }
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
  }
  /** Resolves when the current process exits. */
  get exited(): Promise<void> {
    return this.#exited
  }

  async start(): Promise<this> {
    const { workDir } = this.opts
    const portsDir = join(workDir, 'ports')
    await rm(portsDir, { recursive: true, force: true })
    await mkdir(portsDir, { recursive: true })
    const args: string[] = []
    if (this.opts.configFile) args.push('-c', this.opts.configFile)
    else {
      args.push('-a', '127.0.0.1')
      if (this.opts.jetstream) args.push('-js', '-sd', join(workDir, 'jetstream'))
    }
    // Keep the port across restarts so clients reconnect to the same URL.
    const port = this.#port ?? this.opts.port
    args.push('-p', String(port ?? -1), '--ports_file_dir', portsDir)
    if (this.opts.logFile) args.push('-l', this.opts.logFile)
    const [cmd, argv] = dieWithParent(this.opts.binary ?? resolveNatsServer(), args)
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
    this.#child = child
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()))
    killOnExit(child)
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 10_000)
    while (Date.now() < deadline) {
      if (!this.running) throw new NatsServerStartError(`nats-server exited during start-up: ${stderr.trim() || `code ${child.exitCode}`}`)
      const found = await readPort(portsDir)
      if (found !== undefined && (await canConnect(found))) {
        this.#port = found
        return this
      }
      await sleep(25)
    }
    await this.stop()
    throw new NatsServerStartError(`nats-server did not listen within ${this.opts.readyTimeoutMs ?? 10_000} ms: ${stderr.trim()}`)
  }

  /** SIGTERM (nats-server shuts down cleanly, flushing JetStream), then SIGKILL after the deadline. */
  async stop(deadlineMs = 5000): Promise<void> {
    const child = this.#child
    if (!child || !this.running) return
    child.kill('SIGTERM')
    if (!(await exitsWithin(this.#exited, deadlineMs))) {
      child.kill('SIGKILL')
      await this.#exited
    }
  }

  /** `kill -9`, for crash tests. */
  async kill(): Promise<void> {
    if (!this.running) return
    this.#child?.kill('SIGKILL')
    await this.#exited
  }

  async restart(): Promise<this> {
    await this.stop()
    return this.start()
  }
}

export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerProcess> {
  return new NatsServerProcess(opts).start()
}

/** True if `exited` settles within the deadline; the timer never outlives the wait. */
export async function exitsWithin(exited: Promise<unknown>, deadlineMs: number): Promise<boolean> {
  const timer = new AbortController()
  try {
    return await Promise.race([exited.then(() => true), sleep(deadlineMs, false, { signal: timer.signal })])
  } finally {
    timer.abort()
  }
}

async function readPort(dir: string): Promise<number | undefined> {
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.ports'))
  for (const f of files) {
    try {
      const info = JSON.parse(await readFile(join(dir, f), 'utf8')) as { nats?: string[] }
      const url = info.nats?.[0]
      const port = url ? Number(new URL(url).port) : Number.NaN
      if (Number.isInteger(port) && port > 0) return port
    } catch {
      // written but not complete yet: try again
    }
  }
  return undefined
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
