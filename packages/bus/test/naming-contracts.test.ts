import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { namingContracts, namingInfo, namingLookup, namingRegister, namingRegistration, namingReverse } from '../src/index.ts'

describe('naming contracts', () => {
  it('lists every request contract once, each on the naming actor', () => {
    expect(namingContracts.map((c) => `${c.actor}.${c.verb}`)).toEqual(['naming.register', 'naming.lookup', 'naming.reverse', 'naming.info'])
    expect(namingRegister.callers).toEqual(['cli', 'ui'])
    for (const c of [namingLookup, namingReverse]) expect([...c.callers].sort()).toEqual(['cli', 'discovery', 'outbox', 'ui'])
    expect(namingInfo.callers).toEqual(['*'])
  })

  it('lets any bounded string through as a name: the name rule is the actor’s (invalid_name, not invalid_request)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 256 }), (name) => {
        expect(namingRegister.request.safeParse({ name }).success).toBe(true)
        expect(namingLookup.request.safeParse({ name }).success).toBe(true)
      }),
    )
    expect(namingRegister.request.safeParse({ name: 'a'.repeat(257) }).success).toBe(false)
    expect(namingLookup.request.safeParse({ name: 'alice', extra: 1 }).success).toBe(false)
    expect(namingLookup.request.safeParse({ name: 42 }).success).toBe(false)
  })

  it('takes only 40-hex lowercase account IDs for a reverse lookup', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(namingReverse.request.safeParse({ accountId: s }).success).toBe(/^[0-9a-f]{40}$/.test(s))
      }),
    )
  })

  it('checks registration progress events', () => {
    const hash = `0x${'ab'.repeat(32)}`
    expect(namingRegistration.body.safeParse({ name: 'alice', phase: 'committed', txHash: hash }).success).toBe(true)
    expect(namingRegistration.body.safeParse({ name: 'alice', phase: 'failed', error: { code: 'name_taken', message: 'taken' } }).success).toBe(true)
    expect(namingRegistration.body.safeParse({ name: 'alice', phase: 'done' }).success).toBe(false)
    expect(namingRegistration.body.safeParse({ name: 'alice', phase: 'committed', txHash: '0x12' }).success).toBe(false)
  })
})
