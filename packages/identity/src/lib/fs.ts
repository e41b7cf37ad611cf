/** Crash-safe private files: a 0700 directory, 0600 files replaced atomically. */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

const TMP_MARK = '.tmp-'

/** Creates `dir` (and parents) if needed and makes it 0700. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
}

/**
 * Replaces `dir/name` with `data` atomically: write a temp file in the same directory (0600),
 * fsync it, rename it over the target, fsync the directory. A crash leaves either the old or the
 * new file, never a mix; a failure removes the temp file.
 */
export async function writeFileAtomic(dir: string, name: string, data: Uint8Array): Promise<void> {
  await ensurePrivateDir(dir)
  const target = join(dir, name)
  const tmp = join(dir, `${name}${TMP_MARK}${randomBytes(6).toString('hex')}`)
  try {
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.chmod(0o600) // in case the umask or the FS ignored the mode
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, target)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncDir(dir)
}

/** fsync a directory so a rename in it is durable. */
async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r')
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

/** Reads `dir/name`, or returns undefined if it does not exist. */
export async function readFileIfExists(dir: string, name: string): Promise<Uint8Array | undefined> {
  try {
    const buf = await readFile(join(dir, name))
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Removes temp files a crash left behind next to `dir/name`. */
export async function removeStaleTemps(dir: string, name: string): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const prefix = `${name}${TMP_MARK}`
  await Promise.all(entries.filter((e) => e.startsWith(prefix)).map((e) => rm(join(dir, e), { force: true })))
}
