/**
 * Turns what ethers throws into the naming library's typed errors: registry reverts (custom
 * errors decoded with the contract interface), missing gas funds, and an unreachable chain.
 */
import { settleBy, withDeadline } from '@baran/actor/deadline'
import { Interface } from 'ethers'
import { registryAbi } from '../generated/registry-artifact.ts'
import {
  ChainUnavailableError,
  CommitExpiredError,
  CommitmentUnknownError,
  InsufficientFundsError,
  InvalidClaimError,
  InvalidNameError,
  isNamingError,
  type NamingError,
  NameTakenError,
  RegistryError,
} from './errors.ts'

export const registryInterface = new Interface(registryAbi)

// Codes of a connection that failed or died: Node socket errors, undici's, and ethers' own.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'TIMEOUT',
  'NETWORK_ERROR',
  'SERVER_ERROR',
])

type Loose = { code?: unknown; data?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown }

/** Every nested error ethers or Node attached to `e` (cause chains, ethers' error/info.error). */
function* chain(e: unknown): Generator<Loose> {
  const seen = new Set<unknown>()
  const stack: unknown[] = [e]
  while (stack.length > 0 && seen.size < 32) {
    const x = stack.pop()
    if (typeof x !== 'object' || x === null || seen.has(x)) continue
    seen.add(x)
    const l = x as Loose
    yield l
    stack.push(l.cause, l.error, l.info?.error)
  }
}

/** The name of the registry custom error in `e`, if it carries revert data the ABI knows. */
export function registryErrorName(e: unknown): string | undefined {
  for (const l of chain(e)) {
    if (typeof l.data === 'string' && l.data.startsWith('0x') && l.data.length >= 10) {
      try {
        const parsed = registryInterface.parseError(l.data)
        if (parsed) return parsed.name
      } catch {
        // not one of ours: keep looking
      }
    }
  }
  return undefined
}

/** True when `e` means the chain could not be reached or did not answer in time. */
export function isUnavailable(e: unknown): boolean {
  for (const l of chain(e)) {
    if (typeof l.code === 'string' && UNAVAILABLE_CODES.has(l.code)) return true
  }
  return false
}

/** Maps any failure of a registry call to a NamingError; `what` names the operation for messages. */
export function toNamingError(e: unknown, what: string): NamingError {
  if (isNamingError(e)) return e
  switch (registryErrorName(e)) {
    case 'InvalidName':
      return new InvalidNameError(`${what}: the registry rejected the name`, { cause: e })
    case 'NameTaken':
      return new NameTakenError(undefined, { cause: e })
    case 'CommitmentUnknown':
      return new CommitmentUnknownError(undefined, { cause: e })
    case 'CommitmentExpired':
      return new CommitExpiredError(undefined, { cause: e })
    case 'InvalidSignatureLength':
      return new InvalidClaimError('signature must be 64 bytes', { cause: e })
    case 'CommitmentTooNew':
      return new RegistryError(`${what}: commitment too new`, { cause: e })
  }
  for (const l of chain(e)) {
    if (l.code === 'INSUFFICIENT_FUNDS') return new InsufficientFundsError(undefined, { cause: e })
  }
  if (isUnavailable(e)) return new ChainUnavailableError(`${what}: chain unavailable`, { cause: e })
  return new RegistryError(`${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e })
}

/** Rejects with ChainUnavailableError when `p` takes longer than `ms` (`p` goes on; its late rejection is handled). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(ms, [], (signal) => settleBy(p, signal, () => new ChainUnavailableError(`${what}: no answer within ${ms} ms`)))
}
