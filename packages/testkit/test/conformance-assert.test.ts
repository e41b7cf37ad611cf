import { BusError } from '@baran/bus'
import { describe, expect, it } from 'vitest'
import { expectCode, expectReply, RuleViolation } from '../src/conformance/assert.ts'

describe('conformance assertions', () => {
  it('expectCode returns the error of the expected code', async () => {
    const e = await expectCode(Promise.reject(new BusError('not_found', 'gone')), 'not_found', 'x.lookup')
    expect(e.code).toBe('not_found')
  })

  it('expectCode names the rule when a reply comes instead of the error', async () => {
    await expect(expectCode(Promise.resolve({ name: 'alice' }), 'forged_record', 'naming.lookup: forged')).rejects.toMatchObject({
      name: 'RuleViolation',
      code: 'rule_violation',
      rule: 'naming.lookup: forged',
      message: 'naming.lookup: forged: expected the error code forged_record, got a reply: {"name":"alice"}',
    })
  })

  it('expectCode names the rule and both codes when another error comes', async () => {
    const err = await expectCode(Promise.reject(new BusError('internal', 'boom')), 'not_found', 'r').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RuleViolation)
    expect((err as Error).message).toMatch(/^r: expected the error code not_found, got internal \(BusError: boom\)/)
  })

  it('expectReply names the rule when an error comes instead of a reply', async () => {
    await expect(expectReply(Promise.reject(new BusError('unavailable', 'down')), 'naming.info')).rejects.toMatchObject({ rule: 'naming.info', message: expect.stringContaining('got unavailable') })
  })
})
