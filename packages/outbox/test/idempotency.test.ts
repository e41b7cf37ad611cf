import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { IdempotencyKeys } from '../src/lib/idempotency.ts'
import { newMessageId } from '../src/lib/ids.ts'
import { jetstream } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

describe('idempotency keys (real JetStream bucket)', () => {
  it('gives a key the ID of its first use, to retries and to racing retries alike', async () => {
    const js = await jetstream(cleanup)
    const keys = new IdempotencyKeys(await js.bucket('keys'))
    const first = await keys.claim('key-0123456789abcdef', newMessageId())
    expect(first.first).toBe(true)
    expect(await keys.claim('key-0123456789abcdef', newMessageId())).toEqual({ id: first.id, first: false })
    const racing = await Promise.all([0, 1, 2, 3].map(() => keys.claim('key-racing-0123456789', newMessageId())))
    expect(racing.filter((r) => r.first)).toHaveLength(1)
    expect(new Set(racing.map((r) => r.id)).size).toBe(1)
  })

  it('is remembered by a new process on the same bucket (a retry after a crash)', async () => {
    const js = await jetstream(cleanup)
    const bucket = await js.bucket('keys')
    const before = await new IdempotencyKeys(bucket).claim('key-survives-a-crash', newMessageId())
    const after = await new IdempotencyKeys(await js.bus.kv(bucket.name)).claim('key-survives-a-crash', newMessageId())
    expect(after).toEqual({ id: before.id, first: false })
  })
})
