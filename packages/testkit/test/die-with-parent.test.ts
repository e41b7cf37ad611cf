import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, isAlive, spawnProcess, waitUntil } from '../src/index.ts'

const spawner = fileURLToPath(new URL('./fixtures/spawner.ts', import.meta.url))
const cleanup = new Cleanup()
const strays: number[] = []
afterEach(async () => {
  for (const pid of strays.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  await cleanup.run()
})

describe('processes spawned for tests', () => {
  // setpriv (util-linux) gives the parent-death signal; without it spawnCommand runs the command as it is.
  it.runIf(process.platform === 'linux' && existsSync('/usr/bin/setpriv'))(
    'end when the process that spawned them is killed with SIGKILL before its cleanup ran',
    async () => {
      const parent = spawnProcess(spawner, { cleanup })
      const pid = Number(await waitUntil(() => parent.output[0], { timeoutMs: 20_000, what: 'the spawned pid' }))
      strays.push(pid)
      expect(pid).toBeGreaterThan(0)
      expect(isAlive(pid)).toBe(true)
      parent.child.kill('SIGKILL')
      await parent.exited
      await waitUntil(() => !isAlive(pid), { timeoutMs: 10_000, what: `pid ${pid} to end with its parent` })
    },
  )

  it('isAlive: a running process is alive, an exited one is not', async () => {
    const p = spawnProcess(spawner, { cleanup })
    await waitUntil(() => p.output[0], { timeoutMs: 20_000 })
    expect(isAlive(p.pid)).toBe(true)
    await p.stop('SIGKILL')
    expect(isAlive(p.pid)).toBe(false)
    expect(isAlive(2 ** 22 + 1)).toBe(false)
  })
})
