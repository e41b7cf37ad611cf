/**
 * Password → keys with scrypt (memory-hard, node:crypto). One 64-byte output is split in two:
 * the first half is the secretbox key, a hash of the second half is the public `check` value that
 * tells a wrong password apart from a tampered ciphertext without revealing the key.
 */
import { createHash, scrypt } from 'node:crypto'
import { SCRYPT_LIMITS } from './constants.ts'
import { InvalidArgumentError, InvalidKdfParamsError } from './errors.ts'

/** scrypt cost parameters (the salt travels separately). */
export interface ScryptParams {
  N: number
  r: number
  p: number
}

/** What a password derives: the encryption key and the 16-byte check value. */
export interface DerivedKeys {
  encKey: Uint8Array
  check: Uint8Array
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0

/** Throws InvalidKdfParamsError unless the params are safe integers within SCRYPT_LIMITS. */
export function validateScryptParams(params: unknown): asserts params is ScryptParams {
  if (typeof params !== 'object' || params === null) throw new InvalidKdfParamsError('scrypt params must be an object')
  const { N, r, p } = params as Record<string, unknown>
  if (!Number.isSafeInteger(N) || !Number.isSafeInteger(r) || !Number.isSafeInteger(p)) {
    throw new InvalidKdfParamsError('scrypt N, r and p must be integers')
  }
  const n = N as number
  const rr = r as number
  const pp = p as number
  if (!isPowerOfTwo(n) || n < SCRYPT_LIMITS.minN || n > SCRYPT_LIMITS.maxN) {
    throw new InvalidKdfParamsError(`scrypt N must be a power of two in [${SCRYPT_LIMITS.minN}, ${SCRYPT_LIMITS.maxN}]`)
  }
  if (rr < 1 || rr > SCRYPT_LIMITS.maxR) throw new InvalidKdfParamsError(`scrypt r must be in [1, ${SCRYPT_LIMITS.maxR}]`)
  if (pp < 1 || pp > SCRYPT_LIMITS.maxP) throw new InvalidKdfParamsError(`scrypt p must be in [1, ${SCRYPT_LIMITS.maxP}]`)
  if (128 * n * rr * pp > SCRYPT_LIMITS.maxMemBytes) {
    throw new InvalidKdfParamsError('scrypt params need too much memory')
  }
}

/** Memory scrypt needs for these params (128·N·r·p bytes, plus the 128·r·p block buffer). */
export function scryptMemBytes(params: ScryptParams): number {
  return 128 * params.N * params.r * params.p + 128 * params.r * params.p
}

/** Passwords are NFC-normalised so the same typed text derives the same key everywhere. */
export function passwordBytes(password: string): Uint8Array {
  if (typeof password !== 'string') throw new InvalidArgumentError('password must be a string')
  return new TextEncoder().encode(password.normalize('NFC'))
}

/** Derives the encryption key and check value from a password (validates params first). */
export async function deriveKeys(password: string, salt: Uint8Array, params: ScryptParams): Promise<DerivedKeys> {
  validateScryptParams(params)
  const pw = passwordBytes(password)
  // maxmem must cover scrypt's need, or node refuses; leave headroom for its own buffers.
  const maxmem = scryptMemBytes(params) + 32 * 1024 * 1024
  const out = await new Promise<Buffer>((resolve, reject) => {
    scrypt(pw, salt, 64, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)))
  })
  const encKey = new Uint8Array(out.subarray(0, 32))
  const check = new Uint8Array(createHash('sha512').update(out.subarray(32, 64)).digest().subarray(0, 16))
  out.fill(0)
  return { encKey, check }
}
