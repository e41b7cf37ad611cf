import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { stopChild } from '../src/index.ts'

const started: ChildProcess[] = []
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

/** A shell that says it is ready once its traps are set (so a signal cannot come before them). */
async function shell(script: string): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', `${script}; echo ready; while :; do sleep 0.05; done`], { stdio: ['ignore', 'pipe', 'ignore'] })
  started.push(child)
  await once(child.stdout!, 'data')
  return child
}

describe('stopChild', () => {
  it('ends a child with SIGTERM when it obeys', async () => {
    const child = await shell('true')
    await stopChild(child, 10_000)
    expect(child.signalCode).toBe('SIGTERM')
  })

  it('kills a child that ignores SIGTERM once the grace period passed', async () => {
    const child = await shell("trap '' TERM")
    const t0 = Date.now()
    await stopChild(child, 300)
    expect(child.signalCode).toBe('SIGKILL')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
  })

  it('resolves at once for a child that already ended or never started', async () => {
    const child = await shell('true')
    child.kill('SIGKILL')
    await once(child, 'exit')
    await stopChild(child, 10_000)
    const never = spawn('/nonexistent/baran-no-such-binary')
    never.on('error', () => {})
    await stopChild(never, 10_000)
    expect(never.pid).toBeUndefined()
  })
})
