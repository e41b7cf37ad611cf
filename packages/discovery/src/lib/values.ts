import { randomBytes } from 'node:crypto'
import { canonicalDecode, canonicalEncode, fromBase64Url, toBase64Url } from '@baran/trust'
import { bytesEqual, sha256 } from './bytes.ts'
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_MAX_VALUE_BYTES, MAX_VALUE_TTL_MS } from './constants.ts'
import {
  BadDeleteTokenError,
  InvalidTtlError,
  MalformedValueError,
  ValueExpiredError,
  ValueOccupiedError,
  ValueTooLargeError,
} from './errors.ts'

/**
 * Opaque values: unsigned blobs with a life (TTL ≤ 1 day) and a size limit, stored under
 * `/baran-value/<40 hex>`. Nobody signs them, so a storing node applies first-writer-wins while
 * a value lives: only a tombstone carrying the token whose SHA-256 is the value's `deleteHash`
 * may replace it. On the wire: canonical JSON
 *   { v: 1, data: b64url, deleteHash: b64url, expiresAt }   or   { v: 1, tombstone: b64url token, expiresAt }.
 */

/** A decoded opaque value or tombstone. */
export type OpaqueValue =
  | { kind: 'data'; data: Uint8Array; deleteHash: Uint8Array; expiresAt: number }
  | { kind: 'tombstone'; token: Uint8Array; expiresAt: number }

/** Limits a node applies to opaque values. */
export interface ValueLimits {
  /** ms since epoch. @default Date.now() */
  now?: number
  /** @default 16384 */
  maxValueBytes?: number
  /** @default 60_000 */
  clockSkewMs?: number
}

const MIN_TOKEN_BYTES = 16
const MAX_TOKEN_BYTES = 64

/** SHA-256 of a delete token (what a value carries). */
export function deleteHashOf(token: Uint8Array): Uint8Array {
  return sha256(token)
}

/**
 * Random bytes for delete tokens, drawn 64 tokens at a time: one randomBytes call costs ~40 µs
 * after the process was idle (~2 µs hot), and every putValue needs a token. Each token is copied
 * out and its bytes in the pool zeroed, so no two tokens share memory.
 */
const TOKEN_BYTES = 32
let tokenPool = new Uint8Array(0)
let tokenAt = 0

/** A fresh random 32-byte delete token. */
export function newDeleteToken(): Uint8Array {
  if (tokenAt + TOKEN_BYTES > tokenPool.length) {
    tokenPool = new Uint8Array(randomBytes(TOKEN_BYTES * 64))
    tokenAt = 0
  }
  const token = tokenPool.slice(tokenAt, tokenAt + TOKEN_BYTES)
  tokenPool.fill(0, tokenAt, tokenAt + TOKEN_BYTES)
  tokenAt += TOKEN_BYTES
  return token
}

/** Check ttlMs is a positive integer no longer than a day. */
export function checkTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_VALUE_TTL_MS) {
    throw new InvalidTtlError(`ttlMs must be an integer in 1..${MAX_VALUE_TTL_MS}`)
  }
  return ttlMs
}

function checkToken(token: unknown): Uint8Array {
  if (!(token instanceof Uint8Array) || token.length < MIN_TOKEN_BYTES || token.length > MAX_TOKEN_BYTES) {
    throw new MalformedValueError(`delete token must be ${MIN_TOKEN_BYTES}..${MAX_TOKEN_BYTES} bytes`)
  }
  return token
}

/** Envelope bytes of a value. Throws ValueTooLargeError over maxValueBytes. */
export function encodeValue(
  data: Uint8Array,
  opts: { expiresAt: number; deleteToken: Uint8Array; maxValueBytes?: number },
): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new MalformedValueError('value must be a Uint8Array')
  const max = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  if (data.length > max) throw new ValueTooLargeError(`value is ${data.length} bytes, over the ${max}-byte limit`)
  const deleteHash = deleteHashOf(checkToken(opts.deleteToken))
  return canonicalEncode({ v: 1, data: toBase64Url(data), deleteHash: toBase64Url(deleteHash), expiresAt: opts.expiresAt })
}

/** Envelope bytes of a tombstone that deletes the value whose deleteHash is SHA-256(token). */
export function encodeTombstone(token: Uint8Array, expiresAt: number): Uint8Array {
  return canonicalEncode({ v: 1, tombstone: toBase64Url(checkToken(token)), expiresAt })
}

/** Largest envelope a node reads before decoding (base64 grows data by 4/3). */
function maxEnvelopeBytes(maxValueBytes: number): number {
  return Math.ceil((maxValueBytes * 4) / 3) + 256
}

function b64(s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string') throw new MalformedValueError(`${what} must be a base64url string`)
  try {
    return fromBase64Url(s)
  } catch (cause) {
    throw new MalformedValueError(`${what} is not base64url`, { cause })
  }
}

/**
 * Decode and check an envelope: shape, size, and life (not expired, not longer than a day past
 * now + skew). Throws MalformedValueError, ValueTooLargeError, ValueExpiredError or InvalidTtlError.
 */
export function verifyValue(bytes: Uint8Array, limits: ValueLimits = {}): OpaqueValue {
  const now = limits.now ?? Date.now()
  const max = limits.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  const skew = limits.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
  if (!(bytes instanceof Uint8Array)) throw new MalformedValueError('value envelope must be bytes')
  if (bytes.length > maxEnvelopeBytes(max)) throw new ValueTooLargeError(`value envelope is ${bytes.length} bytes, over the limit`)
  let obj: unknown
  try {
    obj = canonicalDecode(bytes)
  } catch (cause) {
    throw new MalformedValueError('value envelope is not canonical JSON', { cause })
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new MalformedValueError('value envelope must be an object')
  const e = obj as Record<string, unknown>
  const keys = Object.keys(e).sort().join(',')
  if (e.v !== 1) throw new MalformedValueError('value envelope: unknown version')
  const expiresAt = e.expiresAt
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt)) throw new MalformedValueError('value envelope: bad expiresAt')
  if (expiresAt <= now) throw new ValueExpiredError(`value expired at ${expiresAt}`)
  if (expiresAt > now + MAX_VALUE_TTL_MS + skew) throw new InvalidTtlError('value claims a life longer than a day')
  if (keys === 'data,deleteHash,expiresAt,v') {
    const data = b64(e.data, 'data')
    if (data.length > max) throw new ValueTooLargeError(`value is ${data.length} bytes, over the ${max}-byte limit`)
    const deleteHash = b64(e.deleteHash, 'deleteHash')
    if (deleteHash.length !== 32) throw new MalformedValueError('deleteHash must be 32 bytes')
    return { kind: 'data', data, deleteHash, expiresAt }
  }
  if (keys === 'expiresAt,tombstone,v') {
    const token = b64(e.tombstone, 'tombstone')
    if (token.length < MIN_TOKEN_BYTES || token.length > MAX_TOKEN_BYTES) throw new MalformedValueError('tombstone token has a bad length')
    return { kind: 'tombstone', token, expiresAt }
  }
  throw new MalformedValueError('value envelope: unknown fields')
}

/**
 * May `next` replace `existing` (a live value already stored under the same key)? Identical
 * bytes: yes (a retry). A tombstone whose token matches a data value: yes. Otherwise no:
 * ValueOccupiedError, or BadDeleteTokenError for a tombstone with the wrong token.
 */
export function admitValue(next: OpaqueValue, nextBytes: Uint8Array, existing?: { value: OpaqueValue; bytes: Uint8Array }): void {
  if (existing === undefined || bytesEqual(nextBytes, existing.bytes)) return
  const old = existing.value
  if (old.kind === 'data' && next.kind === 'tombstone') {
    if (bytesEqual(deleteHashOf(next.token), old.deleteHash)) return
    throw new BadDeleteTokenError('tombstone token does not match the stored value')
  }
  throw new ValueOccupiedError(old.kind === 'tombstone' ? 'value was deleted' : 'key holds another live value')
}

/**
 * Best of several values for one key (index): a tombstone that deletes one of the data values
 * wins; otherwise the data value most peers returned (first writers agree; a stray copy loses);
 * otherwise the first tombstone.
 */
export function selectValue(values: Array<OpaqueValue | undefined>): number {
  const data = values.flatMap((v, i) => (v?.kind === 'data' ? [{ v, i }] : []))
  for (let i = 0; i < values.length; i++) {
    const t = values[i]
    if (t?.kind !== 'tombstone') continue
    const h = deleteHashOf(t.token)
    if (data.some((d) => bytesEqual(d.v.deleteHash, h))) return i
  }
  const same = (a: OpaqueValue & { kind: 'data' }, b: OpaqueValue & { kind: 'data' }) =>
    bytesEqual(a.deleteHash, b.deleteHash) && bytesEqual(a.data, b.data)
  let best: { i: number; votes: number } | undefined
  for (const d of data) {
    const votes = data.filter((o) => same(o.v, d.v)).length
    if (best === undefined || votes > best.votes) best = { i: d.i, votes }
  }
  if (best !== undefined) return best.i
  const firstTombstone = values.findIndex((v) => v?.kind === 'tombstone')
  return firstTombstone === -1 ? 0 : firstTombstone
}
