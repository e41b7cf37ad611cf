/**
 * Device-list sync between the devices of one account. Every device holds the account key, so each
 * may change the device list and revocations, and their seq numbers can collide. The lists are
 * merged as grow-only sets: devices = union of both lists minus every revoked device, revocations
 * = union (earliest revokedAt). A device keeps its own records when they already say that and are
 * newer, adopts the other records verbatim when those say it and are newer, and otherwise signs
 * the merged content with seq = max(seen) + 1, so it wins over both. Devices leave a list only by
 * revocation, so merging in an old list never brings a revoked device back.
 */
import {
  type DeviceListBody,
  fromBase64Url,
  idFromPublicKey,
  type RevocationsBody,
  type SignedRecord,
  signRecord,
  verifyDeviceList,
  verifyRecord,
} from '@baran/trust'
import type { SignContext } from './account.ts'
import type { AccountPayload } from './archive.ts'
import { DEFAULT_ACCOUNT_RECORD_TTL_MS, MAX_DEVICES, MAX_REVOCATIONS } from './constants.ts'
import { TooManyDevicesError, TooManyRevocationsError, UntrustedDeviceListError } from './errors.ts'

/** A device list (and revocations) learnt elsewhere: the DHT, another device. Unverified. */
export interface RemoteDeviceList {
  deviceList: unknown
  revocations?: unknown
}

type Device = DeviceListBody['devices'][number]
type Revoked = RevocationsBody['devices'][number]

/** What a merge did. */
export interface MergeOutcome {
  payload: AccountPayload
  /** The payload differs from the one given (adopted or re-signed records). */
  changed: boolean
  /** This device signed new records: they are the newest and must be published. */
  resigned: boolean
  /** Devices listed now that were not before. */
  added: Device[]
  /** Devices revoked now that were not before. */
  revoked: Revoked[]
}

const byId = (a: { deviceId: string }, b: { deviceId: string }) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0)
const devicesKey = (devices: readonly Device[]) => JSON.stringify([...devices].sort(byId).map((d) => [d.deviceId, d.deviceKey, d.name]))
const revokedKey = (revoked: readonly Revoked[]) => JSON.stringify([...revoked].sort(byId).map((r) => [r.deviceId, r.revokedAt]))

/** Time to check a record at: its own issue time (signature and shape only; an old list is still ours). */
const issuedAtOf = (record: unknown): number => {
  const t = (record as { issuedAt?: unknown } | null)?.issuedAt
  return typeof t === 'number' && Number.isSafeInteger(t) ? t : 0
}

/**
 * Verifies a remote pair as records of this account: signed by its key, well formed, every listed
 * device ID matching its key. Throws UntrustedDeviceListError (cause: the @baran/trust error).
 */
export function verifyRemoteDeviceList(
  remote: RemoteDeviceList,
  accountKey: Uint8Array,
): { deviceList: SignedRecord<DeviceListBody>; revocations: SignedRecord<RevocationsBody> | undefined } {
  if (typeof remote !== 'object' || remote === null) throw new UntrustedDeviceListError('remote device list must be an object')
  const accountId = idFromPublicKey(accountKey)
  const signer = Buffer.from(accountKey).toString('base64url')
  try {
    verifyDeviceList(remote.deviceList, { accountId, now: issuedAtOf(remote.deviceList) })
    if (remote.revocations !== undefined) {
      const r = verifyRecord(remote.revocations, { type: 'revocations', signer, now: issuedAtOf(remote.revocations) })
      if (r.body.accountId !== accountId) throw new Error('revocations of another account')
    }
  } catch (cause) {
    throw new UntrustedDeviceListError(`Not a device list of account ${accountId}: ${(cause as Error).message}`, { cause })
  }
  // The verifiers accepted these exact objects: their fields can be read as signed.
  return {
    deviceList: structuredClone(remote.deviceList) as SignedRecord<DeviceListBody>,
    revocations: remote.revocations === undefined ? undefined : (structuredClone(remote.revocations) as SignedRecord<RevocationsBody>),
  }
}

/**
 * Of a local and a remote record, the one to keep when `same` tells which say the merged content:
 * the newest of those, if it is newer than every record that says something else (ties: local).
 * undefined: neither will do, sign a new one.
 */
function pick<T extends SignedRecord>(local: T, remote: T | undefined, same: (r: T) => boolean): T | undefined {
  const localSame = same(local)
  const remoteSame = remote !== undefined && same(remote)
  if (localSame && (remote === undefined || local.seq > remote.seq || (remoteSame && local.seq >= remote.seq))) return local
  if (remote !== undefined && remoteSame && remote.seq > local.seq) return remote
  return undefined
}

function sign<T extends DeviceListBody | RevocationsBody>(ctx: SignContext, type: 'device-list' | 'revocations', seq: number, body: T): SignedRecord<T> {
  const ttl = ctx.recordTtlMs ?? DEFAULT_ACCOUNT_RECORD_TTL_MS
  return signRecord({ type, v: 1, seq, issuedAt: ctx.now, expiresAt: ctx.now + ttl, body }, ctx.accountSecretKey) as SignedRecord<T>
}

/**
 * Merges a remote device list (and revocations) into the account. Throws UntrustedDeviceListError
 * (not this account's, or malformed), TooManyDevicesError or TooManyRevocationsError (the union is
 * over the limits). `ownDeviceId` keeps this device's certificate even when the merge revokes it
 * (the store still needs it to say who it is; peers refuse it by the revocation list).
 */
export function mergeDeviceLists(payload: AccountPayload, ctx: SignContext, remote: RemoteDeviceList, ownDeviceId: string): MergeOutcome {
  const accountKey = fromBase64Url(payload.accountSecretKey).subarray(32)
  const R = verifyRemoteDeviceList(remote, accountKey)
  const L = { deviceList: payload.deviceList, revocations: payload.revocations }

  // Revocations: union, earliest revokedAt.
  const revokedAt = new Map<string, number>()
  for (const r of [...L.revocations.body.devices, ...(R.revocations?.body.devices ?? [])]) {
    revokedAt.set(r.deviceId, Math.min(revokedAt.get(r.deviceId) ?? Number.POSITIVE_INFINITY, r.revokedAt))
  }
  const revoked: Revoked[] = [...revokedAt].map(([deviceId, at]) => ({ deviceId, revokedAt: at }))
  if (revoked.length > MAX_REVOCATIONS) throw new TooManyRevocationsError(`The merged revocation list would hold ${revoked.length} devices`)

  // Devices: union minus revoked; for a device on both lists, the newer list's entry (its name may have changed).
  const remoteNewer = R.deviceList.seq > L.deviceList.seq
  const entries = new Map<string, Device>()
  for (const d of L.deviceList.body.devices) entries.set(d.deviceId, d)
  for (const d of R.deviceList.body.devices) if (!entries.has(d.deviceId) || remoteNewer) entries.set(d.deviceId, d)
  const devices = [...entries.values()].filter((d) => !revokedAt.has(d.deviceId)).map((d) => ({ ...d }))
  if (devices.length > MAX_DEVICES) throw new TooManyDevicesError(`The merged device list would hold ${devices.length} devices`)

  const wantDevices = devicesKey(devices)
  const wantRevoked = revokedKey(revoked)
  const says = (p: { deviceList: SignedRecord<DeviceListBody>; revocations?: SignedRecord<RevocationsBody> }) =>
    devicesKey(p.deviceList.body.devices) === wantDevices && p.revocations !== undefined && revokedKey(p.revocations.body.devices) === wantRevoked

  const before = new Set(L.deviceList.body.devices.map((d) => d.deviceId))
  const wasRevoked = new Set(L.revocations.body.devices.map((d) => d.deviceId))
  const outcome = (deviceList: SignedRecord<DeviceListBody>, revocations: SignedRecord<RevocationsBody>, resigned: boolean): MergeOutcome => {
    const changed = deviceList !== L.deviceList || revocations !== L.revocations
    const gone = new Set(revocations.body.devices.map((d) => d.deviceId))
    return {
      payload: changed
        ? {
            ...payload,
            deviceList,
            revocations,
            deviceCerts: payload.deviceCerts.filter((c) => c.body.deviceId === ownDeviceId || !gone.has(c.body.deviceId)),
          }
        : payload,
      changed,
      resigned,
      added: deviceList.body.devices.filter((d) => !before.has(d.deviceId)),
      revoked: revocations.body.devices.filter((d) => !wasRevoked.has(d.deviceId)),
    }
  }

  // The pair travels as one bundle ordered by the device list's seq: keep it or adopt it whole.
  const lSays = says(L)
  const rSays = says(R)
  if (lSays && (L.deviceList.seq > R.deviceList.seq || (rSays && L.deviceList.seq >= R.deviceList.seq))) {
    return outcome(L.deviceList, L.revocations, false)
  }
  if (rSays && R.revocations !== undefined && R.deviceList.seq > L.deviceList.seq) return outcome(R.deviceList, R.revocations, false)

  // Otherwise a new device list newer than both; the revocations only if neither record says them.
  const accountId = L.deviceList.body.accountId
  const revocations =
    pick(L.revocations, R.revocations, (r) => revokedKey(r.body.devices) === wantRevoked) ??
    sign(ctx, 'revocations', Math.max(L.revocations.seq, R.revocations?.seq ?? 0) + 1, { accountId, devices: revoked })
  const deviceList = sign(ctx, 'device-list', Math.max(L.deviceList.seq, R.deviceList.seq) + 1, { accountId, devices })
  return outcome(deviceList, revocations, true)
}
