import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Cleanup } from './cleanup.ts'

/** A fresh temp dir, removed by the cleanup. */
export async function tempDir(cleanup: Cleanup, prefix = 'baran-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.add(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }))
  return dir
}
