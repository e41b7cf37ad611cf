import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type NatsServerProcess, startNatsServer } from '@baran/launch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Bus, BusError } from '../src/index.ts'
import { KV_BATCH_WINDOW } from '../src/lib/kv-batch.ts'

let dir: string
let server: NatsServerProcess
let bus: Bus
const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baran-kv-batch-'))
  server = await startNatsServer({ workDir: dir, jetstream: true })
  // A bus user's replies come to its own prefix (the node's permissions allow only that): batched calls use it too.
  bus = await Bus.connect({ servers: server.url, node: 'n1', inboxPrefix: '_INBOX_outbox' })
})
afterAll(async () => {
  await bus?.close()
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('batched key/value reads and creates', () => {
  it('creates and reads more keys than one window holds, in order, each at its own revision', async () => {
    const kv = await bus.kv('batch_many')
    const n = KV_BATCH_WINDOW * 2 + 37
    const entries = Array.from({ length: n }, (_, i) => ({ key: `m.p.${String(i).padStart(5, '0')}`, value: enc(`v${i}`) }))
    const revisions = await kv.createMany(entries)
    expect(revisions.every((r) => typeof r === 'number')).toBe(true)
    expect(new Set(revisions).size).toBe(n)
    const read = await kv.getMany(entries.map((e) => e.key))
    expect(read.map((r) => (r ? dec(r.value) : r))).toEqual(entries.map((_, i) => `v${i}`))
    expect(read.map((r) => r?.revision)).toEqual(revisions)
    expect(read[0]?.created.getTime()).toBeGreaterThan(Date.now() - 60_000)
    expect((await kv.state()).messages).toBe(n)
  })

  it('answers each key alone: absent and deleted keys read as undefined, existing keys conflict, deleted keys are created again', async () => {
    const kv = await bus.kv('batch_mixed')
    await kv.create('k.a', enc('kept'))
    await kv.create('k.b', enc('gone'))
    await kv.delete('k.b')
    expect((await kv.getMany(['k.a', 'k.b', 'k.none'])).map((r) => (r ? dec(r.value) : r))).toEqual(['kept', undefined, undefined])
    const results = await kv.createMany([
      { key: 'k.a', value: enc('again') },
      { key: 'k.b', value: enc('back') },
      { key: 'k.c', value: enc('new') },
    ])
    expect(results[0]).toBeInstanceOf(BusError)
    expect(results[0]).toMatchObject({ code: 'conflict' })
    expect(typeof results[1]).toBe('number')
    expect(typeof results[2]).toBe('number')
    expect((await kv.getMany(['k.a', 'k.b', 'k.c'])).map((r) => (r ? dec(r.value) : r))).toEqual(['kept', 'back', 'new'])
  })

  it('refuses a key the bucket cannot hold for that entry alone, and writes the others', async () => {
    const kv = await bus.kv('batch_badkey')
    const results = await kv.createMany([
      { key: 'ok.1', value: enc('1') },
      { key: 'not a key', value: enc('2') },
      { key: 'ok.3', value: enc('3') },
    ])
    expect(typeof results[0]).toBe('number')
    expect(results[1]).toBeInstanceOf(BusError)
    expect(String((results[1] as BusError).message)).toMatch(/not a key/)
    expect(typeof results[2]).toBe('number')
    await expect(kv.getMany(['ok.1', 'not a key'])).rejects.toBeInstanceOf(BusError)
    expect((await kv.getMany(['ok.1', 'ok.3'])).map((r) => (r ? dec(r.value) : r))).toEqual(['1', '3'])
  })

  it('fails with unavailable on a closed connection, at once', async () => {
    const b = await Bus.connect({ servers: server.url, node: 'n1' })
    const kv = await b.kv('batch_closed')
    await kv.createMany([
      { key: 'c.1', value: enc('1') },
      { key: 'c.2', value: enc('2') },
    ])
    await b.close()
    const t0 = Date.now()
    const results = await kv.createMany([
      { key: 'c.3', value: enc('3') },
      { key: 'c.4', value: enc('4') },
    ])
    expect(results.map((r) => (r instanceof BusError ? r.code : r))).toEqual(['unavailable', 'unavailable'])
    await expect(kv.getMany(['c.1', 'c.2'])).rejects.toMatchObject({ code: 'unavailable' })
    expect(Date.now() - t0).toBeLessThan(4000)
  })

  it('fails with unavailable, not a hang, while the server is gone', { timeout: 60_000 }, async () => {
    const ownDir = await mkdtemp(join(tmpdir(), 'baran-kv-batch-down-'))
    const own = await startNatsServer({ workDir: ownDir, jetstream: true })
    const b = await Bus.connect({ servers: own.url, node: 'n1' })
    try {
      const kv = await b.kv('batch_down')
      await kv.createMany([
        { key: 'x.1', value: enc('1') },
        { key: 'x.2', value: enc('2') },
      ])
      await own.stop()
      const results = await kv.createMany([
        { key: 'x.3', value: enc('3') },
        { key: 'x.4', value: enc('4') },
      ])
      expect(results.map((r) => (r instanceof BusError ? r.code : r))).toEqual(['unavailable', 'unavailable'])
      await expect(kv.getMany(['x.1', 'x.2'])).rejects.toMatchObject({ code: 'unavailable' })
    } finally {
      await b.close()
      await own.stop()
      await rm(ownDir, { recursive: true, force: true })
    }
  })
})
