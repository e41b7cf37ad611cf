/**
 * What SealedKeyring derives from its content, and its checks of caller input: pure, no file and no lock, so the
 * keyring keeps only the order of operations and the disk.
 */
import { canonicalEncode, type DeviceCertBody, fromBase64Url, idFromPublicKey, type SignedRecord, toBase64Url } from '@baran/trust'
import type { JsonObject } from './archive.ts'
import { InvalidArgumentError } from './errors.ts'
import type { StoreContent } from './store-file.ts'
import type { AccountInfo } from './store-types.ts'

/** The account's ID (as its device list names it). */
export function accountIdOf(content: StoreContent): string {
  return content.account.deviceList.body.accountId
}

/** This node's device ID (from its secret key). */
export function deviceIdOf(content: StoreContent): string {
  return idFromPublicKey(content.deviceSecretKey.subarray(32))
}

/** This node's device certificate (the store always holds it). */
export function ownDeviceCert(content: StoreContent, deviceId = deviceIdOf(content)): SignedRecord<DeviceCertBody> {
  const cert = content.account.deviceCerts.find((c) => c.body.deviceId === deviceId)
  if (cert === undefined) throw new Error(`the store lists no certificate for its own device ${deviceId}`)
  return cert
}

/** The public description of the account and this device; its records are copies (the caller may change them). */
export function accountInfoOf(content: StoreContent): AccountInfo {
  const { account, deviceSecretKey } = content
  const deviceId = deviceIdOf(content)
  const deviceCert = ownDeviceCert(content, deviceId)
  return {
    accountId: accountIdOf(content),
    accountKey: toBase64Url(fromBase64Url(account.accountSecretKey).subarray(32)),
    deviceId,
    deviceKey: toBase64Url(deviceSecretKey.subarray(32)),
    deviceName: deviceCert.body.name,
    ethAddress: account.ethAddress,
    devices: account.deviceList.body.devices.map((d) => ({ ...d, current: d.deviceId === deviceId })),
    revoked: account.revocations.body.devices.map((d) => d.deviceId),
    deviceCert: structuredClone(deviceCert),
    deviceList: structuredClone(account.deviceList),
    revocations: structuredClone(account.revocations),
    createdAt: account.createdAt,
  }
}

/** A password or passphrase: a non-empty string. Throws InvalidArgumentError. */
export function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length === 0) throw new InvalidArgumentError('The password must be a non-empty string')
  return password
}

/** A device public key given as base64url: its 32 bytes. Throws InvalidArgumentError. */
export function decodePublicKey(key: unknown): Uint8Array {
  try {
    const bytes = fromBase64Url(key as string)
    if (bytes.length === 32) return bytes
  } catch {
    // reported below
  }
  throw new InvalidArgumentError('devicePublicKey must be a base64url 32-byte Ed25519 public key')
}

/** A copy of a config object the store file can hold (canonical JSON: integers only). Throws InvalidArgumentError. */
export function checkedConfig(config: unknown): JsonObject {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InvalidArgumentError('config must be a JSON object')
  try {
    canonicalEncode(config as JsonObject) // integers only, no undefined/functions: what the store file can hold
    return structuredClone(config as JsonObject)
  } catch (cause) {
    throw new InvalidArgumentError('config must be JSON with integer numbers only (no floats, undefined or functions)', { cause })
  }
}
