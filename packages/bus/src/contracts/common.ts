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

/** A libp2p multiaddr as text (checked by libp2p where it is used). */
export const MultiaddrSchema = z.string().min(1).max(512)
