/**
 * LogFile on a real full filesystem (a 1 MiB tmpfs; needs root to mount, skipped with the reason otherwise):
 * ENOSPC drops lines without an `error` event (which killed the supervisor), and the file works again, saying
 * what it lost, once space is back.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { LogFile } from '../src/lib/log-file.ts'

function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (id -u is not 0)'
  const probe = spawnSync('sh', ['-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; r=$?; rmdir "$d"; exit $r'])
  return probe.status === 0 ? undefined : `cannot mount a tmpfs here: ${probe.stderr.toString().trim()}`
}
const skip = cannotMount()
if (skip) console.warn(`log-file full-disk test skipped: ${skip}`)

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

function fill(file: string): void {
  const fd = openSync(file, 'w')
  try {
    for (let i = 0; i < 64; i++) writeSync(fd, Buffer.alloc(64 * 1024))
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e
  } finally {
    closeSync(fd)
  }
}

const write = (log: LogFile, text: string) => new Promise<void>((resolve, reject) => log.write(text, (e) => (e ? reject(e) : resolve())))

describe.skipIf(skip !== undefined)('LogFile on a full disk', () => {
  it('drops lines without an error event, then writes again and says how much it lost', async () => {
    const dir = await tempDir(cleanup, 'baran-logfile-')
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir])
    cleanup.add(`umount ${dir}`, () => {
      if (spawnSync('umount', [dir]).status !== 0) execFileSync('umount', ['-l', dir])
    })
    const troubles: string[] = []
    const errors: unknown[] = []
    const log = new LogFile(join(dir, 'actor.log'), { onTrouble: (e) => troubles.push((e as { code?: string }).code ?? e.message) })
    log.on('error', (e) => errors.push(e))
    await write(log, 'first line\n')
    fill(join(dir, 'filler'))
    const line = `${'x'.repeat(8191)}\n`
    for (let i = 0; i < 20; i++) await write(log, line)
    expect(errors).toEqual([])
    expect(troubles).toEqual(['ENOSPC'])
    expect(log.dropped).toBeGreaterThan(0)

    await rm(join(dir, 'filler'))
    // The file is tried again after its retry pause: bounded wait for a line to land.
    await waitUntil(
      async () => {
        await write(log, 'after the disk has room\n')
        return (await readFile(join(dir, 'actor.log'), 'utf8')).includes('after the disk has room')
      },
      { timeoutMs: 10_000, intervalMs: 250, what: 'log written again' },
    )
    const text = await readFile(join(dir, 'actor.log'), 'utf8')
    expect(text.startsWith('first line\n')).toBe(true)
    expect(text).toMatch(/log lines dropped: \d+ bytes \(ENOSPC\)/)
    await new Promise<void>((r) => log.end(r))
  }, 30_000)
})
