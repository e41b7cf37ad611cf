import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Cleanup } from './cleanup.ts'

/**
 * A fresh temp dir, removed by the cleanup. `BARAN_KEEP_TMP=1` keeps it (and says where) so a failed run's node
 * logs and stores can be read afterwards.
 */
export async function tempDir(cleanup: Cleanup, prefix = 'baran-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  if (process.env.BARAN_KEEP_TMP === '1') process.stderr.write(`BARAN_KEEP_TMP: keeping ${dir}\n`)
  // Retried: a process that is still exiting may write into it while it goes (ENOTEMPTY seen at load ~10).
  else cleanup.add(`rm ${dir}`, () => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }))
  return dir
}
