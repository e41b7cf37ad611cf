import { ed25519Sign, ed25519Verify } from './ed25519.ts'
import { z } from 'zod'
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from './bytes.ts'
import { canonicalDecode, canonicalEncode } from './canonical.ts'
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_MAX_RECORD_BYTES, RECORD_DOMAIN, SECRET_KEY_BYTES } from './constants.ts'
import {
  BadSignatureError,
  ExpiredRecordError,
  MalformedRecordError,
  NotYetValidError,
  ReplayedRecordError,
  UnknownRecordTypeError,
  WrongSignerError,
} from './errors.ts'
import { acceptedVersions, type BodyOf, isRecordType, type RecordType, versionedBodySchema } from './types.ts'
import { publicKeySchema, safeInt, signatureSchema } from './types.ts'

/** A signed record: the envelope every Baran record travels in. */
export interface SignedRecord<B = unknown> {
  type: RecordType
  v: number
  /** base64url 32-byte Ed25519 public key */
  signer: string
  /** safe integer >= 0; grows with every new version of a record */
  seq: number
  /** ms since epoch */
  issuedAt: number
  /** ms since epoch */
  expiresAt: number
  body: B
  /** base64url 64-byte Ed25519 signature over recordSigningBytes */
  sig: string
}

/** A record before signing: signRecord fills in signer and sig. */
export type UnsignedRecord<B> = Omit<SignedRecord<B>, 'sig' | 'signer'>

// Envelope shape only: `type` is any short string here so that an unknown type is reported as
// UnknownRecordTypeError, not as malformed; the body is checked later against its type's schema.
const envelopeFields = {
  type: z.string().min(1).max(64),
  v: safeInt().min(0),
  signer: publicKeySchema,
  seq: safeInt().min(0),
  issuedAt: safeInt().min(0),
  expiresAt: safeInt().min(0),
  body: z.unknown().refine((b) => b !== undefined, 'body is required'),
}
const envelopeSchema = z.strictObject({ ...envelopeFields, sig: signatureSchema })
const unsignedSchema = z.strictObject({
  type: envelopeFields.type,
  v: envelopeFields.v,
  seq: envelopeFields.seq,
  issuedAt: envelopeFields.issuedAt,
  expiresAt: envelopeFields.expiresAt,
  body: envelopeFields.body,
})

/** zod parse that never throws anything but MalformedRecordError (hostile getters included). */
function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  let result: ReturnType<typeof schema.safeParse>
  try {
    result = schema.safeParse(value)
  } catch (cause) {
    throw new MalformedRecordError(`${what}: could not be read`, { cause })
  }
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''
    throw new MalformedRecordError(`${what}${where}: ${issue?.message ?? 'invalid'}`, { cause: result.error })
  }
  return result.data
}

/** Known type and version, else UnknownRecordTypeError. */
function checkTypeAndVersion(type: string, v: number): RecordType {
  if (!isRecordType(type)) throw new UnknownRecordTypeError(`unknown record type ${JSON.stringify(type)}`)
  if (!acceptedVersions[type].includes(v)) throw new UnknownRecordTypeError(`unknown version ${v} of record type ${type}`)
  return type
}

function parseBody<T extends RecordType>(type: T, v: number, body: unknown): BodyOf<T> {
  return parseOrThrow(versionedBodySchema(type, v) as unknown as z.ZodType<BodyOf<T>>, body, `${type} v${v} body`)
}

/**
 * The bytes an Ed25519 signature covers:
 * utf8("baran.record.v1\0" + type + "\0") || canonicalEncode({type, v, signer, seq, issuedAt, expiresAt, body}).
 * The type in the prefix separates domains: a signature over one type never verifies as another.
 */
export function recordSigningBytes(r: Omit<SignedRecord, 'sig'>): Uint8Array {
  const { type, v, signer, seq, issuedAt, expiresAt, body } = r
  return concatBytes(
    utf8(`${RECORD_DOMAIN}${type}\0`),
    canonicalEncode({ type, v, signer, seq, issuedAt, expiresAt, body }),
  )
}

/**
 * Sign a record with a 64-byte tweetnacl secret key (seed || public key); signer is the public half.
 * Validates type, version, envelope fields and body first (the same errors verifyRecord would give).
 */
export function signRecord<B>(unsigned: UnsignedRecord<B>, secretKey: Uint8Array): SignedRecord<B> {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_BYTES) {
    throw new MalformedRecordError(`secret key must be ${SECRET_KEY_BYTES} bytes`)
  }
  // A signed record may be passed to re-sign it (e.g. `{ ...old, seq: old.seq + 1 }`): its old
  // signer and sig are dropped; any other unknown field is an error.
  let fields: unknown = unsigned
  if (typeof unsigned === 'object' && unsigned !== null && ('sig' in unsigned || 'signer' in unsigned)) {
    const { sig: _sig, signer: _signer, ...rest } = unsigned as UnsignedRecord<B> & { sig?: unknown; signer?: unknown }
    fields = rest
  }
  const u = parseOrThrow(unsignedSchema, fields, 'record')
  const type = checkTypeAndVersion(u.type, u.v)
  const body = parseBody(type, u.v, u.body) as B
  if (u.expiresAt < u.issuedAt) throw new MalformedRecordError('record: expiresAt is before issuedAt')
  const signer = toBase64Url(secretKey.subarray(32))
  const toSign = { type, v: u.v, signer, seq: u.seq, issuedAt: u.issuedAt, expiresAt: u.expiresAt, body }
  const sig = toBase64Url(ed25519Sign(recordSigningBytes(toSign), secretKey))
  return { ...toSign, sig }
}

/** canonicalEncode of the whole record (signature included). */
export function encodeRecord(r: SignedRecord): Uint8Array {
  return canonicalEncode(r)
}

/** Options of decodeRecord. */
export interface DecodeRecordOptions {
  /** Largest accepted encoding in bytes. @default 65536 */
  maxBytes?: number
}

/**
 * Bytes → record: size check, canonical decode, envelope shape check. Does NOT check the type,
 * body or signature: pass the result to verifyRecord. Throws MalformedRecordError.
 */
export function decodeRecord(bytes: Uint8Array, opts: DecodeRecordOptions = {}): SignedRecord {
  if (!(bytes instanceof Uint8Array)) throw new MalformedRecordError('record: expected a Uint8Array')
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_RECORD_BYTES
  if (bytes.length > maxBytes) throw new MalformedRecordError(`record: ${bytes.length} bytes is over the ${maxBytes}-byte limit`)
  // The envelope's `type` is any string here; verifyRecord narrows it to RecordType.
  return parseOrThrow(envelopeSchema, canonicalDecode(bytes), 'record') as SignedRecord
}

/** Options of verifyRecord. */
export interface VerifyRecordOptions<T extends RecordType = RecordType> {
  /** Current time, ms since epoch. @default Date.now() */
  now?: number
  /** How far issuedAt may lie in the future (ms). @default 60_000 */
  clockSkewMs?: number
  /** Required record type. */
  type?: T
  /** Required signer (base64url public key). */
  signer?: string
  /** Reject a record whose seq is <= lastSeq. */
  lastSeq?: number
}

const optionsSchema = z.object({
  // A NaN `now` would make every time comparison false and silently accept expired records.
  now: z.number().refine(Number.isFinite, 'must be a finite number').optional(),
  clockSkewMs: z.number().min(0).refine(Number.isFinite, 'must be a finite number').optional(),
  type: z.string().optional(),
  signer: z.string().optional(),
  lastSeq: z.number().refine((n) => !Number.isNaN(n), 'must be a number').optional(),
})

/** Reject options that would disable a check (NaN times, wrong types): MalformedRecordError. */
export function checkOptions(opts: unknown): void {
  parseOrThrow(optionsSchema, opts, 'options')
}

/**
 * Check a record (decoded, or any value) and return it typed. Checks, in order: envelope shape
 * (MalformedRecordError) → known type and version (UnknownRecordTypeError) → expected type
 * (UnknownRecordTypeError) → body schema (MalformedRecordError) → expected signer
 * (WrongSignerError) → signature (BadSignatureError) → issuedAt > now + skew (NotYetValidError) →
 * expiresAt <= now (ExpiredRecordError) → expiresAt < issuedAt (MalformedRecordError) →
 * seq <= lastSeq (ReplayedRecordError).
 */
export function verifyRecord<T extends RecordType = RecordType>(
  record: unknown,
  opts: VerifyRecordOptions<T> = {},
): SignedRecord<BodyOf<T>> {
  checkOptions(opts)
  const env = parseOrThrow(envelopeSchema, record, 'record')
  const type = checkTypeAndVersion(env.type, env.v)
  if (opts.type !== undefined && opts.type !== type) {
    throw new UnknownRecordTypeError(`expected a ${opts.type} record, got ${type}`)
  }
  const body = parseBody(type as T, env.v, env.body)
  if (opts.signer !== undefined && opts.signer !== env.signer) {
    throw new WrongSignerError(`${type} record signed by an unexpected key`)
  }
  const unsigned = { type, v: env.v, signer: env.signer, seq: env.seq, issuedAt: env.issuedAt, expiresAt: env.expiresAt, body }
  // Shapes were checked by the schemas above, so these decodes cannot fail.
  const ok = ed25519Verify(recordSigningBytes(unsigned), fromBase64Url(env.sig), fromBase64Url(env.signer))
  if (!ok) throw new BadSignatureError(`${type} record: bad signature`)
  const now = opts.now ?? Date.now()
  const skew = opts.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
  if (env.issuedAt > now + skew) throw new NotYetValidError(`${type} record issued in the future (${env.issuedAt} > ${now} + ${skew})`)
  if (env.expiresAt <= now) throw new ExpiredRecordError(`${type} record expired at ${env.expiresAt}`)
  if (env.expiresAt < env.issuedAt) throw new MalformedRecordError(`${type} record: expiresAt is before issuedAt`)
  if (opts.lastSeq !== undefined && env.seq <= opts.lastSeq) {
    throw new ReplayedRecordError(`${type} record: seq ${env.seq} <= last seen ${opts.lastSeq}`)
  }
  return { ...unsigned, type: type as T, sig: env.sig } as SignedRecord<BodyOf<T>>
}
