import { Libp2pRecord } from '@libp2p/record'
import fc from 'fast-check'
import { Key } from 'interface-datastore'
import { toString as toBase32 } from 'uint8arrays/to-string'
import { describe, expect, it } from 'vitest'
import { encodeBundle, presenceKey, RecordPolicy } from '../src/index.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { VerifiedRecordStore, type StoredRecord } from '../src/lib/store.ts'
import { base32 } from '../src/lib/bytes.ts'
import { makeAccount, makeDevice, presenceBundle } from './helpers.ts'

const device = makeDevice(makeAccount())
const key = presenceKey(device.deviceId)
const bundle = (seq: number, now = Date.now(), ttlMs = 3600_000) => encodeBundle(presenceBundle(device, { seq, now, ttlMs }))
const wire = (k: string, value: Uint8Array) => new Libp2pRecord(keyBytes(k), value, new Date()).serialize()

describe('VerifiedRecordStore (the datastore kad-dht writes PUTs to)', () => {
  it('stores a valid record the way kad-dht does, and announces it once', async () => {
    const store = new VerifiedRecordStore(new RecordPolicy())
    const seen: StoredRecord[] = []
    store.onRecord((r) => seen.push(r))
    const v1 = bundle(1)
    store.put(store.recordKey(key), wire(key, v1))
    store.put(store.recordKey(key), wire(key, v1)) // retry: stored, not announced again
    await new Promise((r) => setTimeout(r, 0))
    expect(store.getRecord(key)).toEqual(v1)
    expect(seen.map((r) => r.key)).toEqual([key])
    expect(store.recordCount).toBe(1)
  })

  it('refuses replays and forgeries by throwing from put (which fails the PUT)', () => {
    const store = new VerifiedRecordStore(new RecordPolicy())
    const v1 = bundle(1)
    const v2 = bundle(2)
    store.put(store.recordKey(key), wire(key, v2))
    expect(() => store.put(store.recordKey(key), wire(key, v1))).toThrow(expect.objectContaining({ name: 'ReplayedRecordError' }))
    const forged = v2.slice()
    forged[forged.length - 5] = (forged.at(-5) as number) ^ 1
    expect(() => store.put(store.recordKey(key), wire(key, forged))).toThrow()
    expect(store.getRecord(key)).toEqual(v2)
  })

  it('stops serving a record once it expires, and drops it', () => {
    let now = Date.now()
    const store = new VerifiedRecordStore(new RecordPolicy({ now: () => now }))
    store.storeLocal(key, bundle(1, now, 5_000))
    expect(store.getRecord(key)).toBeDefined()
    now += 5_000
    expect(() => store.get(store.recordKey(key))).toThrow(expect.objectContaining({ name: 'NotFoundError' }))
    expect(store.recordCount).toBe(0)
    store.storeLocal(key, bundle(2, now, 5_000))
    now += 10_000
    expect(store.sweep()).toBe(1)
  })

  it("passes libp2p's own keys through, and refuses records outside Baran's namespaces and provider records", () => {
    const store = new VerifiedRecordStore(new RecordPolicy())
    const other = new Key('/peers/abc')
    store.put(other, new Uint8Array([1, 2, 3]))
    expect(store.get(other)).toEqual(new Uint8Array([1, 2, 3]))
    const pk = new TextEncoder().encode('/pk/xyz')
    expect(() => store.put(store.recordKey(pk), new Libp2pRecord(pk, new Uint8Array([7]), new Date()).serialize())).toThrow(
      expect.objectContaining({ name: 'UnsupportedRecordError', code: 'unsupported_record' }),
    )
    expect(() => store.put(new Key('/dht/provider/abc/def'), new Uint8Array([1]))).toThrow(expect.objectContaining({ name: 'UnsupportedRecordError' }))
    expect(store.has(new Key('/dht/provider/abc/def'))).toBe(false)
    expect(store.recordCount).toBe(0)
    expect(store.figures().refusals.unsupported).toBe(2)
  })

  it("serves kad-dht a Baran record in its wire form, kept once (not a second copy)", () => {
    const store = new VerifiedRecordStore(new RecordPolicy())
    const v1 = bundle(1)
    store.put(store.recordKey(key), wire(key, v1))
    const record = Libp2pRecord.deserialize(store.get(store.recordKey(key)))
    expect(new TextDecoder().decode(record.key)).toBe(key)
    expect(record.value).toEqual(v1)
    expect(store.has(store.recordKey(key))).toBe(true)
    store.delete(store.recordKey(key))
    expect(store.getRecord(key)).toBeUndefined()
    expect(store.figures()).toMatchObject({ items: 0, bytes: 0 })
  })

  it('names records as kad-dht does (RFC 4648 base32, lower case, no padding) (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(base32(bytes)).toBe(toBase32(bytes, 'base32'))
      }),
    )
    const store = new VerifiedRecordStore(new RecordPolicy())
    expect(store.recordKey(key).toString()).toBe(`/dht/record/${toBase32(keyBytes(key), 'base32')}`)
  })

  it('a revocation learnt after a presence was stored still wins: it is no longer served, nor to kad-dht', () => {
    const account = makeAccount()
    const dev = makeDevice(account)
    const k = presenceKey(dev.deviceId)
    const policy = new RecordPolicy()
    const store = new VerifiedRecordStore(policy)
    store.storeLocal(k, encodeBundle(presenceBundle(dev, { seq: 1 })))
    expect(store.getRecord(k)).toBeDefined()
    // The node learns a newer revocation list (e.g. from another bundle of the account).
    policy.revocations.learn({ accountId: account.accountId, seq: 5, expiresAt: Date.now() + 60_000, devices: [dev.deviceId] })
    expect(store.getRecord(k)).toBeUndefined()
    expect(() => store.get(store.recordKey(k))).toThrow(expect.objectContaining({ name: 'NotFoundError' }))
    expect(store.recordCount).toBe(0)
  })

  it('checks the clock on every read: a record is not served past its expiry, nor if the clock went back before it was checked', () => {
    let now = Date.now()
    const store = new VerifiedRecordStore(new RecordPolicy({ now: () => now }))
    store.storeLocal(key, bundle(1, now, 10_000))
    now -= 1
    expect(store.getRecord(key)).toBeUndefined()
    now += 1
    store.storeLocal(key, bundle(2, now, 10_000))
    expect(store.getRecord(key)).toBeDefined()
    now += 10_000
    expect(store.getRecord(key)).toBeUndefined()
  })

  it('calls an immediate listener as the record is stored, before put returns', () => {
    const store = new VerifiedRecordStore(new RecordPolicy())
    const order: string[] = []
    store.onRecord(() => order.push('deferred'))
    const off = store.onRecord((r) => order.push(`immediate ${r.key}`), { immediate: true })
    store.put(store.recordKey(key), wire(key, bundle(1)))
    order.push('returned')
    expect(order).toEqual([`immediate ${key}`, 'returned'])
    off()
    store.storeLocal(key, bundle(2))
    expect(order).toEqual([`immediate ${key}`, 'returned'])
  })
})
