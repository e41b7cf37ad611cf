/**
 * The device's X25519 encryption key (for envelopes): a fresh one for a new device, and the
 * migration that gives one to a device whose store was written before these keys existed.
 */
import { encryptionKeyPairFromSeed, fromBase64Url, idFromPublicKey } from '@baran/trust'
import nacl from 'tweetnacl'
import { type SignContext, withEncryptionKey } from './account.ts'
import type { StoreContent } from './store-file.ts'

/** A new X25519 encryption key: the seed the store keeps and the public key the certificate carries. */
export async function newEncryptionKey(): Promise<{ seed: Uint8Array; publicKey: Uint8Array }> {
  const seed = nacl.randomBytes(32)
  const { publicKey } = await encryptionKeyPairFromSeed(seed)
  return { seed, publicKey }
}

/**
 * Migrates store content without an `encSeed` (written before encryption keys existed): a new key
 * for this device and its certificate re-issued as version 2 carrying it, with sequence `certSeq`.
 */
export async function withDeviceEncryptionKey(content: StoreContent, now: number, certSeq: number): Promise<StoreContent> {
  const enc = await newEncryptionKey()
  const deviceId = idFromPublicKey(content.deviceSecretKey.subarray(32))
  const ctx: SignContext = { accountSecretKey: fromBase64Url(content.account.accountSecretKey), now }
  const account = withEncryptionKey(content.account, ctx, deviceId, enc.publicKey, certSeq)
  return { ...content, account, encSeed: enc.seed }
}
