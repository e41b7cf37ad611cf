/**
 * verifyChain of a lone device certificate (no peer binding, no revocations), remembered by the certificate's
 * canonical bytes: a device seals with its own certificate and receives from the same senders over and over, and
 * each verification is an Ed25519 check plus a schema parse.
 *
 * Safe because a certificate's verdict only changes with time in one direction: verifyRecord refuses
 * issuedAt > now + skew and expiresAt <= now, all else is a function of the bytes. So a certificate that verified
 * at t₀ with a given skew verifies at any t with t₀ ≤ t < expiresAt and the same skew; any other time, or any
 * revocation list, goes through the full verification.
 */
import { b64u } from './node-crypto.ts'
import { type VerifiedChain, verifyChain } from './chain.ts'
import { DEFAULT_CLOCK_SKEW_MS } from './constants.ts'

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
