import { Libp2pRecord } from '@libp2p/record'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { encodeBundle, presenceKey, RecordPolicy } from '../src/index.ts'
import { keyBytes } from '../src/lib/keys.ts'
import { RecordStore, type StoredRecord } from '../src/lib/store.ts'
import { makeAccount, makeDevice, presenceBundle } from './helpers.ts'

const device = makeDevice(makeAccount())
const key = presenceKey(device.deviceId)
const bundle = (seq: number, now = Date.now(), ttlMs = 3600_000) => encodeBundle(presenceBundle(device, { seq, now, ttlMs }))
const wire = (k: string, value: Uint8Array) => new Libp2pRecord(keyBytes(k), value, new Date()).serialize()

describe('RecordStore (the datastore kad-dht writes PUTs to)', () => {
  it('stores a valid record the way kad-dht does, and announces it once', async () => {
    const store = new RecordStore(new RecordPolicy())
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
    const store = new RecordStore(new RecordPolicy())
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
    const store = new RecordStore(new RecordPolicy({ now: () => now }))
    store.storeLocal(key, bundle(1, now, 5_000))
    expect(store.getRecord(key)).toBeDefined()
    now += 5_000
    expect(() => store.get(store.recordKey(key))).toThrow(expect.objectContaining({ name: 'NotFoundError' }))
    expect(store.recordCount).toBe(0)
    store.storeLocal(key, bundle(2, now, 5_000))
    now += 10_000
    expect(store.sweep()).toBe(1)
  })

  it('passes other keys through untouched', () => {
    const store = new RecordStore(new RecordPolicy())
    const other = new Key('/peers/abc')
    store.put(other, new Uint8Array([1, 2, 3]))
    expect(store.get(other)).toEqual(new Uint8Array([1, 2, 3]))
    const pk = new TextEncoder().encode('/pk/xyz')
    store.put(store.recordKey(pk), new Libp2pRecord(pk, new Uint8Array([7]), new Date()).serialize())
    expect(store.recordCount).toBe(0)
  })
})
