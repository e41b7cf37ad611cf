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

/**
 * Verdicts remembered by a key, each valid from when it was reached until its `expiresAt`, for the same clock skew
 * (the grounds above); the oldest is forgotten past `max`.
 */
class Verdicts<V> {
  readonly #max: number
  readonly #byKey = new Map<string, { value: V; verifiedAt: number; expiresAt: number; clockSkewMs: number }>()

  constructor(max: number) {
    this.#max = max
  }

  get(key: string | undefined, now: number, clockSkewMs: number): V | undefined {
    const e = key === undefined ? undefined : this.#byKey.get(key)
    if (!e || !Number.isFinite(now) || e.clockSkewMs !== clockSkewMs || now < e.verifiedAt || now >= e.expiresAt) return undefined
    return e.value
  }

  set(key: string | undefined, value: V, at: { now: number; expiresAt: number | undefined; clockSkewMs: number }): void {
    if (key === undefined || at.expiresAt === undefined) return
    this.#byKey.delete(key)
    if (this.#byKey.size >= this.#max) this.#byKey.delete(this.#byKey.keys().next().value as string)
    this.#byKey.set(key, { value, verifiedAt: at.now, expiresAt: at.expiresAt, clockSkewMs: at.clockSkewMs })
  }
}

const chains = new Verdicts<VerifiedChain>(1024)

function keyOf(bytes: Uint8Array): string {
  return typeof Buffer === 'undefined' ? bytes.join(',') : b64u(bytes)
}

/** A record's canonical bytes as a key; undefined when it is not a plain value (the full verification says why). */
function recordKey(record: unknown): string | undefined {
  try {
    return keyOf(canonicalEncode(record))
  } catch {
    return undefined
  }
}

/** The remembered chain of these certificate bytes, if it is still valid at `now` with this skew. */
export function cachedChain(certBytes: Uint8Array, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): VerifiedChain | undefined {
  const hit = chains.get(keyOf(certBytes), now, clockSkewMs)
  return hit && { ...hit }
}

/**
 * verifyChain({ deviceCert, now, clockSkewMs }) of a certificate whose canonical encoding is `certBytes`,
 * from the cache when it can be; throws exactly what verifyChain throws.
 */
export function verifyCertChain(certBytes: Uint8Array, deviceCert: unknown, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): VerifiedChain {
  const hit = cachedChain(certBytes, now, clockSkewMs)
  if (hit) return hit
  const chain = verifyChain({ deviceCert, now, clockSkewMs })
  chains.set(keyOf(certBytes), { ...chain }, { now, expiresAt: chain.expiresAt, clockSkewMs })
  return chain
}

const MAX_REVOCATION_LISTS = 256
/** The devices a list revokes, by the account key it was checked against and its bytes. */
const revocationLists = new Verdicts<{ accountId: string; revoked: Set<string> }>(MAX_REVOCATION_LISTS)

/**
 * The revocations part of verifyChain({ deviceCert, revocations }) for a chain already verified: the list must be
 * signed by the chain's account key for its account, and must not list the chain's device. The list's verdict is
 * remembered by its canonical bytes and the account key. Throws exactly what verifyChain throws for it.
 */
export function checkRevocations(record: unknown, chain: VerifiedChain, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): void {
  const bytes = recordKey(record)
  const key = bytes === undefined ? undefined : `${chain.accountKey}.${bytes}`
  let list = revocationLists.get(key, now, clockSkewMs)
  if (!list) {
    const r = verifyRecord(record, { now, clockSkewMs, type: 'revocations', signer: chain.accountKey })
    if (r.body.accountId !== chain.accountId) throw new MalformedRecordError("revocations: body.accountId is not the signer's ID")
    list = { accountId: r.body.accountId, revoked: new Set(r.body.devices.map((d) => d.deviceId)) }
    revocationLists.set(key, list, { now, expiresAt: r.expiresAt, clockSkewMs })
  }
  if (list.revoked.has(chain.deviceId)) throw new RevokedDeviceError(`device ${chain.deviceId} is revoked by account ${list.accountId}`)
}

/** Lists checked on their own, by their bytes: the account each is for. */
const selfSigned = new Verdicts<string>(MAX_REVOCATION_LISTS)

/**
 * A revocation list on its own (no chain yet): it must verify and be signed by the key of the account it is for.
 * Returns that account's ID; remembered by its canonical bytes like the lists above. Throws what verifyRecord throws,
 * or WrongSignerError.
 */
export function verifyRevocationList(record: unknown, now: number, clockSkewMs = DEFAULT_CLOCK_SKEW_MS): string {
  const key = recordKey(record)
  const known = selfSigned.get(key, now, clockSkewMs)
  if (known !== undefined) return known
  const r = verifyRecord(record, { now, clockSkewMs, type: 'revocations' })
  if (idFromPublicKey(fromBase64Url(r.signer)) !== r.body.accountId) throw new WrongSignerError('revocations: signed by another key than its account')
  selfSigned.set(key, r.body.accountId, { now, expiresAt: r.expiresAt, clockSkewMs })
  return r.body.accountId
}
