import type { NodeStatus } from '@baran/bus'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'

/** Where the workspace install puts the executable (`npm link` puts the same script on PATH). */
const BARAN = fileURLToPath(new URL('../../../node_modules/.bin/baran', import.meta.url))
const run = promisify(execFile)

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

async function baran(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(BARAN, args, { env: { ...process.env, ...env }, timeout: 30_000 })
    return { code: 0, stdout }
  } catch (e) {
    const err = e as { code?: number; stdout?: string }
    return { code: err.code ?? -1, stdout: err.stdout ?? '' }
  }
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))))

describe('the installed baran executable', () => {
  it('is the bin of the root package too (`npm link` in the clone puts it on PATH)', async () => {
    const root = JSON.parse(await readFile(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { bin?: Record<string, string> }
    const linked = fileURLToPath(new URL(`../../../${root.bin?.baran}`, import.meta.url))
    expect(realpathSync(linked)).toBe(realpathSync(BARAN))
    const { code, stdout } = await baran(['--version'], {})
    expect(code).toBe(0)
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  }, 45_000)

  it('starts a node, and `status --json` reports the resident memory of the supervisor, nats-server and each actor', async () => {
    expect(existsSync(BARAN)).toBe(true)
    const home = await tempDir(cleanup, 'baran-bin-')
    const dataDir = join(home, 'n1')
    await mkdir(dataDir, { recursive: true })
    await writeFile(join(dataDir, 'config.json'), JSON.stringify({ actors: { echo: '@baran/testkit/example-actor' } }))
    const env = { BARAN_HOME: home }
    const node = spawn(BARAN, ['start', '--data-dir', dataDir, '--quiet'], { env: { ...process.env, ...env }, stdio: 'ignore' })
    cleanup.add(`kill baran start ${node.pid}`, () => {
      if (node.exitCode === null) node.kill('SIGKILL')
    })
    const status = await waitUntil(
      async () => {
        if (node.exitCode !== null) throw new Error(`baran start exited with ${node.exitCode}`)
        const r = await baran(['status', '--json', '--data-dir', dataDir], env)
        const s = r.code === 0 ? (JSON.parse(r.stdout) as NodeStatus) : undefined
        return s?.actors.echo?.state === 'ready' ? s : undefined
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'echo ready (baran status --json)' },
    )
    const info = JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { pid: number; busPid: number }
    // The script execs node: the supervisor is the process we spawned.
    expect(status.pid).toBe(node.pid)
    expect(status.bus.pid).toBe(info.busPid)
    const echo = status.actors.echo
    const MiB = 1024 * 1024
    for (const rss of [status.rssBytes, status.bus.rssBytes, echo?.rssBytes]) {
      expect(rss).toBeGreaterThan(4 * MiB)
      expect(rss).toBeLessThan(2048 * MiB)
    }
    expect(status.totalRssBytes).toBe((status.rssBytes ?? 0) + (status.bus.rssBytes ?? 0) + (echo?.rssBytes ?? 0))
    const human = await baran(['status', '--data-dir', dataDir], env)
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/echo .* rss \d+ MiB/)
    expect(human.stdout).toMatch(/memory \d+ MiB in all/)

    expect((await baran(['stop', '--data-dir', dataDir], env)).code).toBe(0)
    expect(await exited(node)).toBe(0)
  }, 90_000) // the node's own bounded waits (60 s for ready, 30 s per command) decide first
})
