/**
 * The shared process's entry (src/actor-host.ts) driven the way HostProcess drives it, over a real IPC channel and
 * log pipe: malformed commands are refused with a clear line and change nothing; a thread that cannot start or
 * that exits is reported with its code; its output reaches its own log pipe; it exits when the supervisor goes.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { silentLogger } from '@baran/actor'
import { Cleanup, isAlive, tempDir, waitUntil } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { HOST_ENTRY, HostProcess } from '../src/lib/host-process.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

function host(): { proc: ChildProcess; stderr: () => string; log: () => string; exits: Array<{ name: string; code: number }> } {
  const proc = spawn(process.execPath, [HOST_ENTRY], { stdio: ['ignore', 'ignore', 'pipe', 'ipc', 'pipe'] })
  cleanup.add('kill the host', () => void proc.kill('SIGKILL'))
  let err = ''
  let log = ''
  const exits: Array<{ name: string; code: number }> = []
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  ;(proc.stdio[4] as Readable).on('data', (d: Buffer) => (log += d.toString()))
  proc.on('message', (m) => exits.push(m as { name: string; code: number }))
  return { proc, stderr: () => err, log: () => log, exits }
}

describe('the shared process entry', () => {
  it('refuses malformed commands and keeps running; reports a thread that cannot start, and one that exits, with its code and its output in its log pipe', async () => {
    const h = host()
    for (const bad of ['garbage', 42, { op: 'start' }, { op: 'boom', name: 'x' }, { op: 'start', name: 'x', entry: 3, env: {}, logFd: 4 }]) h.proc.send(bad)
    await waitUntil(() => (h.stderr().match(/bad command from the supervisor/g)?.length === 5 ? true : undefined), { timeoutMs: 10_000, what: 'five refusals' })
    expect(h.stderr()).toMatch(/not an object/)
    expect(h.stderr()).toMatch(/unknown op boom/)
    expect(h.exits).toEqual([])
    // stop and kill of a thread that does not run change nothing
    h.proc.send({ op: 'stop', name: 'nobody' })
    h.proc.send({ op: 'kill', name: 'nobody' })
    const dir = await tempDir(cleanup)
    h.proc.send({ op: 'start', name: 'missing', entry: join(dir, 'no-such-file.mjs'), env: {}, logFd: 4 })
    await waitUntil(() => h.exits.find((e) => e.name === 'missing'), { timeoutMs: 10_000, what: 'the missing entry reported' })
    expect(h.exits.find((e) => e.name === 'missing')?.code).toBe(1)
    const script = join(dir, 'five.mjs')
    await writeFile(script, "console.log('hello from the thread', process.env.ONLY_HERE); process.exit(5)\n")
    h.proc.send({ op: 'start', name: 'five', entry: script, env: { ONLY_HERE: 'its own env' }, logFd: 4 })
    await waitUntil(() => h.exits.find((e) => e.name === 'five'), { timeoutMs: 10_000, what: 'the exit reported' })
    expect(h.exits.find((e) => e.name === 'five')).toEqual({ op: 'exit', name: 'five', code: 5 })
    await waitUntil(() => (h.log().includes('hello from the thread its own env') ? true : undefined), { timeoutMs: 5_000, what: 'the thread output' })
    expect(h.log()).toMatch(/"actor":"five","msg":"thread started"/)
    expect(h.proc.exitCode).toBe(null)
  })

  it('stops its threads and exits when the supervisor goes away', async () => {
    const h = host()
    const dir = await tempDir(cleanup)
    const script = join(dir, 'stays.mjs')
    await writeFile(script, "import { parentPort } from 'node:worker_threads'\nparentPort.on('message', (m) => { if (m === 'stop') { console.log('asked to stop'); process.exit(0) } })\n")
    h.proc.send({ op: 'start', name: 'stays', entry: script, env: {}, logFd: 4 })
    await waitUntil(() => (h.log().includes('thread started') ? true : undefined), { timeoutMs: 10_000, what: 'the thread started' })
    const exited = new Promise<number | null>((r) => h.proc.once('exit', (code) => r(code)))
    h.proc.disconnect()
    expect(await exited).toBe(0)
    expect(h.log()).toMatch(/stopping: supervisor gone/)
  })

  it('refuses to run without the supervisor (no IPC channel): exit 78', () => {
    const r = spawnSync(process.execPath, [HOST_ENTRY], { encoding: 'utf8', timeout: 30_000 })
    expect(r.status).toBe(78)
    expect(r.stderr).toMatch(/started by the baran supervisor/)
  })

  it('kills the whole process when a killed thread cannot end (stuck in a blocking native call), so a kill always ends it', async () => {
    const dir = await tempDir(cleanup)
    const fifo = join(dir, 'never-written')
    execFileSync('mkfifo', [fifo])
    const script = join(dir, 'stuck.mjs')
    // opening a FIFO that nobody writes blocks the thread inside a system call: terminate() cannot interrupt it
    await writeFile(script, `import { readFileSync } from 'node:fs'\nconsole.log('blocking')\nreadFileSync(${JSON.stringify(fifo)})\n`)
    const host = new HostProcess({ name: 'stuck', members: ['stuck'], flags: [], env: process.env, logFile: join(dir, 'process.log'), log: silentLogger() })
    cleanup.add('stop the host', () => host.stop(1000))
    const thread = host.startThread('stuck', script, {})
    const pid = thread.pid ?? -1
    let log = ''
    thread.stdout.on('data', (d: Buffer) => (log += d.toString()))
    await waitUntil(() => (log.includes('blocking') ? true : undefined), { timeoutMs: 10_000, what: 'the thread blocked' })
    const ended = new Promise<[number | null, string | null]>((r) => thread.once('exit', (code, signal) => r([code, signal])))
    thread.kill('SIGKILL')
    expect(await ended).toEqual([null, 'SIGKILL'])
    expect(isAlive(pid)).toBe(false)
  })
})
