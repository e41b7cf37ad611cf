import { describe, expect, it } from 'vitest'
import { verifyRevocationList } from '../src/lib/chain-cache.ts'
import { account, HOUR, NOW, otherAccount, sign } from './fixtures.ts'

describe('verifyRevocationList (remembered by its bytes)', () => {
  it('returns the account of a list signed by that account, every time, until it expires', () => {
    const list = sign('revocations', { accountId: account.id, devices: [] }, account, { expiresAt: NOW + HOUR })
    for (let i = 0; i < 3; i++) expect(verifyRevocationList(list, NOW)).toBe(account.id)
    expect(() => verifyRevocationList(list, NOW + HOUR)).toThrow(/expired/)
    // before the time it was first checked at: checked again (and valid then)
    expect(verifyRevocationList(list, NOW - 1)).toBe(account.id)
  })

  it('refuses a list signed by another key than its account, a forged signature and garbage, each time', () => {
    const foreign = sign('revocations', { accountId: account.id, devices: [] }, otherAccount)
    const good = sign('revocations', { accountId: account.id, devices: [] }, account)
    const forged = { ...good, seq: 5 }
    for (let i = 0; i < 2; i++) {
      expect(() => verifyRevocationList(foreign, NOW)).toThrow(/another key/)
      expect(() => verifyRevocationList(forged, NOW)).toThrow()
      expect(() => verifyRevocationList({ not: 'a record' }, NOW)).toThrow()
      expect(() => verifyRevocationList(undefined, NOW)).toThrow()
    }
  })
})
