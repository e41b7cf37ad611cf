import { constants } from 'node:fs'
import { access, mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { CliError, Exit } from './output.ts'

const hint = 'pass a writable directory with --data-dir (or set BARAN_HOME)'

/** The nearest path at or above `path` that exists, with what it is (undefined past the root). */
async function nearestExisting(path: string): Promise<{ path: string; isDirectory: boolean } | undefined> {
  for (let p = path; ; p = dirname(p)) {
    const s = await stat(p).catch(() => undefined)
    if (s) return { path: p, isDirectory: s.isDirectory() }
    if (dirname(p) === p) return undefined
  }
}

/** Says why `dir` cannot be written, in words (`mkdir -p` reports a read-only parent as a misleading ENOENT). */
async function whyNotWritable(dir: string, e: NodeJS.ErrnoException): Promise<string> {
  const existing = await nearestExisting(dir)
  if (existing && !existing.isDirectory) return existing.path === dir ? 'it is a file, not a directory' : `${existing.path} is a file, not a directory`
  const probe = existing?.path ?? dir
  const denied = await access(probe, constants.W_OK).then(
    () => undefined,
    (err: NodeJS.ErrnoException) => err.code,
  )
  const code = e.code === 'ENOENT' && denied ? denied : e.code
  if (code === 'EROFS') return `${probe} is on a read-only file system`
  if (code === 'EACCES' || code === 'EPERM') return `no permission to write in ${probe}`
  if (code === 'ENOSPC') return `the file system of ${probe} is full`
  return `${e.message}`
}

/**
 * Makes sure the node can keep its files in `dataDir` (and its `logs`): creates them, then writes and removes a
 * probe file. Thrown as a CliError that names the cause, instead of a stack trace from the first log write.
 */
export async function ensureWritableDataDir(dataDir: string, logs: string): Promise<void> {
  for (const dir of [dataDir, logs]) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const probe = join(dir, `.write-probe-${process.pid}`)
      await writeFile(probe, '')
      await rm(probe, { force: true })
    } catch (e) {
      throw new CliError(`cannot use the data dir ${dataDir}: ${await whyNotWritable(dir, e as NodeJS.ErrnoException)}`, { exitCode: Exit.DataDir, hint, cause: e })
    }
  }
}
