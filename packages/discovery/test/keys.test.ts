import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { deviceListKey, parseKey, presenceKey, valueKey } from '../src/index.ts'
import { isBaranKey, keyBytes, targetKey } from '../src/lib/keys.ts'

const id = 'a'.repeat(40)

describe('keys', () => {
  it('builds and parses each namespace', () => {
    expect(presenceKey(id)).toBe(`/baran-presence/${id}`)
    expect(deviceListKey(id)).toBe(`/baran-devices/${id}`)
    expect(valueKey(id)).toBe(`/baran-value/${id}`)
    expect(parseKey(presenceKey(id))).toEqual({ kind: 'presence', key: presenceKey(id), deviceId: id })
    expect(parseKey(keyBytes(deviceListKey(id)))).toEqual({ kind: 'device-list', key: deviceListKey(id), accountId: id })
    expect(parseKey(valueKey(id))).toEqual({ kind: 'value', key: valueKey(id), id })
  })

  it('maps watch targets to keys', () => {
    expect(targetKey({ deviceId: id })).toBe(presenceKey(id))
    expect(targetKey({ accountId: id })).toBe(deviceListKey(id))
    expect(targetKey(valueKey(id))).toBe(valueKey(id))
  })

  it.each([
    ['/baran-presence/', 'missing id'],
    [`/baran-presence/${'A'.repeat(40)}`, 'uppercase id'],
    [`/ipns/${id}`, 'foreign namespace'],
    [`baran-presence/${id}`, 'no leading slash'],
    [`/baran-presence/${id}/x`, 'extra segment'],
    ['', 'empty'],
  ])('rejects %s (%s) with InvalidKeyError', (key) => {
    expect(() => parseKey(key)).toThrow(expect.objectContaining({ name: 'InvalidKeyError', code: 'invalid_key' }))
  })

  it('rejects bad IDs when building keys', () => {
    expect(() => presenceKey('xyz')).toThrow(expect.objectContaining({ name: 'InvalidKeyError' }))
    expect(() => deviceListKey(42 as unknown as string)).toThrow(expect.objectContaining({ name: 'InvalidKeyError' }))
    expect(() => targetKey({} as { deviceId: string })).toThrow(expect.objectContaining({ name: 'InvalidKeyError' }))
  })

  it('never throws anything but InvalidKeyError on arbitrary strings and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 })), (k) => {
        try {
          parseKey(k)
        } catch (err) {
          expect((err as Error).name).toBe('InvalidKeyError')
        }
      }),
    )
  })

  it('round-trips every valid key through bytes', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{40}$/), fc.constantFrom(presenceKey, deviceListKey, valueKey), (hex, make) => {
        const key = make(hex)
        expect(isBaranKey(keyBytes(key))).toBe(true)
        expect(parseKey(keyBytes(key)).key).toBe(key)
      }),
    )
  })

  it('tells Baran keys from others by their bytes', () => {
    expect(isBaranKey(keyBytes('/pk/abc'))).toBe(false)
    expect(isBaranKey(new Uint8Array([0x2f, 0xff, 0xfe]))).toBe(false)
  })
})
