/**
 * Devices this host knows to be revoked by their account. A revocation is final (a device is never un-revoked),
 * so nothing is removed for being old: the host's own account's revoked devices are kept for the host's life
 * (their number is bounded by that account's own signed list), and those of other accounts are kept up to a
 * bound, oldest first out, so that accounts listing thousands of made-up devices cannot grow memory or push the
 * host's own entries out. (A dropped foreign entry is still caught by the caller's `isRevoked` policy.)
 */
import type { SignedRecord } from '@baran/trust'
import { DEFAULT_MAX_LEARNED_REVOCATIONS } from './constants.ts'

const key = (accountId: string, deviceId: string) => `${accountId}/${deviceId}`

export class RevokedDevices {
  private readonly told = new Set<string>()
  private readonly learned = new Set<string>()
  private readonly maxLearned: number

  constructor(maxLearned = DEFAULT_MAX_LEARNED_REVOCATIONS) {
    this.maxLearned = maxLearned
  }

  has(accountId: string, deviceId: string): boolean {
    const k = key(accountId, deviceId)
    return this.told.has(k) || this.learned.has(k)
  }

  /** Records a revocation; `kept` ones (the host's own account) are never evicted. Returns true if it was new. */
  add(accountId: string, deviceId: string, kept: boolean): boolean {
    const k = key(accountId, deviceId)
    if (this.told.has(k)) return false
    if (kept) {
      this.told.add(k)
      return !this.learned.delete(k)
    }
    if (this.learned.has(k)) return false
    this.learned.add(k)
    if (this.learned.size > this.maxLearned) this.learned.delete(this.learned.values().next().value as string)
    return true
  }

  get size(): number {
    return this.told.size + this.learned.size
  }
}

/**
 * The device IDs a 'revocations' record lists. Call it only on a record whose signature was checked (verifyChain
 * did); a body of another shape gives none.
 */
export function revokedDevicesOf(record: SignedRecord | undefined): string[] {
  const devices = (record?.body as { devices?: unknown } | undefined)?.devices
  if (!Array.isArray(devices)) return []
  return devices.flatMap((d) => (typeof (d as { deviceId?: unknown })?.deviceId === 'string' ? [(d as { deviceId: string }).deviceId] : []))
}
