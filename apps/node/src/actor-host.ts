/**
 * The process entry for actors that share one process (the supervisor's HostProcess spawns it, see
 * lib/host-process.ts): each actor runs in a worker thread of its own, with its own environment and its own log
 * pipe, started, stopped and killed on the supervisor's IPC messages; the end of every thread is reported back with
 * its exit code. A thread that throws or exits ends alone: the supervisor restarts that actor. When the supervisor
 * goes away (the IPC channel closes), or on SIGTERM/SIGINT, every thread is asked to stop and the process exits
 * once they have ended, or after the stop deadline.
 *
 * Why threads: every Node process maps ~45 MiB of the node binary and its own runtime before any of our code; the
 * threads of one process share that (issue 19, apps/node/bench/MEMORY.md).
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { Worker } from 'node:worker_threads'

interface Start {
  op: 'start'
  name: string
  entry: string
  env: Record<string, string>
  logFd: number
}
type Command = Start | { op: 'stop' | 'kill'; name: string }

const threads = new Map<string, { worker: Worker; logFd: number }>()
const logs = new Map<number, WriteStream>()
const stopDeadlineMs = Number(process.env.BARAN_STOP_DEADLINE_MS ?? 5000) + 3000
let closing = false

/** The log pipe of one actor (an fd the supervisor opened for it); a write that fails loses the line, not the host. */
function logOf(fd: number): WriteStream {
  let out = logs.get(fd)
  if (!out) {
    out = createWriteStream('', { fd, autoClose: false })
    out.on('error', () => undefined)
    logs.set(fd, out)
  }
  return out
}

function logLine(fd: number, level: number, actor: string, msg: string, extra: Record<string, unknown> = {}): void {
  logOf(fd).write(`${JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, actor, msg, ...extra })}\n`)
}

function send(message: { op: 'exit'; name: string; code: number }): void {
  if (process.connected) process.send?.(message, undefined, {}, () => undefined)
}

function parse(m: unknown): Command | string {
  if (typeof m !== 'object' || m === null) return 'not an object'
  const c = m as Record<string, unknown>
  if (typeof c.name !== 'string' || c.name === '') return 'no actor name'
  if (c.op === 'stop' || c.op === 'kill') return { op: c.op, name: c.name }
  if (c.op !== 'start') return `unknown op ${String(c.op)}`
  if (typeof c.entry !== 'string' || !Number.isInteger(c.logFd) || typeof c.env !== 'object' || c.env === null) return 'a start needs entry, env and logFd'
  return c as unknown as Start
}

function start(c: Start): void {
  if (closing) {
    send({ op: 'exit', name: c.name, code: 1 })
    return
  }
  if (threads.has(c.name)) {
    logLine(c.logFd, 50, c.name, 'already running in this process: start ignored')
    return
  }
  const out = logOf(c.logFd)
  let worker: Worker
  try {
    worker = new Worker(c.entry, { env: { ...c.env, BARAN_LOG_FD: String(c.logFd) }, stdout: true, stderr: true, name: c.name })
  } catch (err) {
    logLine(c.logFd, 60, c.name, 'cannot start the thread', { err: (err as Error).message })
    send({ op: 'exit', name: c.name, code: 1 })
    return
  }
  threads.set(c.name, { worker, logFd: c.logFd })
  worker.stdout.pipe(out, { end: false })
  worker.stderr.pipe(out, { end: false })
  logLine(c.logFd, 30, c.name, 'thread started', { entry: c.entry, threadId: worker.threadId })
  // An error the thread did not handle ends it with code 1 ('exit' follows).
  worker.on('error', (err) => logLine(c.logFd, 60, c.name, 'the thread ended with an uncaught error', { err: err.message, stack: err.stack }))
  worker.once('exit', (code) => {
    threads.delete(c.name)
    send({ op: 'exit', name: c.name, code })
    if (closing && threads.size === 0) process.exit(0)
  })
}

function closeAll(why: string): void {
  if (closing) return
  closing = true
  if (threads.size === 0) process.exit(0)
  for (const [name, t] of threads) {
    logLine(t.logFd, 30, name, `stopping: ${why}`)
    t.worker.postMessage('stop')
  }
  setTimeout(() => {
    for (const t of threads.values()) void t.worker.terminate()
    setTimeout(() => process.exit(1), 200)
  }, stopDeadlineMs)
}

process.on('message', (m: unknown) => {
  const c = parse(m)
  if (typeof c === 'string') {
    process.stderr.write(`${JSON.stringify({ level: 50, pid: process.pid, msg: `bad command from the supervisor: ${c}` })}\n`)
    return
  }
  const worker = threads.get(c.name)?.worker
  if (c.op === 'start') start(c)
  else if (c.op === 'stop') worker?.postMessage('stop')
  else void worker?.terminate()
})
process.on('disconnect', () => closeAll('supervisor gone'))
process.on('SIGTERM', () => closeAll('SIGTERM'))
process.on('SIGINT', () => closeAll('SIGINT'))
if (!process.connected) {
  process.stderr.write('the actor host is started by the baran supervisor (it needs an IPC channel)\n')
  process.exit(78)
}
