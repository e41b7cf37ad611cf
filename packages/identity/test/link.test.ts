import { scryptSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { deriveLinkKeys, generatePin, type LinkKdf, normalizePin, openWithPin, PIN_ALPHABET, sealForPin } from '../src/index.ts'

// A cheap scrypt so the property tests stay quick; the default cost is tested once below.
const fastKdf: LinkKdf = async (pin, salt) => new Uint8Array(scryptSync(pin, salt, 64, { N: 16, r: 1, p: 1 }))
const archive = new TextEncoder().encode('{"account":"archive bytes"}')

describe('device-link PINs', () => {
  it('look like XXXX-XXXX over the unambiguous alphabet', () => {
    const pins = Array.from({ length: 200 }, generatePin)
    for (const pin of pins) {
      expect(pin).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/)
      expect([...pin.replace('-', '')].every((c) => PIN_ALPHABET.includes(c))).toBe(true)
      expect(pin).not.toMatch(/[01ILO]/)
    }
    expect(new Set(pins).size).toBe(200)
  })

  it('normalise case, dashes and spaces; refuse the rest', () => {
    expect(normalizePin('abcd-efgh')).toBe('ABCDEFGH')
    expect(normalizePin(' ABCD EFGH ')).toBe('ABCDEFGH')
    for (const bad of ['ABCD-EFG', 'ABCD-EFGHJ', 'ABCD-EFG0', 'OOOO-OOOO', '', 42 as unknown as string]) {
      expect(() => normalizePin(bad)).toThrow(expect.objectContaining({ name: 'InvalidPinError', code: 'invalid_pin' }))
    }
  })
})

describe('sealForPin / openWithPin', () => {
  it('round-trip any bytes; the location is a 40-hex value id derived from the PIN alone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 1024 }), async (bytes) => {
        const pin = generatePin()
        const sealed = await sealForPin(bytes, pin, fastKdf)
        expect(sealed.key).toMatch(/^[0-9a-f]{40}$/)
        expect(sealed.deleteToken).toHaveLength(32)
        const keys = await deriveLinkKeys(pin.toLowerCase(), fastKdf)
        expect(keys.key).toBe(sealed.key)
        expect(keys.deleteToken).toEqual(sealed.deleteToken)
        expect(await openWithPin(sealed.value, pin, fastKdf)).toEqual(bytes)
      }),
      { numRuns: 25 },
    )
  })

  it('gives WrongPinError for another PIN and LinkExpiredError for nothing found', async () => {
    const sealed = await sealForPin(archive, 'ABCD-EFGH', fastKdf)
    await expect(openWithPin(sealed.value, 'ABCD-EFGJ', fastKdf)).rejects.toMatchObject({ name: 'WrongPinError', code: 'wrong_pin' })
    expect((await deriveLinkKeys('ABCD-EFGJ', fastKdf)).key).not.toBe(sealed.key)
    await expect(openWithPin(undefined, 'ABCD-EFGH', fastKdf)).rejects.toMatchObject({ name: 'LinkExpiredError', code: 'link_expired' })
  })

  it('refuses values that are not link values', async () => {
    await expect(openWithPin(new Uint8Array(10), 'ABCD-EFGH', fastKdf)).rejects.toMatchObject({ name: 'MalformedLinkError', code: 'malformed_link' })
    await expect(openWithPin('x' as unknown as Uint8Array, 'ABCD-EFGH', fastKdf)).rejects.toMatchObject({ name: 'MalformedLinkError' })
    await expect(sealForPin('x' as unknown as Uint8Array, 'ABCD-EFGH', fastKdf)).rejects.toMatchObject({ name: 'MalformedLinkError' })
    await expect(sealForPin(archive, 'nope', fastKdf)).rejects.toMatchObject({ name: 'InvalidPinError', code: 'invalid_pin' })
    const sealed = await sealForPin(archive, 'ABCD-EFGH', fastKdf)
    const tampered = sealed.value.slice()
    tampered[tampered.length - 1] = (tampered.at(-1) as number) ^ 1
    await expect(openWithPin(tampered, 'ABCD-EFGH', fastKdf)).rejects.toMatchObject({ name: 'WrongPinError' })
  })

  it('uses scrypt at full cost by default', async () => {
    const pin = generatePin()
    const sealed = await sealForPin(archive, pin)
    expect(await openWithPin(sealed.value, pin)).toEqual(archive)
    expect((await deriveLinkKeys(pin)).key).toBe(sealed.key)
  })
})
