import { loadOrCreateSecret } from '@baran/actor'
import { generateHostKey, hostKeyFromBytes, hostKeyToBytes } from '@baran/transport'
import { chmod, stat } from 'node:fs/promises'
import { RelayKeyError } from './errors.ts'
import type { Logger } from './logger.ts'

export type HostKey = ReturnType<typeof hostKeyFromBytes>

/**
 * The libp2p key in `file`, created (0600, atomically) on first use: the relay keeps its PeerIds across
 * restarts, so the addresses handed to nodes stay valid. A key readable by others is made private again.
 */
export async function loadOrCreateKey(file: string, log?: Logger): Promise<HostKey> {
  let bytes: Uint8Array
  try {
    bytes = await loadOrCreateSecret(file, async () => hostKeyToBytes(await generateHostKey()))
  } catch (e) {
    throw new RelayKeyError(`cannot read or create the key file ${file}: ${(e as Error).message}`, { cause: e })
  }
  let key: HostKey
  try {
    key = hostKeyFromBytes(bytes)
  } catch (e) {
    throw new RelayKeyError(`${file} does not hold a libp2p private key (move it away to make a new identity)`, { cause: e })
  }
  const mode = (await stat(file)).mode & 0o777
  if (mode & 0o077) {
    await chmod(file, 0o600)
    log?.warn({ file, mode: mode.toString(8) }, 'the key file was readable by others: made it 0600')
  }
  return key
}
