import { generateKeyPair, type SignedRecord, signRecord } from '@baran/trust'

/**
 * Credentials of a throwaway account and device for a bare host (scripts, the NAT lab, tests): an account key
 * certifies a fresh device key, which binds the given PeerId. Real nodes get theirs from the identity actor.
 */
export function throwawayCredentials(peerId: string, opts: { name?: string; ttlMs?: number; now?: number } = {}): {
  accountId: string
  deviceId: string
  deviceCert: SignedRecord
  peerBinding: SignedRecord
} {
  const account = generateKeyPair()
  const device = generateKeyPair()
  const issuedAt = opts.now ?? Date.now()
  const expiresAt = issuedAt + (opts.ttlMs ?? 86_400_000)
  const deviceCert = signRecord(
    { type: 'device-cert', v: 1, seq: 0, issuedAt, expiresAt, body: { accountId: account.id, deviceId: device.id, deviceKey: device.signer, name: opts.name ?? 'throwaway' } },
    account.secretKey,
  )
  const peerBinding = signRecord(
    { type: 'peer-binding', v: 1, seq: 0, issuedAt, expiresAt, body: { accountId: account.id, deviceId: device.id, peerId } },
    device.secretKey,
  )
  return { accountId: account.id, deviceId: device.id, deviceCert, peerBinding }
}
