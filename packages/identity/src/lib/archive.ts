/**
 * The encrypted account archive: the account's secrets and records, as canonical JSON, sealed in
 * a "BARANARC" container (see container.ts). Pure functions: no files, no store.
 */
import {
  canonicalDecode,
  canonicalEncode,
  type DeviceCertBody,
  type DeviceListBody,
  fromBase64Url,
  idFromPublicKey,
  keyPairFromSeed,
  type RevocationsBody,
  type SignedRecord,
  toBase64Url,
  verifyRecord,
} from '@baran/trust'
import { z } from 'zod'
import {
  ARCHIVE_MAGIC,
  MAX_BLOCKS,
  MAX_CONTACT_NAME,
  MAX_CONTACTS,
  MAX_CONVERSATION_NAME,
  MAX_CONVERSATION_NAMES,
  MAX_DEVICES,
  MAX_REVOCATIONS,
  MAX_TOMBSTONES,
} from './constants.ts'
import { decodeContainer, encodeContainer, parseContainer } from './container.ts'
import { InvalidArgumentError, MalformedArchiveError } from './errors.ts'
import { ethAddressOf } from './eth-address.ts'
import type { ScryptParams } from './kdf.ts'

/** A contact of the account. */
export interface Contact {
  accountId: string
  name?: string
  /** ms since epoch */
  addedAt: number
  /** The last write (add or rename) as a sync register: when and on which device. Absent before sync: addedAt, this device. */
  at?: number
  device?: string
}

/** An account this account blocked: its envelopes are dropped, its messages never reach the inbox. */
export interface Block {
  accountId: string
  /** ms since epoch */
  blockedAt: number
  /** The write as a sync register. Absent before sync: blockedAt, this device. */
  at?: number
  device?: string
}

/** A conversation's name (a 1:1 conversation is keyed by the peer's account ID), as its last sync register write. */
export interface ConversationName {
  accountId: string
  name: string
  at: number
  device: string
}

/** A removed contact or lifted block, kept so that an older add synced from another device does not revive it. */
export interface Tombstone {
  accountId: string
  at: number
  device: string
}

/** A JSON object (integers only: it is stored as canonical JSON). */
export type JsonObject = { [key: string]: unknown }

/** Everything an account consists of; what the archive carries and the key store keeps. */
export interface AccountPayload {
  /** base64url 64-byte tweetnacl secret key (seed ‖ public key) */
  accountSecretKey: string
  /** 0x-prefixed 32-byte hex secp256k1 private key */
  ethPrivateKey: string
  /** checksummed 0x address of ethPrivateKey */
  ethAddress: string
  deviceList: SignedRecord<DeviceListBody>
  revocations: SignedRecord<RevocationsBody>
  /** certificates this account issued, one per listed device */
  deviceCerts: SignedRecord<DeviceCertBody>[]
  contacts: Contact[]
  /** Absent in archives written before blocking existed: none blocked. */
  blocks?: Block[]
  /** Absent in archives written before conversation names existed: none. */
  names?: ConversationName[]
  /** Removals as sync tombstones (absent before sync: none; `names` absent before conversation names). */
  removed?: { contacts: Tombstone[]; blocks: Tombstone[]; names?: Tombstone[] }
  config: JsonObject
  /** ms since epoch */
  createdAt: number
}

const idRe = /^[0-9a-f]{40}$/
const envelope = z.object({
  type: z.string(),
  v: z.int(),
  signer: z.string(),
  seq: z.int(),
  issuedAt: z.int(),
  expiresAt: z.int(),
  body: z.unknown(),
  sig: z.string(),
})

const tombstone = z.strictObject({ accountId: z.string().regex(idRe), at: z.int().min(0), device: z.string().regex(idRe) })

/** zod schema of an AccountPayload (shape only; the records' signatures are checked separately). */
export const accountPayloadSchema = z.strictObject({
  accountSecretKey: z.string(),
  ethPrivateKey: z.string().regex(/^0x[0-9a-f]{64}$/),
  ethAddress: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  deviceList: envelope,
  revocations: envelope,
  deviceCerts: z.array(envelope).max(MAX_DEVICES + MAX_REVOCATIONS),
  contacts: z
    .array(
      z.strictObject({
        accountId: z.string().regex(idRe),
        name: z.string().min(1).max(MAX_CONTACT_NAME).optional(),
        addedAt: z.int().min(0),
        at: z.int().min(0).optional(),
        device: z.string().regex(idRe).optional(),
      }),
    )
    .max(MAX_CONTACTS),
  blocks: z
    .array(z.strictObject({ accountId: z.string().regex(idRe), blockedAt: z.int().min(0), at: z.int().min(0).optional(), device: z.string().regex(idRe).optional() }))
    .max(MAX_BLOCKS)
    .optional(),
  names: z
    .array(z.strictObject({ accountId: z.string().regex(idRe), name: z.string().min(1).max(MAX_CONVERSATION_NAME), at: z.int().min(0), device: z.string().regex(idRe) }))
    .max(MAX_CONVERSATION_NAMES)
    .optional(),
  removed: z
    .strictObject({
      contacts: z.array(tombstone).max(MAX_TOMBSTONES),
      blocks: z.array(tombstone).max(MAX_TOMBSTONES),
      names: z.array(tombstone).max(MAX_TOMBSTONES).optional(),
    })
    .optional(),
  config: z.record(z.string(), z.unknown()),
  createdAt: z.int().min(0),
})

/** Checks a record's signature, type and signer but not its expiry (an old archive is still ours). */
function checkAccountRecord<T extends 'device-list' | 'revocations' | 'device-cert'>(record: { issuedAt: number }, type: T, signer: string) {
  return verifyRecord<T>(record, { type, signer, now: record.issuedAt })
}

/**
 * Validates an account payload fully: shape, that the secret key's halves match, that the eth key
 * gives the address, and that every record is signed by the account key for this account.
 * Throws MalformedArchiveError.
 */
export function validateAccountPayload(value: unknown): AccountPayload {
  const parsed = accountPayloadSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new MalformedArchiveError(`Bad account payload at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`, {
      cause: parsed.error,
    })
  }
  const p = parsed.data
  try {
    const sk = fromBase64Url(p.accountSecretKey)
    if (sk.length !== 64) throw new Error('account secret key must be 64 bytes')
    const { signer, id: accountId } = keyPairFromSeed(sk.subarray(0, 32))
    if (signer !== toBase64Url(sk.subarray(32))) throw new Error('account secret key halves do not match')
    if (ethAddressOf(p.ethPrivateKey).toLowerCase() !== p.ethAddress.toLowerCase()) {
      throw new Error('eth private key does not match eth address')
    }
    const list = checkAccountRecord(p.deviceList, 'device-list', signer)
    const revs = checkAccountRecord(p.revocations, 'revocations', signer)
    if (list.body.accountId !== accountId || revs.body.accountId !== accountId) throw new Error('records of another account')
    for (const d of list.body.devices) {
      if (idFromPublicKey(fromBase64Url(d.deviceKey)) !== d.deviceId) throw new Error(`device ${d.deviceId} does not match its key`)
    }
    for (const c of p.deviceCerts) {
      const cert = checkAccountRecord(c, 'device-cert', signer)
      if (cert.body.accountId !== accountId) throw new Error('device cert of another account')
    }
  } catch (cause) {
    throw new MalformedArchiveError(`Inconsistent account payload: ${(cause as Error).message}`, { cause })
  }
  return p as AccountPayload
}

/** Encrypts an account payload into an archive ("BARANARC" container). */
export async function encodeArchive(payload: AccountPayload, password: string, kdf: ScryptParams): Promise<Uint8Array> {
  if (typeof password !== 'string' || password.length === 0) throw new InvalidArgumentError('The archive password must be a non-empty string')
  let bytes: Uint8Array
  try {
    bytes = canonicalEncode(payload)
  } catch (cause) {
    throw new InvalidArgumentError('Account payload is not canonical JSON (floats or undefined values?)', { cause })
  }
  return encodeContainer(ARCHIVE_MAGIC, bytes, password, kdf)
}

/**
 * Decrypts and validates an archive. Throws only NotAnArchiveError, UnsupportedArchiveVersionError,
 * TruncatedArchiveError, WrongPasswordError, TamperedArchiveError or MalformedArchiveError
 * (and InvalidArgumentError if `password` is not a string).
 */
export async function decodeArchive(bytes: Uint8Array, password: string): Promise<AccountPayload> {
  const { payload } = await decodeContainer(bytes, ARCHIVE_MAGIC, password)
  let value: unknown
  try {
    value = canonicalDecode(payload)
  } catch (cause) {
    throw new MalformedArchiveError('Archive payload is not canonical JSON', { cause })
  }
  return validateAccountPayload(value)
}

/** The KDF settings of an archive, read without a password (e.g. to warn that it will be slow). */
export function archiveKdf(bytes: Uint8Array): { name: 'scrypt'; N: number; r: number; p: number } {
  const { name, N, r, p } = parseContainer(bytes, ARCHIVE_MAGIC).header.kdf
  return { name, N, r, p }
}
