import { Cleanup, isAlive, tempDir, waitUntil } from '@baran/testkit'
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BARAN, cli, spawnBaran, startNode, type TestNode } from './helpers.ts'

// Each case runs the real `baran` CLI and asserts what it says and its exit code: no stack trace, ever.
const cleanup = new Cleanup()
afterAll(() => cleanup.run())

const noStackTrace = (out: string) => expect(out).not.toMatch(/\n\s+at |node:internal|Unhandled 'error'/)

/** Runs the CLI inside a private mount namespace where `dir` is a read-only bind mount of itself. */
function runOnReadOnly(dir: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
  const child = spawn('unshare', ['-m', 'sh', '-c', script, 'sh', dir, BARAN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  cleanup.add(`kill pid ${child.pid}`, () => void (child.exitCode === null && child.kill('SIGKILL')))
  const chunks: Buffer[] = []
  child.stdout.on('data', (d: Buffer) => void chunks.push(d))
  child.stderr.on('data', (d: Buffer) => void chunks.push(d))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out: Buffer.concat(chunks).toString() })))
}
// Tests run as root, which ignores file modes: only a read-only mount makes a directory unwritable.
const canMount = spawnSync('unshare', ['-m', 'sh', '-c', 'd=$(mktemp -d) && mount --bind "$d" "$d" && mount -o remount,ro,bind "$d" "$d"']).status === 0

describe('an unusable data dir', () => {
  it.skipIf(!canMount)('says the data dir is on a read-only file system (exit 73), whether it exists or must be created', async () => {
    const home = await tempDir(cleanup)
    const existing = join(home, 'node')
    await mkdir(join(existing, 'logs'), { recursive: true })
    const r = await runOnReadOnly(existing, ['start', '--data-dir', existing])
    expect(r.code, r.out).toBe(73)
    expect(r.out).toContain(`cannot use the data dir ${existing}: ${existing} is on a read-only file system`)
    noStackTrace(r.out)
    // a data dir to create below a read-only directory: not the ENOENT mkdir reports
    const below = join(existing, 'a', 'b')
    const r2 = await runOnReadOnly(existing, ['start', '--data-dir', below])
    expect(r2.code, r2.out).toBe(73)
    expect(r2.out).toContain(`cannot use the data dir ${below}: ${existing} is on a read-only file system`)
    expect(r2.out).not.toContain('ENOENT')
  })

  it('says the data dir is a file (exit 73), or lies below one', async () => {
    const home = await tempDir(cleanup)
    const file = join(home, 'not-a-dir')
    await writeFile(file, 'x')
    const r = await cli(cleanup, ['start', '--data-dir', file], { BARAN_HOME: home })
    expect(r.code, r.out).toBe(73)
    expect(r.out).toContain(`cannot use the data dir ${file}: it is a file, not a directory`)
    noStackTrace(r.out)
    const r2 = await cli(cleanup, ['start', '--data-dir', join(file, 'sub')], { BARAN_HOME: home })
    expect(r2.code, r2.out).toBe(73)
    expect(r2.out).toContain(`${file} is a file, not a directory`)
    expect(r2.out).not.toContain('ENOTDIR')
  })
})

describe('archive import', () => {
  it('says "archive too large" with the limit, before reading the file (exit 2)', async () => {
    const dir = await tempDir(cleanup)
    const big = join(dir, 'big.baran')
    await writeFile(big, '')
    await truncate(big, 10 * 1024 * 1024)
    const r = await cli(cleanup, ['account', 'import', big, '--data-dir', join(dir, 'n1')], { BARAN_PASSWORD: 'pw' })
    expect(r.code, r.out).toBe(2)
    expect(r.out).toContain(`archive too large: ${big} is 10485760 bytes (limit 524288)`)
    expect(r.out).not.toContain('does not match')
  })
})

describe('baran nameserver', () => {
  it('refuses to pay gas for other people unless told so with --sponsor (exit 2)', async () => {
    const dir = await tempDir(cleanup)
    const keyFile = join(dir, 'key')
    await writeFile(keyFile, `0x${'11'.repeat(32)}\n`)
    const r = await cli(cleanup, ['nameserver', '--key-file', keyFile, '--rpc-url', 'http://127.0.0.1:1', '--registry', `0x${'22'.repeat(20)}`])
    expect(r.code, r.out).toBe(2)
    expect(r.out).toContain('add --sponsor')
  })
})

describe('a node whose identity cannot start (corrupt key store)', () => {
  let n: TestNode
  beforeAll(async () => {
    const home = await tempDir(cleanup)
    const dataDir = join(home, 'n1')
    await mkdir(join(dataDir, 'identity'), { recursive: true })
    await writeFile(join(dataDir, 'identity', 'identity.store'), '{"v":1}')
    n = await startNode(
      cleanup,
      { actors: { identity: '@baran/identity' }, supervisor: { restart: { initialMs: 20, maxMs: 100, crashLoopCount: 3, crashLoopWindowMs: 60_000 } } },
      { home, dataDir },
    )
  }, 120_000)

  it('start does not say the node is up: it names the actor and the reason', async () => {
    const line = await waitUntil(() => n.proc.output.find((l) => l.includes('did not start')), { timeoutMs: 20_000, what: 'the start failure line' })
    expect(line).toMatch(/identity did not start \(\w[\w-]*\): The key store file is corrupt/)
    expect(n.proc.output.join('\n')).not.toContain('is up')
  })

  it('status shows the reason (exit 4), account show says it (exit 4)', async () => {
    const status = await cli(cleanup, ['status', '--data-dir', n.dataDir])
    expect(status.code, status.out).toBe(4)
    expect(status.out).toMatch(/(reason|why): The key store file is corrupt/)
    const show = await cli(cleanup, ['account', 'show', '--data-dir', n.dataDir])
    expect(show.code, show.out).toBe(4)
    expect(show.out).toMatch(/the identity actor is \w[\w-]*: The key store file is corrupt/)
    noStackTrace(show.out)
  })

  it('exits quietly when its reader goes away (EPIPE), for any command', async () => {
    const p = spawnBaran(cleanup, ['status', '--json', '--data-dir', n.dataDir])
    p.child.stdout?.destroy() // `| head` that already quit
    const { code } = await p.exited
    expect(p.output.join('\n')).not.toContain('EPIPE')
    noStackTrace(p.output.join('\n'))
    expect(code).toBe(0)
  })

  it('node.json names the new nats-server after the supervisor restarted it', async () => {
    const nodeJson = join(n.dataDir, 'node.json')
    const before = JSON.parse(await readFile(nodeJson, 'utf8')) as { busPid: number }
    process.kill(before.busPid, 'SIGKILL')
    const after = await waitUntil(
      async () => {
        const info = JSON.parse(await readFile(nodeJson, 'utf8')) as { busPid: number }
        return info.busPid !== before.busPid ? info : undefined
      },
      { timeoutMs: 30_000, what: 'node.json with the new bus pid' },
    )
    expect(isAlive(after.busPid)).toBe(true)
    const status = await cli(cleanup, ['status', '--json', '--data-dir', n.dataDir])
    expect(JSON.parse(status.out)).toMatchObject({ state: 'running' })
  })
})
