import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Bus } from '../src/index.ts'
import { type NatsServerProcess, startNatsServer } from '@baran/launch'

let dir: string
let server: NatsServerProcess
let bus: Bus
const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baran-kv-'))
  server = await startNatsServer({ workDir: dir, jetstream: true })
  bus = await Bus.connect({ servers: server.url, node: 'n1' })
})
afterAll(async () => {
  await bus?.close()
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('JetStream key/value buckets', () => {
  it('reads a revision range in write order from where it starts, skipping gaps, and counts without a scan', async () => {
    const kv = await bus.kv('range_test')
    expect(await kv.state()).toEqual({ messages: 0, firstRevision: 0, lastRevision: 0 })
    expect(await kv.range(1, 10, 0)).toEqual([])
    for (let i = 1; i <= 30; i++) await kv.create(`k${i}`, enc(`v${i}`))
    await kv.put('k5', enc('moved')) // k5's first revision is gone: a gap at 5, k5 now at 31
    await kv.delete('k7') // a gap at 7, and a delete marker at 32
    const st = await kv.state()
    expect(st).toMatchObject({ lastRevision: 32 })
    const keys = async (from: number, max: number) => (await kv.range(from, max, st.lastRevision)).map((e) => `${e.key}@${e.revision}`)
    expect(await keys(3, 5)).toEqual(['k3@3', 'k4@4', 'k6@6', 'k8@8', 'k9@9'])
    expect(await keys(29, 10)).toEqual(['k29@29', 'k30@30', 'k5@31'])
    expect(await keys(33, 10)).toEqual([])
    // `until` bounds it: what was written after the caller's state() is not read
    expect((await kv.range(28, 10, 29)).map((e) => e.key)).toEqual(['k28', 'k29'])
    expect(dec((await kv.range(31, 1, 32))[0]!.value)).toBe('moved')
  })

  it('creates once, then refuses with conflict', async () => {
    const kv = await bus.kv('inbox_test')
    await kv.create('m1', enc('first'))
    await expect(kv.create('m1', enc('again'))).rejects.toMatchObject({ code: 'conflict' })
    expect(dec((await kv.get('m1'))?.value ?? new Uint8Array())).toBe('first')
  })

  it('updates only from the revision it read', async () => {
    const kv = await bus.kv('state_test')
    const r1 = await kv.put('k', enc('a'))
    const r2 = await kv.update('k', enc('b'), r1)
    await expect(kv.update('k', enc('c'), r1)).rejects.toMatchObject({ code: 'conflict' })
    expect((await kv.get('k'))?.revision).toBe(r2)
    await kv.delete('k')
    expect(await kv.get('k')).toBeUndefined()
  })

  it('creates a key again over its deletion, and refuses an invalid key or an oversized value without writing', async () => {
    const kv = await bus.kv('writes_test', { maxValueBytes: 64 })
    const r1 = await kv.create('w.1', enc('one'))
    await kv.delete('w.1')
    expect(await kv.get('w.1')).toBeUndefined()
    const r2 = await kv.create('w.1', enc('again')) // over the deletion marker
    expect(r2).toBeGreaterThan(r1)
    await expect(kv.create('w.1', enc('third'))).rejects.toMatchObject({ code: 'conflict' })
    await expect(kv.put('not a key', enc('x'))).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/invalid key/) })
    await expect(kv.put('.w', enc('x'))).rejects.toMatchObject({ code: 'internal' })
    await expect(kv.update('w.1', enc('x'), 0)).rejects.toMatchObject({ code: 'internal' })
    await expect(kv.put('w.big', new Uint8Array(65))).rejects.toMatchObject({ message: expect.stringMatching(/w\.big/) })
    expect(await kv.get('w.big')).toBeUndefined()
    expect(dec((await kv.get('w.1'))?.value ?? new Uint8Array())).toBe('again')
    expect((await kv.state()).lastRevision).toBe(r2)
  })

  it('fails a write with unavailable on a closed connection, at once', async () => {
    const b = await Bus.connect({ servers: server.url, node: 'n1' })
    const kv = await b.kv('writes_closed')
    await kv.put('k', enc('v'))
    await b.close()
    for (const write of [() => kv.put('k', enc('x')), () => kv.create('k2', enc('x')), () => kv.update('k', enc('x'), 1), () => kv.delete('k')]) {
      await expect(write()).rejects.toMatchObject({ code: 'unavailable' })
    }
  })

  it('lists each key once, at its newest value, while its keys are being written', async () => {
    const kv = await bus.kv('busy_test')
    for (let i = 0; i < 200; i++) await kv.put(`k${i}`, enc('v0'))
    let writing = true
    const writer = (async () => {
      for (let n = 1; writing && n <= 2000; n++) await kv.put(`k${n % 200}`, enc(`v${n}`))
    })()
    try {
      for (let round = 0; round < 20; round++) {
        const keys = (await kv.entries()).map((e) => e.key)
        expect(keys.length).toBe(200)
        expect(new Set(keys).size).toBe(200)
      }
    } finally {
      writing = false
      await writer
    }
  })

  it('lists a bucket whose newest entries are deletions (the listing ends: nats.js never signals the end past a skipped delete)', async () => {
    const kv = await bus.kv('deleted_last_test')
    await kv.put('kept', enc('v'))
    await kv.put('gone1', enc('v'))
    await kv.put('gone2', enc('v'))
    await kv.delete('gone1')
    await kv.delete('gone2')
    const listed = await Promise.race([kv.entries(), sleep(5_000).then(() => 'still listing after 5 s')])
    expect(typeof listed === 'string' ? listed : listed.map((e) => e.key)).toEqual(['kept'])
    // Every key deleted: an empty listing, not a hang.
    await kv.delete('kept')
    const none = await Promise.race([kv.entries(), sleep(5_000).then(() => 'still listing after 5 s')])
    expect(none).toEqual([])
  })

  it('lists an empty bucket as empty', async () => {
    const kv = await bus.kv('empty_test')
    expect(await kv.entries()).toEqual([])
    expect(await kv.keys()).toEqual([])
  })

  it('lists keys and entries, and keeps them across a server restart (file storage)', async () => {
    const kv = await bus.kv('durable_test')
    for (let i = 0; i < 50; i++) await kv.put(`k${String(i).padStart(3, '0')}`, enc(`v${i}`))
    expect((await kv.keys()).length).toBe(50)
    await server.restart()
    await expect.poll(() => bus.kv('durable_test').then((k) => k.entries()).then((e) => e.length).catch(() => -1), { timeout: 10_000 }).toBe(50)
    const entries = await (await bus.kv('durable_test')).entries()
    expect(entries.map((e) => dec(e.value))).toContain('v49')
  })
})
