import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { describeNameViolation, NAME_RULES, validateName } from '../src/lib/name-rules.ts'
import { registry, useDevnet } from './helpers.ts'

/** One table, run against the TypeScript rule AND the contract's isValidName. */
const NAME_CASES: Array<[name: string, valid: boolean, why: string]> = [
  ['abc', true, 'minimum length'],
  ['ab', false, 'one below minimum'],
  ['a', false, 'single character'],
  ['', false, 'empty'],
  ['a'.repeat(32), true, 'maximum length'],
  ['a'.repeat(33), false, 'one above maximum'],
  ['a'.repeat(100), false, 'far above maximum'],
  ['alice', true, 'plain lowercase'],
  ['alice42', true, 'digits'],
  ['123', true, 'only digits'],
  ['a_b', true, 'underscore inside'],
  ['_ab', true, 'leading underscore'],
  ['ab_', true, 'trailing underscore'],
  ['___', true, 'only underscores'],
  ['a-b', true, 'hyphen inside'],
  ['a--b', true, 'double hyphen inside'],
  ['-ab', false, 'leading hyphen'],
  ['ab-', false, 'trailing hyphen'],
  ['---', false, 'only hyphens'],
  ['-a-', false, 'hyphens at both edges'],
  ['Alice', false, 'uppercase first letter'],
  ['aLice', false, 'uppercase inside'],
  ['ALICE', false, 'all uppercase'],
  ['ali ce', false, 'space inside'],
  [' alice', false, 'leading space'],
  ['alice ', false, 'trailing space'],
  ['al\tice', false, 'tab'],
  ['al.ice', false, 'dot'],
  ['al@ice', false, 'at sign'],
  ['al/ice', false, 'slash'],
  ['al+ice', false, 'plus'],
  ['alice!', false, 'exclamation mark'],
  ['al\u0000ice', false, 'NUL byte'],
  ['élan', false, 'latin accent'],
  ['ålice', false, 'unicode letter first'],
  ['алиса', false, 'cyrillic'],
  ['名字名字', false, 'CJK'],
  ['ab😀', false, 'emoji'],
  ['ａｂｃ', false, 'fullwidth letters'],
  ['ab\u200b', false, 'zero-width space'],
  ['0x1234', true, 'hex-looking'],
  ['a_-_b', true, 'mixed separators'],
]

describe('validateName', () => {
  it.each(NAME_CASES)('%j → %s (%s)', (name, valid) => {
    expect(validateName(name).ok).toBe(valid)
  })

  it('names the broken part of the rule', () => {
    expect(validateName('ab')).toEqual({ ok: false, reason: 'too_short' })
    expect(validateName('a'.repeat(33))).toEqual({ ok: false, reason: 'too_long' })
    expect(validateName('Abc')).toEqual({ ok: false, reason: 'invalid_character' })
    expect(validateName('-abc')).toEqual({ ok: false, reason: 'hyphen_at_edge' })
    expect(validateName(42)).toEqual({ ok: false, reason: 'not_a_string' })
    expect(validateName(undefined)).toEqual({ ok: false, reason: 'not_a_string' })
    for (const r of ['too_short', 'too_long', 'invalid_character', 'hyphen_at_edge', 'not_a_string'] as const) {
      expect(describeNameViolation(r)).toMatch(/name/)
    }
  })

  it('agrees with a reference regular expression on arbitrary strings and never throws', () => {
    const reference = /^(?!-)[a-z0-9_-]{3,32}(?<!-)$/
    const alphabet = fc.constantFrom(...`${NAME_RULES.alphabet}A Z.é😀`.split(''))
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: alphabet, maxLength: 40 }), fc.string(), fc.anything()), (s) => {
        const v = validateName(s)
        expect(v.ok).toBe(typeof s === 'string' && reference.test(s))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('Registry.isValidName (same table, on chain)', () => {
  const env = useDevnet()

  it.each(NAME_CASES)('%j → %s (%s)', async (name, valid) => {
    expect(await registry(env.devnet).getFunction('isValidName').staticCall(name)).toBe(valid)
  })

  it('agrees with validateName on random candidate strings', async () => {
    const alphabet = fc.constantFrom(...`${NAME_RULES.alphabet}A.é `.split(''))
    const c = registry(env.devnet).getFunction('isValidName')
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: alphabet, minLength: 0, maxLength: 36 }), async (s) => {
        expect(await c.staticCall(s)).toBe(validateName(s).ok)
      }),
      { numRuns: 60 },
    )
  })
})
