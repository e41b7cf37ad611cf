import { describe, expect, it } from 'vitest'
import { isUnavailable, registryErrorName, registryInterface, toNamingError, withTimeout } from '../src/lib/chain-errors.ts'
import { InvalidNameError } from '../src/lib/errors.ts'

/** Revert data of a registry custom error, as a node returns it. */
const revert = (name: string) => registryInterface.encodeErrorResult(name, [])

describe('toNamingError', () => {
  it.each([
    ['InvalidName', 'InvalidNameError'],
    ['NameTaken', 'NameTakenError'],
    ['CommitmentUnknown', 'CommitmentUnknownError'],
    ['CommitmentExpired', 'CommitExpiredError'],
    ['InvalidSignatureLength', 'InvalidClaimError'],
    ['CommitmentTooNew', 'RegistryError'],
  ])('decodes the %s revert to %s, wherever ethers nests the data', (error, expected) => {
    const data = revert(error)
    for (const e of [
      Object.assign(new Error('x'), { code: 'CALL_EXCEPTION', data }),
      Object.assign(new Error('x'), { code: 'UNKNOWN_ERROR', error: { data } }),
      Object.assign(new Error('x'), { info: { error: { code: 3, data } } }),
      new Error('wrapped', { cause: Object.assign(new Error('x'), { data }) }),
    ]) {
      expect(registryErrorName(e)).toBe(error)
      expect(toNamingError(e, 'op').name).toBe(expected)
    }
  })

  it('maps missing funds, dead connections and timeouts', () => {
    expect(toNamingError(Object.assign(new Error(), { code: 'INSUFFICIENT_FUNDS' }), 'op').name).toBe('InsufficientFundsError')
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'TIMEOUT', 'NETWORK_ERROR', 'SERVER_ERROR']) {
      const e = new Error('outer', { cause: Object.assign(new Error('inner'), { code }) })
      expect(isUnavailable(e)).toBe(true)
      expect(toNamingError(e, 'op')).toMatchObject({ name: 'ChainUnavailableError', code: 'unavailable' })
    }
  })

  it('keeps naming errors, and wraps anything else as RegistryError with the cause', () => {
    const own = new InvalidNameError()
    expect(toNamingError(own, 'op')).toBe(own)
    for (const weird of [new Error('boom'), 'text', null, undefined, 42, { data: '0xdeadbeef' }, { data: revert('NameTaken').slice(0, 9) }]) {
      const e = toNamingError(weird, 'op')
      expect(e).toMatchObject({ name: 'RegistryError', code: 'registry_error' })
      expect(e.cause).toBe(weird)
    }
  })

  it('survives cyclic error graphs', () => {
    const a: Record<string, unknown> = {}
    a.cause = a
    a.error = a
    expect(toNamingError(a, 'op').name).toBe('RegistryError')
  })
})

describe('withTimeout', () => {
  it('rejects with ChainUnavailableError when the promise is too slow', async () => {
    await expect(withTimeout(new Promise(() => {}), 20, 'op')).rejects.toMatchObject({ name: 'ChainUnavailableError' })
    await expect(withTimeout(Promise.resolve(7), 1000, 'op')).resolves.toBe(7)
  })
})
