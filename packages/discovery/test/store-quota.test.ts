import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createDiscoveryNode, encodeBundle, presenceKey, RecordPolicy, valueKey } from '../src/index.ts'
import { VerifiedRecordStore } from '../src/lib/store.ts'
import { costOf, resolveLimits, SELF } from '../src/lib/store-quota.ts'
import { encodeValue, newDeleteToken } from '../src/lib/values.ts'
import { makeAccount, makeDevice, presenceBundle } from './helpers.ts'

const KiB = 1024
const randomKey = () => valueKey(randomBytes(20).toString('hex'))
/** An opaque value envelope with `size` bytes of data, living `ttlMs`. */
const value = (size: number, now = Date.now(), ttlMs = 600_000) => encodeValue(randomBytes(size), { expiresAt: now + ttlMs, deleteToken: newDeleteToken() })
const presence = () => {
  const device = makeDevice(makeAccount())
  return { key: presenceKey(device.deviceId), bytes: encodeBundle(presenceBundle(device)) }
}
/** What one value of `size` bytes of data costs the store. */
const costOfValue = (size: number) => costOf(randomKey(), value(size))

describe('VerifiedRecordStore bounds (quotas and eviction)', () => {
  it('refuses a peer past its share with PeerQuotaError, while other peers and the node itself still store', () => {
    const one = costOfValue(1 * KiB)
    const store = new VerifiedRecordStore(new RecordPolicy(), { limits: { maxBytes: 100 * one, maxBytesPerPeer: 3 * one } })
    for (let i = 0; i < 3; i++) store.storeLocal(randomKey(), value(1 * KiB), undefined, 'peer-a')
    expect(() => store.storeLocal(randomKey(), value(1 * KiB), undefined, 'peer-a')).toThrow(expect.objectContaining({ name: 'PeerQuotaError', code: 'peer_quota' }))
    store.storeLocal(randomKey(), value(1 * KiB), undefined, 'peer-b')
    for (let i = 0; i < 5; i++) store.storeLocal(randomKey(), value(1 * KiB)) // the node's own: no quota
    expect(store.figures()).toMatchObject({ items: 9, bytes: 9 * one, refusals: { peerQuota: 1 }, peersOverQuota: 1, uploaders: 2 })
  })

  it('counts records per peer too, and a retry of what a peer already stored is not a new charge', () => {
    const store = new VerifiedRecordStore(new RecordPolicy(), { limits: { maxItemsPerPeer: 2 } })
    const k = randomKey()
    const v = value(100)
    store.storeLocal(k, v, undefined, 'peer-a')
    store.storeLocal(randomKey(), value(100), undefined, 'peer-a')
    expect(store.storeLocal(k, v, undefined, 'peer-a').changed).toBe(false)
    expect(() => store.storeLocal(randomKey(), value(100), undefined, 'peer-a')).toThrow(expect.objectContaining({ name: 'PeerQuotaError' }))
    expect(store.figures().items).toBe(2)
  })

  it('refuses a record larger than the per-key quota with KeyQuotaError', () => {
    const store = new VerifiedRecordStore(new RecordPolicy(), { limits: { maxKeyBytes: 2 * KiB } })
    expect(() => store.storeLocal(randomKey(), value(4 * KiB), undefined, 'peer-a')).toThrow(expect.objectContaining({ name: 'KeyQuotaError', code: 'key_quota' }))
    expect(store.figures()).toMatchObject({ items: 0, refusals: { keyQuota: 1 } })
  })

  it('when full: a signed record makes room by evicting opaque values, oldest of the heaviest uploader first', () => {
    const one = costOfValue(8 * KiB)
    const p = presence()
    const store = new VerifiedRecordStore(new RecordPolicy(), { limits: { maxBytes: 5 * one + 100, maxBytesPerPeer: 4 * one } })
    const heavy = Array.from({ length: 4 }, () => randomKey())
    for (const k of heavy) store.storeLocal(k, value(8 * KiB), undefined, 'heavy')
    const light = randomKey()
    store.storeLocal(light, value(8 * KiB), undefined, 'light')
    expect(store.figures().bytes + costOf(p.key, p.bytes)).toBeGreaterThan(5 * one + 100)
    store.storeLocal(p.key, p.bytes, undefined, 'signer')
    expect(store.getRecord(p.key)).toBeDefined()
    expect(store.getRecord(heavy[0] as string)).toBeUndefined()
    expect(heavy.slice(1).every((k) => store.getRecord(k) !== undefined)).toBe(true)
    expect(store.getRecord(light)).toBeDefined()
    expect(store.figures()).toMatchObject({ evictions: 1 })
    expect(store.figures().bytes).toBeLessThanOrEqual(5 * one + 100)
  })

  it('when full: an opaque value evicts only a heavier uploader\'s values, never signed records nor the node\'s own', () => {
    const one = costOfValue(8 * KiB)
    const store = new VerifiedRecordStore(new RecordPolicy(), { limits: { maxBytes: 8 * one, maxBytesPerPeer: 4 * one } })
    const p = presence()
    store.storeLocal(p.key, p.bytes, undefined, 'signer')
    const own = randomKey()
    store.storeLocal(own, value(8 * KiB))
    for (let i = 0; i < 3; i++) store.storeLocal(randomKey(), value(8 * KiB), undefined, 'heavy')
    store.storeLocal(randomKey(), value(8 * KiB), undefined, 'light')
    // Filled up by others; then the light peer's next value pushes out the heavy one's oldest.
    while (store.figures().bytes + one <= 8 * one) store.storeLocal(randomKey(), value(8 * KiB), undefined, `filler-${store.figures().items}`)
    const before = store.figures()
    store.storeLocal(randomKey(), value(8 * KiB), undefined, 'light')
    expect(store.figures().evictions).toBe(before.evictions + 1)
    // The heaviest now holds no more than the light peer would after a put: its puts are refused, not made room for.
    store.storeLocal(randomKey(), value(8 * KiB), undefined, 'heavy2')
    expect(() => {
      for (let i = 0; i < 10; i++) store.storeLocal(randomKey(), value(8 * KiB), undefined, 'heavy2')
    }).toThrow(expect.objectContaining({ name: 'StoreFullError', code: 'store_full' }))
    expect(store.getRecord(p.key)).toBeDefined()
    expect(store.getRecord(own)).toBeDefined()
    const after = store.figures()
    expect(after.bytes).toBeLessThanOrEqual(8 * one)
    expect(after.refusals.storeFull).toBeGreaterThanOrEqual(1)
  })

  it('refuses with TooManyRecordsError at the item bound when nothing may make room', () => {
    const store = new VerifiedRecordStore(new RecordPolicy(), { limits: { maxItems: 3, maxItemsPerPeer: 3 } })
    for (const peer of ['peer-a', 'peer-b', 'peer-c']) store.storeLocal(randomKey(), value(100), undefined, peer)
    // No uploader holds more than peer-a would after this put: nobody's record may go for it.
    expect(() => store.storeLocal(randomKey(), value(100), undefined, 'peer-a')).toThrow(expect.objectContaining({ name: 'TooManyRecordsError', code: 'too_many_records' }))
    expect(store.figures()).toMatchObject({ items: 3, refusals: { tooManyRecords: 1 } })
  })

  it('when full, drops expired records before it evicts or refuses anything', () => {
    let now = Date.now()
    const one = costOfValue(1 * KiB)
    const store = new VerifiedRecordStore(new RecordPolicy({ now: () => now }), { limits: { maxBytes: 3 * one, maxBytesPerPeer: 3 * one } })
    const short = randomKey()
    store.storeLocal(short, value(1 * KiB, now, 1_000), undefined, 'peer-a')
    for (let i = 0; i < 2; i++) store.storeLocal(randomKey(), value(1 * KiB, now), undefined, 'peer-a')
    now += 2_000
    store.storeLocal(randomKey(), value(1 * KiB, now), undefined, 'peer-a')
    expect(store.getRecord(short)).toBeUndefined()
    expect(store.figures()).toMatchObject({ items: 3, evictions: 0, refusals: { storeFull: 0 } })
  })

  it('a dry run (checkLocal) refuses as storeLocal would and changes nothing', () => {
    const store = new VerifiedRecordStore(new RecordPolicy(), { limits: { maxItems: 1, maxItemsPerPeer: 1 } })
    store.storeLocal(randomKey(), value(100), undefined, 'peer-a')
    expect(() => store.checkLocal(randomKey(), value(100), 'peer-a')).toThrow(expect.objectContaining({ name: 'PeerQuotaError' }))
    store.checkLocal(randomKey(), value(100), SELF)
    expect(store.figures()).toMatchObject({ items: 1, evictions: 0 })
  })

  it('has defaults from constants.ts and refuses limits that are not positive integers', async () => {
    expect(resolveLimits()).toEqual({ maxBytes: 64 * 1024 * KiB, maxItems: 50_000, maxBytesPerPeer: 4 * 1024 * KiB, maxItemsPerPeer: 3_125, maxKeyBytes: 65 * KiB })
    expect(resolveLimits({ maxBytes: 1_600 })).toMatchObject({ maxBytesPerPeer: 100 })
    await expect(createDiscoveryNode({ storeLimits: { maxBytes: 0 }, start: false })).rejects.toMatchObject({ name: 'InvalidConfigError', message: expect.stringContaining('storeLimits.maxBytes') })
    await expect(createDiscoveryNode({ storeLimits: { maxItemsPerPeer: 1.5 }, start: false })).rejects.toMatchObject({ name: 'InvalidConfigError' })
  })
})
