import { z } from 'zod'

// Shared field schemas. Strict objects everywhere: a field the schema does not know is an error,
// and no schema transforms or defaults values, so what verifies is exactly what was signed.

/** A safe integer (never -0: it has no canonical encoding). */
export const safeInt = () => z.int().refine((n) => !Object.is(n, -0), 'must not be -0')
/** 40 lowercase hex chars (account or device ID). */
export const idSchema = z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-hex-char ID')
/** Canonical base64url of a 32-byte Ed25519 public key (43 chars, last char leaves 2 zero bits). */
export const publicKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, 'must be a base64url 32-byte Ed25519 public key')
/** Canonical base64url of a 64-byte Ed25519 signature (86 chars, last char leaves 4 zero bits). */
export const signatureSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{85}[AQgw]$/, 'must be a base64url 64-byte Ed25519 signature')

const deviceName = z.string().min(1).max(64)
const peerId = z.string().min(1).max(128)

/** Canonical base64url of a 32-byte X25519 public key (same text shape as an Ed25519 key). */
export const x25519KeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, 'must be a base64url 32-byte X25519 public key')

/** 'device-cert' version 1: the account key certifies a device key. Signer: ACCOUNT key. */
export const deviceCertV1BodySchema = z.strictObject({
  accountId: idSchema,
  deviceId: idSchema,
  deviceKey: publicKeySchema,
  name: deviceName,
})

/**
 * 'device-cert' version 2: version 1 plus the device's X25519 encryption key (`encKey`), which sealed envelopes
 * are encrypted to; the account key signs it with the rest of the certificate. Signer: ACCOUNT key.
 */
export const deviceCertV2BodySchema = z.strictObject({
  accountId: idSchema,
  deviceId: idSchema,
  deviceKey: publicKeySchema,
  name: deviceName,
  encKey: x25519KeySchema,
})

/** Either version of a 'device-cert' body (a v2 body is the one with `encKey`). */
export const deviceCertBodySchema = z.union([deviceCertV2BodySchema, deviceCertV1BodySchema])

/** 'peer-binding': a device binds its libp2p PeerId. Signer: DEVICE key. */
export const peerBindingBodySchema = z.strictObject({
  accountId: idSchema,
  deviceId: idSchema,
  peerId,
})

/** 'revocations': the account's full list of revoked devices; seq grows with every change. Signer: ACCOUNT key. */
export const revocationsBodySchema = z.strictObject({
  accountId: idSchema,
  devices: z.array(z.strictObject({ deviceId: idSchema, revokedAt: safeInt() })).max(1024),
})

/** 'device-list': the account's current devices; seq grows with every change. Signer: ACCOUNT key. */
export const deviceListBodySchema = z.strictObject({
  accountId: idSchema,
  devices: z.array(z.strictObject({ deviceId: idSchema, deviceKey: publicKeySchema, name: deviceName })).max(64),
})

/** 'presence': where a device can be reached now. Signer: DEVICE key. */
export const presenceBodySchema = z.strictObject({
  accountId: idSchema,
  deviceId: idSchema,
  peerId,
  addrs: z.array(z.string().max(512)).max(32),
})

export type DeviceCertBody = z.infer<typeof deviceCertBodySchema>
export type DeviceCertV1Body = z.infer<typeof deviceCertV1BodySchema>
export type DeviceCertV2Body = z.infer<typeof deviceCertV2BodySchema>
export type PeerBindingBody = z.infer<typeof peerBindingBodySchema>
export type RevocationsBody = z.infer<typeof revocationsBodySchema>
export type DeviceListBody = z.infer<typeof deviceListBodySchema>
export type PresenceBody = z.infer<typeof presenceBodySchema>

/** Body schema of each record type, any accepted version (zod 4); versionedBodySchema is the one to check a record with. */
export const bodySchemas = {
  'device-cert': deviceCertBodySchema,
  'peer-binding': peerBindingBodySchema,
  revocations: revocationsBodySchema,
  'device-list': deviceListBodySchema,
  presence: presenceBodySchema,
} as const

/** The record type names. */
export type RecordType = keyof typeof bodySchemas

/** The body type of record type T. */
export type BodyOf<T extends RecordType> = z.infer<(typeof bodySchemas)[T]>

/** Which key signs a record type. */
export type SignerRole = 'account' | 'device'

/** Read-only description of the known record types: current version and which key signs them. */
export const recordTypes: { readonly [T in RecordType]: { readonly v: number; readonly signer: SignerRole } } =
  Object.freeze({
    'device-cert': Object.freeze({ v: 2, signer: 'account' }),
    'peer-binding': Object.freeze({ v: 1, signer: 'device' }),
    revocations: Object.freeze({ v: 1, signer: 'account' }),
    'device-list': Object.freeze({ v: 1, signer: 'account' }),
    presence: Object.freeze({ v: 1, signer: 'device' }),
  })

/**
 * The versions of each record type that still verify (the current one last). A device-cert of version 1 (no
 * encryption key) keeps verifying, so certificates issued before version 2 stay valid until they expire.
 */
export const acceptedVersions: { readonly [T in RecordType]: readonly number[] } = Object.freeze({
  'device-cert': Object.freeze([1, 2]),
  'peer-binding': Object.freeze([1]),
  revocations: Object.freeze([1]),
  'device-list': Object.freeze([1]),
  presence: Object.freeze([1]),
})

/** The body schema of version `v` of a record type (only versions in acceptedVersions). */
export function versionedBodySchema(type: RecordType, v: number): z.ZodType {
  if (type === 'device-cert') return v === 1 ? deviceCertV1BodySchema : deviceCertV2BodySchema
  return bodySchemas[type]
}

/** True if `s` names a known record type. */
export function isRecordType(s: unknown): s is RecordType {
  return typeof s === 'string' && Object.hasOwn(recordTypes, s)
}
