import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ensurePrivateDir, readFileIfExists, writeFileAtomic } from '../src/index.ts'
import { removeStaleTemps } from '../src/lib/fs.ts'
import { rejection, TempDirs } from './helpers.ts'

const temps = new TempDirs()
afterEach(() => temps.cleanup())

const mode = async (p: string) => (await stat(p)).mode & 0o777

describe('private files', () => {
  it('creates the directory 0700 and the file 0600, even under a permissive umask', async () => {
    const dir = join(await temps.make(), 'a', 'identity')
    const old = process.umask(0)
    try {
      await writeFileAtomic(dir, 'f', new Uint8Array([1, 2, 3]))
    } finally {
      process.umask(old)
    }
    expect(await mode(dir)).toBe(0o700)
    expect(await mode(join(dir, 'f'))).toBe(0o600)
    expect([...(await readFile(join(dir, 'f')))]).toEqual([1, 2, 3])
  })

  it('tightens an existing loose directory', async () => {
    const dir = await temps.make()
    await chmod(dir, 0o755)
    await ensurePrivateDir(dir)
    expect(await mode(dir)).toBe(0o700)
  })

  it('replaces the file and leaves no temp files, also under concurrent writes', async () => {
    const dir = await temps.make()
    await writeFileAtomic(dir, 'f', new Uint8Array(1000).fill(1))
    const writes = Array.from({ length: 8 }, (_, i) => writeFileAtomic(dir, 'f', new Uint8Array(1000).fill(i + 2)))
    await Promise.all(writes)
    const content = await readFile(join(dir, 'f'))
    expect(content.length).toBe(1000)
    expect(new Set(content).size).toBe(1) // one whole write won, never a mix
    expect(await readdir(dir)).toEqual(['f'])
  })

  it('removes its temp file when the rename fails', async () => {
    const dir = await temps.make()
    await mkdir(join(dir, 'f')) // a directory where the file should go: rename fails
    await writeFile(join(dir, 'f', 'x'), 'keep')
    const err = await rejection(writeFileAtomic(dir, 'f', new Uint8Array([1])))
    expect(err).toBeInstanceOf(Error)
    expect(await readdir(dir)).toEqual(['f'])
  })

  it('readFileIfExists returns undefined for a missing file', async () => {
    const dir = await temps.make()
    expect(await readFileIfExists(dir, 'nope')).toBeUndefined()
    expect(await readFileIfExists(join(dir, 'no-dir'), 'nope')).toBeUndefined()
  })

  it('removeStaleTemps deletes only leftovers of the named file', async () => {
    const dir = await temps.make()
    await writeFile(join(dir, 'f'), 'live')
    await writeFile(join(dir, 'f.tmp-abc'), 'stale')
    await writeFile(join(dir, 'g.tmp-abc'), 'other')
    await removeStaleTemps(dir, 'f')
    expect((await readdir(dir)).sort()).toEqual(['f', 'g.tmp-abc'])
    await removeStaleTemps(join(dir, 'missing'), 'f')
  })
})
