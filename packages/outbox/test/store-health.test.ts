/** The outbox's view of a bucket (`monitored`): batched reads and creates go through the same watch and disk guard. */
import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { DiskGuard } from '../src/lib/disk.ts'
import { createMany, getMany } from '../src/lib/kv.ts'
import { monitored } from '../src/store-health.ts'
import { jetstream } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const enc = (s: string) => new TextEncoder().encode(s)

describe('monitored bucket, batched', () => {
  it('creates and reads many at once; a lost race is an answer, not a failure; an outage is reported once per batch', { timeout: 60_000 }, async () => {
    const js = await jetstream(cleanup)
    const errors: unknown[] = []
    const kv = monitored(await js.bucket('monitored'), (e) => errors.push(e), undefined)
    expect(kv.createMany).toBeTypeOf('function')
    expect(kv.getMany).toBeTypeOf('function')
    await kv.create('m.a', enc('first'))
    const results = await createMany(kv, [
      { key: 'm.a', value: enc('again') },
      { key: 'm.b', value: enc('b') },
    ])
    expect(results[0]).toMatchObject({ code: 'conflict' })
    expect(typeof results[1]).toBe('number')
    expect(errors).toEqual([])
    expect((await getMany(kv, ['m.a', 'm.b', 'm.c'])).map((e) => (e ? new TextDecoder().decode(e.value) : e))).toEqual(['first', 'b', undefined])

    await js.server.stop()
    const down = await createMany(kv, [
      { key: 'm.d', value: enc('d') },
      { key: 'm.e', value: enc('e') },
    ])
    expect(down.map((r) => (typeof r === 'number' ? r : (r as { code?: string }).code))).toEqual(['unavailable', 'unavailable'])
    expect(errors).toHaveLength(1)
    await expect(getMany(kv, ['m.a', 'm.b'])).rejects.toMatchObject({ code: 'unavailable' })
    expect(errors).toHaveLength(2)
  })

  it('refuses a batch of creates below the disk reserve before any is sent', async () => {
    const js = await jetstream(cleanup)
    const disk = new DiskGuard({ dir: js.dir, minFreeBytes: Number.MAX_SAFE_INTEGER })
    const bucket = await js.bucket('full')
    const kv = monitored(bucket, () => undefined, disk)
    await expect(createMany(kv, [{ key: 'm.a', value: enc('a') }])).rejects.toMatchObject({ name: 'DiskFullError' })
    expect(await bucket.keys()).toEqual([])
  })
})
