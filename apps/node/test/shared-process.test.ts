/**
 * Actors that name one process (`actors.<name>.process`) run in it, each in a worker thread of its own
 * (src/actor-host.ts, lib/host-process.ts): one pid, each actor still supervised on its own (state, restarts, log
 * file), a crash of one thread leaves the others running, a kill -9 of the process restarts all of them, and
 * nothing outlives the node. The default node shares one such process (DEFAULT_PROCESSES): the e2e tests run it.
 */

import { fileURLToPath } from 'node:url'
import { Cleanup, echoSay, isAlive } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { actorLog, cli, startNode } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url))
const shared = (others: Record<string, string>) => ({
  actors: {
    echo: { module: '@baran/testkit/example-actor', process: 'duo' },
    ...Object.fromEntries(Object.entries(others).map(([name, module]) => [name, { module, process: 'duo' }])),
  },
  supervisor: { restart: { initialMs: 20, maxMs: 100, crashLoopCount: 3, crashLoopWindowMs: 60_000 } },
})

describe('actors sharing a process, each in a thread', () => {
  it('runs both in one process that is not the supervisor, each ready, answering and logging to its own file; status counts the process once', async () => {
    const n = await startNode(cleanup, shared({ quiet: fixture('quiet') }))
    const s = await n.status()
    const [echo, quiet] = [s.actors.echo, s.actors.quiet]
    expect(echo?.state).toBe('ready')
    expect(quiet?.state).toBe('ready')
    expect(echo?.process).toBe('duo')
    expect(echo?.pid).toBe(quiet?.pid)
    expect(echo?.pid).not.toBe(s.pid)
    expect(isAlive(echo?.pid ?? -1)).toBe(true)
    await expect(n.bus.request(echoSay, { text: 'from a thread' })).resolves.toMatchObject({ text: 'from a thread', pid: echo?.pid })
    expect(s.totalRssBytes).toBe((s.rssBytes ?? 0) + (s.bus.rssBytes ?? 0) + (echo?.rssBytes ?? 0))
    const [echoLog, quietLog] = [await actorLog(n, 'echo'), await actorLog(n, 'quiet')]
    expect(echoLog.some((l) => l.msg === 'echo ready')).toBe(true)
    expect(echoLog.some((l) => l.msg === 'quiet ready')).toBe(false)
    expect(quietLog.some((l) => l.msg === 'quiet ready')).toBe(true)
    expect(quietLog.find((l) => l.msg === 'thread started')).toMatchObject({ actor: 'quiet', pid: echo?.pid })
    const { out } = await cli(cleanup, ['status', '--data-dir', n.dataDir])
    expect(out).toMatch(/echo .*thread of duo/)
  })

  it('restarts a thread that exits alone: its neighbour keeps its process and never restarts', async () => {
    const n = await startNode(cleanup, shared({ crashy: fixture('crashy') }))
    const before = (await n.status()).actors.echo
    await expect.poll(async () => (await n.status()).actors.crashy?.state, { timeout: 15_000 }).toBe('gave-up')
    const s = await n.status()
    expect(s.actors.crashy?.restarts).toBe(2)
    expect(s.actors.crashy?.lastExit?.code).toBe(3)
    expect(s.actors.echo).toMatchObject({ state: 'ready', restarts: 0, pid: before?.pid })
    await expect(n.bus.request(echoSay, { text: 'still here' })).resolves.toMatchObject({ pid: before?.pid })
  })

  it('restarts every actor of the process after kill -9 of it, in a new process', async () => {
    const n = await startNode(cleanup, shared({ quiet: fixture('quiet') }))
    const pid = (await n.status()).actors.echo?.pid ?? -1
    process.kill(pid, 'SIGKILL')
    await expect
      .poll(async () => {
        const s = await n.status()
        return ['echo', 'quiet'].map((a) => `${s.actors[a]?.state}/${s.actors[a]?.restarts}`)
      }, { timeout: 20_000 })
      .toEqual(['ready/1', 'ready/1'])
    const s = await n.status()
    expect(s.actors.echo?.pid).toBe(s.actors.quiet?.pid)
    expect(s.actors.echo?.pid).not.toBe(pid)
    expect(s.actors.echo?.lastExit).toMatchObject({ signal: 'SIGKILL' })
    await expect(n.bus.request(echoSay, { text: 'again' })).resolves.toMatchObject({ pid: s.actors.echo?.pid })
  })

  it('leaves no process behind when the node stops, nor when its supervisor is killed', async () => {
    const a = await startNode(cleanup, shared({ quiet: fixture('quiet') }), { name: 'a' })
    const b = await startNode(cleanup, shared({ quiet: fixture('quiet') }), { name: 'b' })
    const [pa, pb] = [(await a.status()).actors.echo?.pid ?? -1, (await b.status()).actors.echo?.pid ?? -1]
    const { code } = await cli(cleanup, ['stop', '--data-dir', a.dataDir])
    expect(code).toBe(0)
    expect((await a.proc.exited).code).toBe(0)
    expect(isAlive(pa)).toBe(false)
    const quietLog = await actorLog(a, 'quiet')
    expect(quietLog.some((l) => /stop/.test(String(l.msg)))).toBe(true)
    // the shared process sees its IPC channel close, stops its threads and exits (their last lines are lost with
    // the supervisor that wrote the log files)
    process.kill(b.proc.pid, 'SIGKILL')
    await b.proc.exited
    await expect.poll(() => isAlive(pb), { timeout: 15_000 }).toBe(false)
  })
})
