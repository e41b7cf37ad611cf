import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Reads a secret an actor keeps in its data dir (a libp2p key…), or creates it: written to a temp file with
 * mode 0600 and renamed into place, so a crash never leaves half a key.
 */
export async function loadOrCreateSecret(file: string, create: () => Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  const bytes = await create()
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  await writeFile(tmp, bytes, { mode: 0o600 })
  await rename(tmp, file)
  return bytes
}
