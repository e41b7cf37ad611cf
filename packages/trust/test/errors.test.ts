import { describe, expect, it } from 'vitest'
import {
  BadSignatureError,
  ExpiredRecordError,
  isTrustError,
  MalformedRecordError,
  NotYetValidError,
  ReplayedRecordError,
  RevokedDeviceError,
  TrustError,
  UnknownRecordTypeError,
  WrongSignerError,
} from '../src/lib/errors.ts'

const cases = [
  [MalformedRecordError, 'MalformedRecordError', 'malformed'],
  [UnknownRecordTypeError, 'UnknownRecordTypeError', 'unknown_type'],
  [BadSignatureError, 'BadSignatureError', 'bad_signature'],
  [WrongSignerError, 'WrongSignerError', 'wrong_signer'],
  [ExpiredRecordError, 'ExpiredRecordError', 'expired'],
  [NotYetValidError, 'NotYetValidError', 'not_yet_valid'],
  [RevokedDeviceError, 'RevokedDeviceError', 'revoked'],
  [ReplayedRecordError, 'ReplayedRecordError', 'replayed'],
] as const

describe('errors', () => {
  it.each(cases)('%o has name, code, default message and chained cause', (Cls, name, code) => {
    const plain = new Cls()
    expect(plain.name).toBe(name)
    expect(plain.code).toBe(code)
    expect(plain.message.length).toBeGreaterThan(0)
    expect(plain).toBeInstanceOf(TrustError)
    expect(plain).toBeInstanceOf(Error)
    expect(isTrustError(plain)).toBe(true)
    const cause = new Error('root')
    const withCause = new Cls('custom', { cause })
    expect(withCause.message).toBe('custom')
    expect(withCause.cause).toBe(cause)
  })

  it('isTrustError recognises errors by name (duplicate package copies) and rejects others', () => {
    const foreign = Object.assign(new Error('x'), { name: 'ExpiredRecordError', code: 'expired' })
    expect(isTrustError(foreign)).toBe(true)
    expect(isTrustError(new TypeError('x'))).toBe(false)
    expect(isTrustError({ name: 'ExpiredRecordError', code: 'expired' })).toBe(false)
    expect(isTrustError(null)).toBe(false)
  })
})
