// Shared test fixtures: deterministic keys and record factories (not a test file).
import { expect } from 'vitest'
import { type KeyPair, keyPairFromSeed } from '../src/lib/detached.ts'
import { isTrustError } from '../src/lib/errors.ts'
import { type SignedRecord, signRecord } from '../src/lib/record.ts'
import type { BodyOf, RecordType } from '../src/lib/types.ts'

export const NOW = 1_800_000_000_000
export const HOUR = 3_600_000

export function seededKey(n: number): KeyPair {
  return keyPairFromSeed(new Uint8Array(32).fill(n))
}

export const account = seededKey(1)
export const device = seededKey(2)
export const otherAccount = seededKey(3)
export const otherDevice = seededKey(4)

export function sign<T extends RecordType>(
  type: T,
  body: BodyOf<T>,
  key: KeyPair,
  over: { seq?: number; issuedAt?: number; expiresAt?: number; v?: number } = {},
): SignedRecord<BodyOf<T>> {
  return signRecord(
    { type, v: over.v ?? 1, seq: over.seq ?? 0, issuedAt: over.issuedAt ?? NOW - HOUR, expiresAt: over.expiresAt ?? NOW + HOUR, body },
    key.secretKey,
  )
}

export function certBody(acc: KeyPair = account, dev: KeyPair = device, name = 'laptop'): BodyOf<'device-cert'> {
  return { accountId: acc.id, deviceId: dev.id, deviceKey: dev.signer, name }
}

export function bindingBody(acc: KeyPair = account, dev: KeyPair = device, peerId = '12D3KooWTestPeer'): BodyOf<'peer-binding'> {
  return { accountId: acc.id, deviceId: dev.id, peerId }
}

/** Run fn and return the error it throws; fails the test if it does not throw. */
export function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a throw')
}

/** Assert fn throws a TrustError with this name and code. */
export function expectTrustError(fn: () => unknown, name: string, code: string): void {
  const e = thrown(fn)
  expect(isTrustError(e), `not a TrustError: ${String(e)}`).toBe(true)
  expect({ name: e.name, code: (e as { code?: string }).code }).toEqual({ name, code })
}

/** Assert fn throws, and only ever a TrustError (never a TypeError, RangeError, …). */
export function expectOnlyTrustError(fn: () => unknown): void {
  const e = thrown(fn)
  if (!isTrustError(e)) throw new Error(`non-TrustError thrown: ${String(e)}`, { cause: e })
}
