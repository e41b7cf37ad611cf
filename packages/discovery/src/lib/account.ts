import type { RevocationBook } from './policy.ts'
import type { VerifiedDeviceList, VerifiedPresence } from './records.ts'

/** An account's devices with where each can be reached now (what the outbox needs). */
export interface AccountLookup {
  accountId: string
  deviceList: VerifiedDeviceList
  devices: Array<{ deviceId: string; deviceKey: string; name: string; presence?: VerifiedPresence }>
}

/** Where an account's records come from: the DHT node and the LAN node both answer these. */
export interface AccountRecords<Opts> {
  lookupDeviceList(accountId: string, opts: Opts): Promise<VerifiedDeviceList | undefined>
  lookupPresence(deviceId: string, opts: Opts): Promise<VerifiedPresence | undefined>
}

/**
 * An account's devices (revoked ones left out, by the list's own revocations or newer ones `revocations` has
 * seen), each with its presence when one is found that belongs to this account and the listed key.
 */
export async function lookupAccountFrom<Opts>(
  records: AccountRecords<Opts>,
  revocations: Pick<RevocationBook, 'isRevoked'>,
  accountId: string,
  opts: Opts,
): Promise<AccountLookup | undefined> {
  const deviceList = await records.lookupDeviceList(accountId, opts)
  if (deviceList === undefined) return undefined
  const revoked = new Set(deviceList.revocations?.devices ?? [])
  const live = deviceList.devices.filter((d) => !revoked.has(d.deviceId) && !revocations.isRevoked(accountId, d.deviceId))
  const devices = await Promise.all(
    live.map(async (d) => {
      const presence = await records.lookupPresence(d.deviceId, opts).catch(() => undefined)
      // The presence must be this account's, for the listed key.
      const ok = presence !== undefined && presence.accountId === accountId && presence.deviceKey === d.deviceKey
      return ok ? { ...d, presence } : { ...d }
    }),
  )
  return { accountId, deviceList, devices }
}
