/**
 * A link offer: the account (what an archive carries) sealed under a PIN for the DHT. Plaintext =
 * brotli(canonical JSON { v: 1, expiresAt, account }); the expiry inside lets the new device refuse a
 * stale offer even if a DHT node kept it too long. Pure functions: no store, no network.
 */
import { canonicalDecode, canonicalEncode, toBase64Url } from '@baran/trust'
import { type AccountPayload, validateAccountPayload } from './archive.ts'
import { compress, decompress } from './compress.ts'
import { DEFAULT_LINK_TTL_MS, LINK_CLOCK_SKEW_MS, MAX_LINK_TTL_MS, MAX_LINK_VALUE_BYTES, MAX_PAYLOAD_BYTES } from './constants.ts'
import { InvalidArgumentError, LinkExpiredError, LinkTooLargeError, MalformedLinkError } from './errors.ts'
import { generatePin, type LinkKdf, openWithPin, scryptKdf, sealForPin } from './link.ts'

/** Shortest offer life accepted (tests use a few seconds). */
const MIN_LINK_TTL_MS = 1_000

/** What the old device puts in the DHT, and the PIN it shows. */
export interface LinkOffer {
  /** "XXXX-XXXX" */
  pin: string
  /** 40 hex: the DHT opaque-value id */
  key: string
  /** the sealed account */
  value: Uint8Array
  /** base64url, 32 bytes: lets the holder delete the offer */
  deleteToken: string
  /** ms since epoch */
  expiresAt: number
}

/** Checks an offer life: an integer in [1 s, 10 min]. Throws InvalidArgumentError. */
export function checkLinkTtl(ttlMs: unknown): number {
  if (ttlMs === undefined) return DEFAULT_LINK_TTL_MS
  if (!Number.isSafeInteger(ttlMs) || (ttlMs as number) < MIN_LINK_TTL_MS || (ttlMs as number) > MAX_LINK_TTL_MS) {
    throw new InvalidArgumentError(`ttlMs must be an integer in [${MIN_LINK_TTL_MS}, ${MAX_LINK_TTL_MS}]`)
  }
  return ttlMs as number
}

/**
 * Seals the account under a fresh PIN (or `opts.pin`). Throws LinkTooLargeError when the sealed
 * value exceeds what a DHT value may carry (16 KiB: an account with thousands of contacts), and
 * InvalidArgumentError for a bad ttl.
 */
export async function sealLinkOffer(
  account: AccountPayload,
  opts: { now: number; ttlMs?: number; pin?: string; kdf?: LinkKdf },
): Promise<LinkOffer> {
  const expiresAt = opts.now + checkLinkTtl(opts.ttlMs)
  let plain: Uint8Array
  try {
    plain = canonicalEncode({ v: 1, expiresAt, account })
  } catch (cause) {
    throw new InvalidArgumentError('Account payload is not canonical JSON', { cause })
  }
  const pin = opts.pin ?? generatePin()
  const sealed = await sealForPin(compress(plain), pin, opts.kdf ?? scryptKdf)
  if (sealed.value.length > MAX_LINK_VALUE_BYTES) {
    throw new LinkTooLargeError(
      `The sealed account is ${sealed.value.length} bytes, over the ${MAX_LINK_VALUE_BYTES}-byte limit of a DHT value: use account export/import instead`,
    )
  }
  return { pin, key: sealed.key, value: sealed.value, deleteToken: toBase64Url(sealed.deleteToken), expiresAt }
}

/**
 * Opens an offer with the PIN and validates the account inside. Throws WrongPinError,
 * LinkExpiredError (undefined value, or past its expiry by more than the clock skew),
 * MalformedLinkError, InvalidPinError.
 */
export async function openLinkOffer(value: Uint8Array | undefined, pin: string, opts: { now: number; kdf?: LinkKdf }): Promise<AccountPayload> {
  const sealed = await openWithPin(value, pin, opts.kdf ?? scryptKdf)
  let parsed: unknown
  try {
    parsed = canonicalDecode(decompress(sealed, MAX_PAYLOAD_BYTES))
  } catch (cause) {
    throw new MalformedLinkError('The link offer opened but holds no valid contents', { cause })
  }
  const o = parsed as { v?: unknown; expiresAt?: unknown; account?: unknown }
  if (typeof o !== 'object' || o === null || o.v !== 1 || !Number.isSafeInteger(o.expiresAt) || Object.keys(o).length !== 3) {
    throw new MalformedLinkError('The link offer has an unknown layout')
  }
  if ((o.expiresAt as number) + LINK_CLOCK_SKEW_MS < opts.now) {
    throw new LinkExpiredError(`This link offer expired at ${new Date(o.expiresAt as number).toISOString()}`)
  }
  try {
    return validateAccountPayload(o.account)
  } catch (cause) {
    throw new MalformedLinkError('The link offer holds no valid account', { cause })
  }
}
