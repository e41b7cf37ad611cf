/**
 * Pure account state transitions: each takes an AccountPayload and returns a new one with the
 * affected records re-signed by the account key. No I/O, no clock: the caller passes `now`.
 */
import {
  type DeviceCertBody,
  type DeviceListBody,
  fromBase64Url,
  idFromPublicKey,
  type RevocationsBody,
  type SignedRecord,
  signRecord,
  toBase64Url,
} from '@baran/trust'
import type { AccountPayload, JsonObject } from './archive.ts'
import {
  DEFAULT_ACCOUNT_RECORD_TTL_MS,
  DEFAULT_DEVICE_CERT_TTL_MS,
  MAX_DEVICE_NAME,
  MAX_DEVICES,
  MAX_REVOCATIONS,
} from './constants.ts'
import {
  AlreadyRevokedError,
  DeviceRevokedError,
  InvalidArgumentError,
  TooManyDevicesError,
  TooManyRevocationsError,
  UnknownDeviceError,
} from './errors.ts'

/** Keys and clock a transition signs with. */
export interface SignContext {
  /** 64-byte tweetnacl account secret key */
  accountSecretKey: Uint8Array
  now: number
  /** @default DEFAULT_ACCOUNT_RECORD_TTL_MS */
  recordTtlMs?: number
}

/** A device to certify. */
export interface NewDevice {
  publicKey: Uint8Array
  name: string
  /** X25519 encryption key (32 bytes): the certificate is then version 2, else version 1 */
  encKey?: Uint8Array
}

/** Trims a device name to what a device-cert accepts (1..64 characters); empty becomes 'device'. */
export function normalizeDeviceName(name: string): string {
  const chars = Array.from(name.trim())
  // Cut by code points, then make sure the UTF-16 length (what zod counts) fits as well.
  let out = chars.slice(0, MAX_DEVICE_NAME).join('')
  while (out.length > MAX_DEVICE_NAME) out = Array.from(out).slice(0, -1).join('')
  return out.length > 0 ? out : 'device'
}

/** Checks a device name given by a caller: a string of 1..64 characters. */
export function checkDeviceName(name: unknown): string {
  if (typeof name !== 'string' || name.length < 1 || name.length > MAX_DEVICE_NAME) {
    throw new InvalidArgumentError(`Device name must be a string of 1..${MAX_DEVICE_NAME} characters`)
  }
  return name
}

const accountKeyOf = (ctx: SignContext) => ctx.accountSecretKey.subarray(32)

/** Signs a device certificate: the account key vouches for this device key and name. */
export function signDeviceCert(
  ctx: SignContext,
  device: NewDevice,
  seq: number,
  ttlMs = DEFAULT_DEVICE_CERT_TTL_MS,
): SignedRecord<DeviceCertBody> {
  const body: DeviceCertBody = {
    accountId: idFromPublicKey(accountKeyOf(ctx)),
    deviceId: idFromPublicKey(device.publicKey),
    deviceKey: toBase64Url(device.publicKey),
    name: device.name,
    ...(device.encKey ? { encKey: toBase64Url(device.encKey) } : {}),
  }
  return signRecord(
    { type: 'device-cert', v: device.encKey ? 2 : 1, seq, issuedAt: ctx.now, expiresAt: ctx.now + ttlMs, body },
    ctx.accountSecretKey,
  )
}

function signDeviceList(ctx: SignContext, seq: number, devices: DeviceListBody['devices']): SignedRecord<DeviceListBody> {
  const accountId = idFromPublicKey(accountKeyOf(ctx))
  const ttl = ctx.recordTtlMs ?? DEFAULT_ACCOUNT_RECORD_TTL_MS
  return signRecord(
    { type: 'device-list', v: 1, seq, issuedAt: ctx.now, expiresAt: ctx.now + ttl, body: { accountId, devices } },
    ctx.accountSecretKey,
  )
}

function signRevocations(ctx: SignContext, seq: number, devices: RevocationsBody['devices']): SignedRecord<RevocationsBody> {
  const accountId = idFromPublicKey(accountKeyOf(ctx))
  const ttl = ctx.recordTtlMs ?? DEFAULT_ACCOUNT_RECORD_TTL_MS
  return signRecord(
    { type: 'revocations', v: 1, seq, issuedAt: ctx.now, expiresAt: ctx.now + ttl, body: { accountId, devices } },
    ctx.accountSecretKey,
  )
}

/** A new account payload with one device (the creating one), no revocations, no contacts. */
export function newAccountPayload(
  ctx: SignContext,
  eth: { privateKey: string; address: string },
  device: NewDevice,
  certSeq: number,
): AccountPayload {
  const cert = signDeviceCert(ctx, device, certSeq)
  const { deviceId, deviceKey, name } = cert.body
  return {
    accountSecretKey: toBase64Url(ctx.accountSecretKey),
    ethPrivateKey: eth.privateKey,
    ethAddress: eth.address,
    deviceList: signDeviceList(ctx, 1, [{ deviceId, deviceKey, name }]),
    revocations: signRevocations(ctx, 1, []),
    deviceCerts: [cert],
    contacts: [],
    config: {} as JsonObject,
    createdAt: ctx.now,
  }
}

/**
 * Certifies a device and lists it (device-list seq+1). Re-certifying a listed device renews its
 * certificate (and renames it). Throws DeviceRevokedError or TooManyDevicesError.
 */
export function withDevice(
  payload: AccountPayload,
  ctx: SignContext,
  device: NewDevice,
  certSeq: number,
): { payload: AccountPayload; cert: SignedRecord<DeviceCertBody> } {
  const deviceId = idFromPublicKey(device.publicKey)
  if (payload.revocations.body.devices.some((d) => d.deviceId === deviceId)) {
    throw new DeviceRevokedError(`Device ${deviceId} has been revoked and cannot be certified again`)
  }
  const listed = payload.deviceList.body.devices
  if (!listed.some((d) => d.deviceId === deviceId) && listed.length >= MAX_DEVICES) {
    throw new TooManyDevicesError(`The device list already holds ${MAX_DEVICES} devices`)
  }
  const cert = signDeviceCert(ctx, device, certSeq)
  const entry = { deviceId, deviceKey: cert.body.deviceKey, name: cert.body.name }
  const devices = [...listed.filter((d) => d.deviceId !== deviceId), entry]
  return {
    cert,
    payload: {
      ...payload,
      deviceList: signDeviceList(ctx, payload.deviceList.seq + 1, devices),
      deviceCerts: [...payload.deviceCerts.filter((c) => c.body.deviceId !== deviceId), cert],
    },
  }
}

/**
 * Revokes a listed device: revocations seq+1 (with revokedAt = now), the device leaves the device
 * list (seq+1) and its certificate is dropped. Throws AlreadyRevokedError, UnknownDeviceError or
 * TooManyRevocationsError. (Refusing to revoke the caller's own device is the store's job.)
 */
export function withRevoked(payload: AccountPayload, ctx: SignContext, deviceId: string): AccountPayload {
  const revoked = payload.revocations.body.devices
  if (revoked.some((d) => d.deviceId === deviceId)) throw new AlreadyRevokedError(`Device ${deviceId} is already revoked`)
  const listed = payload.deviceList.body.devices
  if (!listed.some((d) => d.deviceId === deviceId)) throw new UnknownDeviceError(`Device ${deviceId} is not in the device list`)
  if (revoked.length >= MAX_REVOCATIONS) throw new TooManyRevocationsError(`The revocation list already holds ${MAX_REVOCATIONS} devices`)
  return {
    ...payload,
    revocations: signRevocations(ctx, payload.revocations.seq + 1, [...revoked, { deviceId, revokedAt: ctx.now }]),
    deviceList: signDeviceList(
      ctx,
      payload.deviceList.seq + 1,
      listed.filter((d) => d.deviceId !== deviceId),
    ),
    deviceCerts: payload.deviceCerts.filter((c) => c.body.deviceId !== deviceId),
  }
}

/**
 * Re-signs (seq+1) the device list and revocations if they expire within `windowMs`, and renews
 * the certificate of `ownDevice` likewise. Returns the same object when nothing needed renewal.
 */
export function refreshed(
  payload: AccountPayload,
  ctx: SignContext,
  ownDevice: { deviceId: string; certSeq: number },
  windowMs: number,
): AccountPayload {
  const due = (r: SignedRecord) => r.expiresAt - ctx.now <= windowMs
  let next = payload
  if (due(next.deviceList)) {
    next = { ...next, deviceList: signDeviceList(ctx, next.deviceList.seq + 1, next.deviceList.body.devices) }
  }
  if (due(next.revocations)) {
    next = { ...next, revocations: signRevocations(ctx, next.revocations.seq + 1, next.revocations.body.devices) }
  }
  const own = next.deviceCerts.find((c) => c.body.deviceId === ownDevice.deviceId)
  if (own && due(own)) {
    const { deviceKey, name } = own.body
    const encKey = 'encKey' in own.body ? fromBase64Url(own.body.encKey) : undefined
    const cert = signDeviceCert(ctx, { publicKey: fromBase64Url(deviceKey), name, ...(encKey ? { encKey } : {}) }, ownDevice.certSeq)
    next = { ...next, deviceCerts: next.deviceCerts.map((c) => (c === own ? cert : c)) }
  }
  return next
}

/**
 * Re-issues this device's certificate with its encryption key (version 2), leaving the device list as it is (its
 * entries carry no encryption key). For stores written before version 2.
 */
export function withEncryptionKey(payload: AccountPayload, ctx: SignContext, deviceId: string, encKey: Uint8Array, certSeq: number): AccountPayload {
  const own = payload.deviceCerts.find((c) => c.body.deviceId === deviceId)
  if (!own) throw new UnknownDeviceError(`Device ${deviceId} has no certificate`)
  const cert = signDeviceCert(ctx, { publicKey: fromBase64Url(own.body.deviceKey), name: own.body.name, encKey }, certSeq)
  return { ...payload, deviceCerts: payload.deviceCerts.map((c) => (c === own ? cert : c)) }
}
