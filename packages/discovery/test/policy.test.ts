import { describe, expect, it } from 'vitest'
import { encodeBundle, presenceKey, RecordPolicy, RevocationBook, valueKey } from '../src/index.ts'
import { deviceListKey } from '../src/lib/keys.ts'
import { encodeTombstone, encodeValue, newDeleteToken } from '../src/lib/values.ts'
import { deviceListBundle, makeAccount, makeDevice, presenceBundle, revocationsRecord } from './helpers.ts'

const account = makeAccount()
const device = makeDevice(account)
const key = presenceKey(device.deviceId)
const v = (seq: number, extra: Parameters<typeof presenceBundle>[1] = {}) => encodeBundle(presenceBundle(device, { seq, ...extra }))
const named = (name: string) => expect.objectContaining({ name })

describe('RecordPolicy', () => {
  it('admits newer presence and refuses replays of older or equal seq', () => {
    const p = new RecordPolicy()
    const s1 = v(1)
    const s2 = v(2)
    expect(p.admit(key, s1).changed).toBe(true)
    expect(p.admit(key, s1, s1).changed).toBe(false) // the same bytes again: a retry
    expect(p.admit(key, s2, s1).entry).toMatchObject({ kind: 'presence', seq: 2 })
    expect(() => p.admit(key, s1, s2)).toThrow(named('ReplayedRecordError'))
    expect(() => p.admit(key, v(2), s2)).toThrow(named('ReplayedRecordError')) // same seq, other bytes
    // even once the stored record is gone, the highest seq ever accepted is remembered
    expect(() => p.admit(key, s1)).toThrow(named('ReplayedRecordError'))
  })

  it('refuses a record under a key it does not belong to', () => {
    const p = new RecordPolicy()
    expect(() => p.verify(presenceKey(makeDevice(account).deviceId), v(1))).toThrow(named('KeyMismatchError'))
    expect(() => p.verify(deviceListKey(account.accountId), v(1))).toThrow(expect.objectContaining({ code: expect.any(String) }))
    expect(() => p.verify('/pk/abc', v(1))).toThrow(named('InvalidKeyError'))
  })

  it('learns revocations from one bundle and then refuses the revoked device everywhere', () => {
    const p = new RecordPolicy()
    const s1 = v(1)
    expect(p.verify(key, s1).kind).toBe('presence')
    const phone = makeDevice(account, 'phone')
    p.verify(presenceKey(phone.deviceId), encodeBundle(presenceBundle(phone, { revocations: revocationsRecord(account, [device.deviceId], 5) })))
    expect(p.revocations.isRevoked(account.accountId, device.deviceId)).toBe(true)
    // the cached verification of s1 no longer counts
    expect(() => p.verify(key, s1)).toThrow(named('RevokedDeviceError'))
  })

  it('learns revocations even from a bundle it refuses', () => {
    const p = new RecordPolicy()
    const revoked = v(1, { revocations: revocationsRecord(account, [device.deviceId], 1) })
    expect(() => p.verify(key, revoked)).toThrow(named('RevokedDeviceError'))
    expect(() => p.verify(key, v(2))).toThrow(named('RevokedDeviceError'))
  })

  it('selects the highest seq, skipping invalid values', () => {
    const p = new RecordPolicy()
    expect(p.select(key, [v(1), v(3), new Uint8Array([1, 2]), v(2)])).toBe(1)
    const dl = deviceListKey(account.accountId)
    expect(p.select(dl, [encodeBundle(deviceListBundle(account, [device], { seq: 7 })), encodeBundle(deviceListBundle(account, [], { seq: 8 }))])).toBe(1)
  })

  it('checks expiry against its clock, even for cached results', () => {
    let now = Date.now()
    const p = new RecordPolicy({ now: () => now })
    const s1 = v(1, { ttlMs: 10_000, now })
    p.verify(key, s1)
    now += 10_000
    expect(() => p.verify(key, s1)).toThrow(named('ExpiredRecordError'))
  })

  it('applies first-writer rules to opaque values', () => {
    const p = new RecordPolicy()
    const k = valueKey('b'.repeat(40))
    const token = newDeleteToken()
    const first = encodeValue(new Uint8Array([1]), { expiresAt: Date.now() + 60_000, deleteToken: token })
    const second = encodeValue(new Uint8Array([2]), { expiresAt: Date.now() + 60_000, deleteToken: newDeleteToken() })
    p.admit(k, first)
    expect(() => p.admit(k, second, first)).toThrow(named('ValueOccupiedError'))
    expect(p.admit(k, encodeTombstone(token, Date.now() + 60_000), first).changed).toBe(true)
  })

  it('exposes kad-dht validators and selectors for the three namespaces', async () => {
    const p = new RecordPolicy()
    expect(Object.keys(p.kadValidators()).sort()).toEqual(['baran-devices', 'baran-presence', 'baran-value'])
    const validate = p.kadValidators()['baran-presence'] as (k: Uint8Array, v: Uint8Array) => Promise<void>
    await expect(validate(new TextEncoder().encode(key), v(1))).resolves.toBeUndefined()
    await expect(validate(new TextEncoder().encode(key), new Uint8Array([0]))).rejects.toThrow()
  })
})

describe('RevocationBook', () => {
  it('keeps the newest list per account, bounded', () => {
    const book = new RevocationBook(2)
    expect(book.learn({ accountId: 'a', seq: 2, expiresAt: 0, devices: ['d1'] })).toBe(true)
    expect(book.learn({ accountId: 'a', seq: 1, expiresAt: 0, devices: [] })).toBe(false)
    expect(book.isRevoked('a', 'd1')).toBe(true)
    book.learn({ accountId: 'b', seq: 1, expiresAt: 0, devices: [] })
    book.learn({ accountId: 'c', seq: 1, expiresAt: 0, devices: [] })
    expect(book.size).toBe(2)
    expect(book.seqOf('a')).toBeUndefined()
  })
})
