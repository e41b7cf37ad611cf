import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { isFinished, finishedAt, OutboxRecordBucket, payloadOf, toOutgoing, withDevice } from '../src/lib/records.ts'
import { ALICE_LAPTOP, BOB_PHONE, jetstream, outgoing } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

describe('outbox store (real JetStream KV)', () => {
  it('creates once, reads back, and refuses a second create of the same ID', async () => {
    const js = await jetstream(cleanup)
    const store = new OutboxRecordBucket(await js.bucket('outbox'))
    const r = outgoing({ now: 1_000_000, sync: [ALICE_LAPTOP] })
    await store.create(r)
    expect(await store.get(r.id)).toEqual(r)
    await expect(store.create(r)).rejects.toMatchObject({ code: 'conflict' })
    expect(await store.get('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBeUndefined()
  })

  it('keeps concurrent updates from two writers (revision-checked, retried)', async () => {
    const js = await jetstream(cleanup)
    const kv = await js.bucket('outbox')
    const one = new OutboxRecordBucket(kv)
    const two = new OutboxRecordBucket(kv) // another writer: its queue does not serialize with ours
    const r = outgoing({ now: 1_000_000 })
    await one.create(r)
    const devices = Array.from({ length: 12 }, (_, i) => i.toString(16).padStart(40, '0'))
    await Promise.all(
      devices.map((d, i) => (i % 2 ? one : two).update(r.id, (x) => withDevice(x, d, (e) => ({ ...e, state: 'delivered', deliveredAt: 5 })))),
    )
    const after = await one.get(r.id)
    expect(after?.devices.map((d) => d.deviceId).sort()).toEqual(devices)
    expect(after?.devices.every((d) => d.state === 'delivered')).toBe(true)
  })

  it('does not write when the update returns the same record, and returns undefined for a missing one', async () => {
    const js = await jetstream(cleanup)
    const kv = await js.bucket('outbox')
    const store = new OutboxRecordBucket(kv)
    const r = outgoing({ now: 1_000_000 })
    await store.create(r)
    const rev = (await kv.get(r.id))?.revision
    await store.update(r.id, (x) => x)
    expect((await kv.get(r.id))?.revision).toBe(rev)
    expect(await store.update('01ARZ3NDEKTSV4RRFFQ69G5FAV', (x) => x)).toBeUndefined()
  })

  it('loads every record and reports corrupt ones apart', async () => {
    const js = await jetstream(cleanup)
    const kv = await js.bucket('outbox')
    const store = new OutboxRecordBucket(kv)
    const a = outgoing({ now: 1_000_000 })
    const b = outgoing({ now: 1_000_001 })
    await store.create(a)
    await store.create(b)
    await kv.put('01ARZ3NDEKTSV4RRFFQ69G5FAV', new TextEncoder().encode('{"not":"a record"}'))
    await kv.put('garbage', new Uint8Array([0xff, 0x00]))
    const { records, corrupt } = await store.all()
    expect(records.map((r) => r.id).sort()).toEqual([a.id, b.id].sort())
    expect(corrupt.sort()).toEqual(['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'garbage'])
    await expect(store.get('garbage')).rejects.toMatchObject({ name: 'CorruptRecordError', code: 'corrupt_record' })
  })

  it('knows when a record is finished and shows it without its body', () => {
    const r = outgoing({ now: 1000, body: 'x'.repeat(100), sync: [ALICE_LAPTOP] })
    expect(isFinished(r)).toBe(false)
    const resolved = { ...r, devicesResolved: true, devices: [...r.devices, { deviceId: BOB_PHONE, state: 'queued' as const, attempts: 2, sync: false }] }
    expect(isFinished(resolved)).toBe(false)
    const done = { ...resolved, devices: resolved.devices.map((d) => ({ ...d, state: 'delivered' as const, deliveredAt: 5000, finishedAt: 5000 })) }
    expect(isFinished(done)).toBe(true)
    expect(finishedAt(done)).toBe(5000)
    expect(isFinished({ ...r, expiredAt: 9 })).toBe(true)
    const shown = toOutgoing(resolved, (d) => (d === BOB_PHONE ? { state: 'sending', attempts: 2 } : undefined))
    expect(shown).not.toHaveProperty('body')
    expect(shown.preview).toBe(`${'x'.repeat(60)}…`)
    expect(shown.devices.find((d) => d.deviceId === BOB_PHONE)?.state).toBe('sending')
    expect(payloadOf(r, true)).toMatchObject({ kind: 'message', sync: true, sentAt: 1000, body: r.body })
  })
})
