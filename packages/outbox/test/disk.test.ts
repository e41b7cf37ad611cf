import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DiskGuard, freeSpace } from '../src/lib/disk.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

describe('DiskGuard', () => {
  it('a burst of 64 writes asks the filesystem once (statfs of a real directory), not once per write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baran-disk-'))
    dirs.push(dir)
    let asked = 0
    const guard = new DiskGuard({
      dir,
      minFreeBytes: 1,
      free: (d) => {
        asked++
        return freeSpace(d)
      },
    })
    await Promise.all(Array.from({ length: 64 }, () => guard.check()))
    expect(asked).toBe(1)
    expect(guard.lastFree).toBeGreaterThan(0)
  })

  it('a write right after the disk filled is refused: no earlier answer is trusted', async () => {
    let free = 100 * 1024 * 1024
    const guard = new DiskGuard({ dir: '/unused', minFreeBytes: 8 * 1024 * 1024, free: async () => free })
    await guard.check()
    free = 0 // a filler took the disk within the same millisecond
    await expect(guard.check()).rejects.toMatchObject({ name: 'DiskFullError' })
  })

  it('far above the reserve (a GiB), an answer serves the writes of the next 100 ms; near it, none is reused', async () => {
    const GiB = 1024 * 1024 * 1024
    let free = 10 * GiB
    let asked = 0
    let now = 0
    const guard = new DiskGuard({
      dir: '/unused',
      minFreeBytes: 8 * 1024 * 1024,
      now: () => now,
      free: async () => {
        asked++
        return free
      },
    })
    await guard.check()
    now = 100
    await guard.check()
    expect(asked).toBe(1)
    now = 101
    await guard.check()
    expect(asked).toBe(2)
    // under a GiB above the reserve: every write asks
    free = GiB
    now = 300
    await guard.check()
    now = 301
    await guard.check()
    expect(asked).toBe(4)
    free = 0
    now = 302
    await expect(guard.check()).rejects.toMatchObject({ name: 'DiskFullError' })
  })

  it('refuses writes below the reserve with DiskFullError, every one of a burst', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baran-disk-'))
    dirs.push(dir)
    const guard = new DiskGuard({ dir, minFreeBytes: Number.MAX_SAFE_INTEGER })
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => guard.check()))
    expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).name === 'DiskFullError')).toBe(true)
  })
})
