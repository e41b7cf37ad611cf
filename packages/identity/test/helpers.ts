import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ScryptParams } from '../src/index.ts'

/** Cheap scrypt params for tests (the defaults take ~0.5 s each). */
export const FAST_KDF: ScryptParams = { N: 2 ** 12, r: 8, p: 1 }

/** Temp dirs made by a test file; remove them all in afterEach/afterAll. */
export class TempDirs {
  private dirs: string[] = []

  async make(prefix = 'baran-identity-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(dir)
    return dir
  }

  async cleanup(): Promise<void> {
    const dirs = this.dirs
    this.dirs = []
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  }
}

/** SHA-256 over every entry's name, mode and content (recursive, sorted): equal hashes = identical dirs. */
export async function hashDir(dir: string): Promise<string> {
  const h = createHash('sha256')
  const walk = async (d: string, rel: string): Promise<void> => {
    let entries: string[]
    try {
      entries = (await readdir(d)).sort()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        h.update('<missing>')
        return
      }
      throw err
    }
    for (const e of entries) {
      const p = join(d, e)
      const s = await stat(p)
      h.update(`${rel}/${e}\0${s.mode.toString(8)}\0`)
      if (s.isDirectory()) await walk(p, `${rel}/${e}`)
      else h.update(await readFile(p))
    }
  }
  const s = await stat(dir).catch(() => undefined)
  h.update(s ? s.mode.toString(8) : '<nodir>')
  await walk(dir, '')
  return h.digest('hex')
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

/** The error a function throws (fails the test if it returns). */
export function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a throw')
}
