/**
 * What the store's keys may sign for other actors, and how: records only of the types their key
 * signs and naming this account and device, detached signatures never over record bytes and, for
 * the account key, only in known message domains (name claims).
 */
import {
  type BodyOf,
  fromBase64Url,
  idFromPublicKey,
  isRecordType,
  type RecordType,
  recordTypes,
  type SignedRecord,
  type SignerRole,
  signDetached as signDetachedBytes,
  signRecord as signTrustRecord,
} from '@baran/trust'
import { ACCOUNT_DETACHED_DOMAINS, DEFAULT_PEER_BINDING_TTL_MS, DEFAULT_RECORD_TTL_MS, RECORD_DOMAIN_PREFIX, RESERVED_RECORD_TYPES } from './constants.ts'
import { ForbiddenSigningError, InvalidArgumentError } from './errors.ts'
import type { StoreContent } from './store-file.ts'
import type { RecordRequest } from './store-types.ts'

/** Where a signed record gets its time and, when the request has none, its sequence number. */
export interface RecordClock {
  now: () => number
  nextSeq: () => number
}

/** Signs `req` with the key of role `as` after the checks SealedKeyring.signRecord documents. */
export function signRecordAs<T extends RecordType>(content: StoreContent, req: RecordRequest<T>, as: SignerRole, clock: RecordClock): SignedRecord<BodyOf<T>> {
  const { account, deviceSecretKey } = content
  if (typeof req !== 'object' || req === null) throw new InvalidArgumentError('record request must be an object')
  if (as !== 'device' && as !== 'account') throw new InvalidArgumentError("as must be 'device' or 'account'")
  const type: unknown = req.type
  if (typeof type === 'string' && RESERVED_RECORD_TYPES.includes(type)) {
    throw new ForbiddenSigningError(`${type} records are signed only by certifyDevice/revokeDevice`)
  }
  if (isRecordType(type) && recordTypes[type].signer !== as) {
    throw new ForbiddenSigningError(`${type} records are signed by the ${recordTypes[type].signer} key, not the ${as} key`)
  }
  const deviceId = idFromPublicKey(deviceSecretKey.subarray(32))
  const body = req.body as { accountId?: unknown; deviceId?: unknown } | null
  if (typeof body === 'object' && body !== null) {
    if ('accountId' in body && body.accountId !== account.deviceList.body.accountId) {
      throw new ForbiddenSigningError('The record names another account')
    }
    if (as === 'device' && 'deviceId' in body && body.deviceId !== deviceId) throw new ForbiddenSigningError('The record names another device')
  }
  const seq = req.seq ?? clock.nextSeq()
  const ttl = checkTtl(req.ttlMs) ?? (type === 'peer-binding' ? DEFAULT_PEER_BINDING_TTL_MS : DEFAULT_RECORD_TTL_MS)
  const now = clock.now()
  const v = isRecordType(type) ? recordTypes[type].v : 0
  const secretKey = as === 'device' ? deviceSecretKey : fromBase64Url(account.accountSecretKey)
  return signTrustRecord({ type: req.type, v, seq, issuedAt: now, expiresAt: now + ttl, body: req.body }, secretKey)
}

/** Signs `message` detached with the key of role `as` after the checks SealedKeyring.signDetached documents. */
export function signDetachedAs(content: StoreContent, message: Uint8Array, as: SignerRole): string {
  const { account, deviceSecretKey } = content
  if (!(message instanceof Uint8Array)) throw new InvalidArgumentError('message must be a Uint8Array')
  if (startsWith(message, RECORD_DOMAIN_PREFIX)) throw new ForbiddenSigningError('Refused to sign record bytes detached')
  if (as === 'account') {
    if (!ACCOUNT_DETACHED_DOMAINS.some((d) => startsWith(message, d))) {
      throw new ForbiddenSigningError('The account key signs only known message domains (name claims)')
    }
    return signDetachedBytes(message, fromBase64Url(account.accountSecretKey))
  }
  if (as !== 'device') throw new InvalidArgumentError("as must be 'device' or 'account'")
  return signDetachedBytes(message, deviceSecretKey)
}

const utf8 = new TextEncoder()

function startsWith(message: Uint8Array, prefix: string): boolean {
  const p = utf8.encode(prefix)
  if (message.length < p.length) return false
  for (let i = 0; i < p.length; i++) if (message[i] !== p[i]) return false
  return true
}

function checkTtl(ttlMs: unknown): number | undefined {
  if (ttlMs === undefined) return undefined
  if (!Number.isSafeInteger(ttlMs) || (ttlMs as number) <= 0) throw new InvalidArgumentError('ttlMs must be a positive integer')
  return ttlMs as number
}
