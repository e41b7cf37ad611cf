/**
 * verifyChain of a lone device certificate (no peer binding, no revocations), remembered by the certificate's
 * canonical bytes: a device seals with its own certificate and receives from the same senders over and over, and
 * each verification is an Ed25519 check plus a schema parse.
 *
 * Safe because a certificate's verdict only changes with time in one direction: verifyRecord refuses
 * issuedAt > now + skew and expiresAt <= now, all else is a function of the bytes. So a certificate that verified
 * at t₀ with a given skew verifies at any t with t₀ ≤ t < expiresAt and the same skew; any other time, or any
 * revocation list, goes through the full verification.
 *
 * Revocation lists likewise (`checkRevocations`): a device opens what it sealed for itself and receives from the same
 * accounts over and over, each time with the same list, whose verdict is the same function of its bytes and time.
 */
import { canonicalEncode } from './canonical.ts'
import { type VerifiedChain, verifyChain } from './chain.ts'
import { DEFAULT_CLOCK_SKEW_MS } from './constants.ts'
import { MalformedRecordError, RevokedDeviceError, WrongSignerError } from './errors.ts'
import { idFromPublicKey } from './ids.ts'
import { fromBase64Url } from './bytes.ts'
import { b64u } from './node-crypto.ts'
import { verifyRecord } from './record.ts'

interface Entry {
  chain: VerifiedChain
  verifiedAt: number
  clockSkewMs: number
}

const MAX_ENTRIES = 1024
const entries = new Map<string, Entry>()

function keyOf(bytes: Uint8Array): string {
  return typeof Buffer === 'undefined' ? bytes.join(',') : b64u(bytes)
}

/** The remembered chain of these certificate bytes, if it is still valid at `now` with this skew. */
export function cachedChain(certBytes: Uint8Array, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): VerifiedChain | undefined {
  const e = entries.get(keyOf(certBytes))
  if (!e || !Number.isFinite(now) || e.clockSkewMs !== clockSkewMs || now < e.verifiedAt || e.chain.expiresAt === undefined || now >= e.chain.expiresAt) return undefined
  return { ...e.chain }
}

/**
 * verifyChain({ deviceCert, now, clockSkewMs }) of a certificate whose canonical encoding is `certBytes`,
 * from the cache when it can be; throws exactly what verifyChain throws.
 */
export function verifyCertChain(certBytes: Uint8Array, deviceCert: unknown, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): VerifiedChain {
  const hit = cachedChain(certBytes, now, clockSkewMs)
  if (hit) return hit
  const chain = verifyChain({ deviceCert, now, clockSkewMs })
  const key = keyOf(certBytes)
  entries.delete(key)
  if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string)
  entries.set(key, { chain: { ...chain }, verifiedAt: now, clockSkewMs })
  return chain
}

interface RevocationsEntry {
  accountId: string
  revoked: Set<string>
  verifiedAt: number
  expiresAt: number
  clockSkewMs: number
}

const MAX_REVOCATION_LISTS = 256
const revocationLists = new Map<string, RevocationsEntry>()

/**
 * The revocations part of verifyChain({ deviceCert, revocations }) for a chain already verified: the list must be
 * signed by the chain's account key for its account, and must not list the chain's device. The list's verdict is
 * remembered by its canonical bytes and the account key. Throws exactly what verifyChain throws for it.
 */
export function checkRevocations(record: unknown, chain: VerifiedChain, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): void {
  let key: string | undefined
  try {
    key = `${chain.accountKey}.${keyOf(canonicalEncode(record))}`
  } catch {
    // not a plain value: the full verification below says what is wrong with it
  }
  let e = key === undefined ? undefined : revocationLists.get(key)
  if (!e || !Number.isFinite(now) || e.clockSkewMs !== clockSkewMs || now < e.verifiedAt || now >= e.expiresAt) {
    const r = verifyRecord(record, { now, clockSkewMs, type: 'revocations', signer: chain.accountKey })
    if (r.body.accountId !== chain.accountId) throw new MalformedRecordError("revocations: body.accountId is not the signer's ID")
    e = { accountId: r.body.accountId, revoked: new Set(r.body.devices.map((d) => d.deviceId)), verifiedAt: now, expiresAt: r.expiresAt, clockSkewMs }
    if (key !== undefined) {
      revocationLists.delete(key)
      if (revocationLists.size >= MAX_REVOCATION_LISTS) revocationLists.delete(revocationLists.keys().next().value as string)
      revocationLists.set(key, e)
    }
  }
  if (e.revoked.has(chain.deviceId)) throw new RevokedDeviceError(`device ${chain.deviceId} is revoked by account ${e.accountId}`)
}

const selfSigned = new Map<string, Omit<RevocationsEntry, 'revoked'>>()

/**
 * A revocation list on its own (no chain yet): it must verify and be signed by the key of the account it is for.
 * Returns that account's ID; remembered by its canonical bytes like the lists above. Throws what verifyRecord throws,
 * or WrongSignerError.
 */
export function verifyRevocationList(record: unknown, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): string {
  let key: string | undefined
  try {
    key = keyOf(canonicalEncode(record))
  } catch {
    // not a plain value: the full verification below says what is wrong with it
  }
  const e = key === undefined ? undefined : selfSigned.get(key)
  if (e && Number.isFinite(now) && e.clockSkewMs === clockSkewMs && now >= e.verifiedAt && now < e.expiresAt) return e.accountId
  const r = verifyRecord(record, { now, clockSkewMs, type: 'revocations' })
  if (idFromPublicKey(fromBase64Url(r.signer)) !== r.body.accountId) throw new WrongSignerError('revocations: signed by another key than its account')
  if (key !== undefined) {
    selfSigned.delete(key)
    if (selfSigned.size >= MAX_REVOCATION_LISTS) selfSigned.delete(selfSigned.keys().next().value as string)
    selfSigned.set(key, { accountId: r.body.accountId, verifiedAt: now, expiresAt: r.expiresAt, clockSkewMs })
  }
  return r.body.accountId
}
