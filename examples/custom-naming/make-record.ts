import { type KeyPair, nameClaimMessage, signDetached } from '@baran/trust'
import type { NameEntry, NamesFile } from './static-naming.ts'

/** Signs a names-file entry for `name` with an account key pair (what a lab admin runs to add a name). */
export function makeEntry(name: string, account: KeyPair, owner: string, file: Pick<NamesFile, 'chainId' | 'registry'>): NameEntry {
  const sig = signDetached(nameClaimMessage({ name, owner, chainId: BigInt(file.chainId), registry: file.registry }), account.secretKey)
  return { accountId: account.id, publicKey: account.signer, owner, signature: sig }
}
