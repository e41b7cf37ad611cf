/**
 * Devices this host knows to be revoked by their account. A revocation is final (a device is never un-revoked),
 * so the set only grows: what the owner of the host said (its own account's list, revocations it looked up) is
 * kept for the host's life, and what merely arrived in other peers' HELLOs is kept up to a bound, oldest first
 * out, so that an account listing thousands of made-up devices cannot grow memory or push the others out.
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

  /** Records a revocation; `told` ones (from the host's owner) are never evicted. Returns true if it was new. */
  add(accountId: string, deviceId: string, told: boolean): boolean {
    const k = key(accountId, deviceId)
    if (this.told.has(k)) return false
    if (told) {
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
