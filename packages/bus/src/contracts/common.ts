import { z } from 'zod'

/** A 40-hex account or device ID (160-bit hash of an Ed25519 public key, like a Jami ID). */
export const IdSchema = z.string().regex(/^[0-9a-f]{40}$/, 'a 40-char lowercase hex ID')
/** A base64url Ed25519 public key. */
export const KeySchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url 32-byte key')
/** Standard base64 for binary payloads on the bus. */
export const Base64Schema = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64')
export const EthAddressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x Ethereum address')

/**
 * A signed record as it travels on the bus. Only its shape is checked here: every receiver verifies it with
 * @baran/trust (the bus depends on nothing of ours).
 */
export const SignedRecordWireSchema = z.object({
  type: z.string().max(64),
  v: z.number().int(),
  signer: z.string().max(64),
  seq: z.number().int().nonnegative(),
  issuedAt: z.number().int(),
  expiresAt: z.number().int(),
  body: z.unknown(),
  sig: z.string().max(128),
})
export type SignedRecordWire = z.infer<typeof SignedRecordWireSchema>

/**
 * A signed record of one known type, its body's fields typed. The sender may pass any record (its `type` is a string,
 * as @baran/trust types it); the receiver gets the literal type. Bodies are loose objects: a field the schema does not
 * name passes through untouched (parsing must never change what was signed); @baran/trust still verifies the
 * signature and refuses any field its strict body schemas do not know.
 */
function signedRecordWire<T extends string, S extends z.ZodRawShape>(type: T, body: S) {
  return SignedRecordWireSchema.extend({ type: z.string().max(64).pipe(z.literal(type)), body: z.looseObject(body) })
}
const deviceName = z.string().max(64)
const peerId = z.string().max(128)
/** 'device-cert': the account key certifies a device key. */
export const DeviceCertWireSchema = signedRecordWire('device-cert', { accountId: IdSchema, deviceId: IdSchema, deviceKey: KeySchema, name: deviceName })
/** 'peer-binding': a device binds its libp2p PeerId. */
export const PeerBindingWireSchema = signedRecordWire('peer-binding', { accountId: IdSchema, deviceId: IdSchema, peerId })
/** 'revocations': the account's revoked devices. */
export const RevocationsWireSchema = signedRecordWire('revocations', {
  accountId: IdSchema,
  devices: z.array(z.looseObject({ deviceId: IdSchema, revokedAt: z.number().int() })).max(1024),
})
/** 'device-list': the account's current devices. */
export const DeviceListWireSchema = signedRecordWire('device-list', {
  accountId: IdSchema,
  devices: z.array(z.looseObject({ deviceId: IdSchema, deviceKey: KeySchema, name: deviceName })).max(64),
})
/** 'presence': where a device can be reached now. */
export const PresenceWireSchema = signedRecordWire('presence', { accountId: IdSchema, deviceId: IdSchema, peerId, addrs: z.array(z.string().max(512)).max(32) })
export type DeviceCertWire = z.infer<typeof DeviceCertWireSchema>
export type PeerBindingWire = z.infer<typeof PeerBindingWireSchema>
export type RevocationsWire = z.infer<typeof RevocationsWireSchema>
export type DeviceListWire = z.infer<typeof DeviceListWireSchema>
export type PresenceWire = z.infer<typeof PresenceWireSchema>

/** A libp2p multiaddr as text (checked by libp2p where it is used). */
export const MultiaddrSchema = z.string().min(1).max(512)
