import { identityBlock, identityBlocks, identityBlocksChanged, identityCreate, identityExportArchive, identityImportArchive, identityUnblock } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir, waitUntil } from '@baran/testkit'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { identityActor, SealedKeyring, STORE_FILE } from '../src/index.ts'
import { accountPayloadSchema, validateAccountPayload } from '../src/lib/archive.ts'
import { FAST_KDF, rejection, TempDirs } from './helpers.ts'

const temps = new TempDirs()
const cleanup = new Cleanup()
afterEach(async () => {
  await cleanup.run()
  await temps.cleanup()
})

const STRANGER = 'ab'.repeat(20)
const OTHER = 'cd'.repeat(20)

async function storeWithAccount() {
  const store = new SealedKeyring({ dir: join(await temps.make(), 'identity'), kdf: FAST_KDF })
  await store.load()
  const info = await store.createAccount({ deviceName: 'laptop' })
  return { store, info }
}

describe('SealedKeyring: blocks', () => {
  it('blocks, keeps the first time on a second block, lifts, and keeps the list across a reopen', async () => {
    const { store } = await storeWithAccount()
    expect(store.blocks()).toEqual([])
    const first = await store.block(STRANGER)
    expect(first.accountId).toBe(STRANGER)
    const bytes = await readFile(join(store.dir, STORE_FILE))
    expect((await store.block(STRANGER)).blockedAt).toBe(first.blockedAt)
    // A block already there writes nothing.
    expect(await readFile(join(store.dir, STORE_FILE))).toEqual(bytes)
    await store.block(OTHER)
    expect(await store.unblock(OTHER)).toBe(true)
    expect(await store.unblock(OTHER)).toBe(false)
    const again = new SealedKeyring({ dir: store.dir, kdf: FAST_KDF })
    await again.load()
    expect(again.blocks()).toEqual([first])
  })

  it('refuses a bad account ID and the account itself, writing nothing', async () => {
    const { store, info } = await storeWithAccount()
    const bytes = await readFile(join(store.dir, STORE_FILE))
    for (const bad of ['', 'AB'.repeat(20), 'ab'.repeat(19), info.accountId]) {
      const err = await rejection(store.block(bad))
      expect(err.name).toBe('InvalidArgumentError')
    }
    expect((await rejection(store.unblock('nope'))).name).toBe('InvalidArgumentError')
    expect(await readFile(join(store.dir, STORE_FILE))).toEqual(bytes)
    expect(store.blocks()).toEqual([])
  })

  it('an account payload written before blocks existed still validates (none blocked); a malformed list does not', async () => {
    const { store } = await storeWithAccount()
    await store.block(STRANGER)
    const archive = await store.exportArchive('pw', { kdf: FAST_KDF })
    expect(archive.length).toBeGreaterThan(0)
    const payload = (store as unknown as { content: { account: Record<string, unknown> } }).content.account
    const { blocks: _gone, ...old } = payload
    expect(validateAccountPayload(structuredClone(old)).blocks).toBeUndefined()
    expect(accountPayloadSchema.safeParse({ ...payload, blocks: [{ accountId: 'x', blockedAt: 1 }] }).success).toBe(false)
    expect(accountPayloadSchema.safeParse({ ...payload, blocks: [{ accountId: STRANGER, blockedAt: 1, extra: 1 }] }).success).toBe(false)
  })
})

describe('identity.blocks over the bus', () => {
  it('block and unblock announce the whole list; an imported archive brings the blocks to the other device', async () => {
    const nats = await setupNats({ cleanup, node: 'n' })
    const dataDir = await tempDir(cleanup)
    await runInline(identityActor, { cleanup, node: 'n', url: nats.url, dataDir, config: { kdf: FAST_KDF, deviceName: 'laptop' } })
    const bus = nats.bus
    await expect(bus.request(identityBlock, { accountId: STRANGER })).rejects.toMatchObject({ code: 'no_account' })
    expect(await bus.request(identityBlocks, {})).toEqual({ blocks: [] })
    await bus.request(identityCreate, {})
    const seen: string[][] = []
    await bus.subscribe(identityBlocksChanged, (e) => void seen.push(e.blocked))
    await bus.request(identityBlock, { accountId: STRANGER })
    await bus.request(identityBlock, { accountId: STRANGER })
    await bus.request(identityBlock, { accountId: OTHER })
    expect(await bus.request(identityUnblock, { accountId: OTHER })).toEqual({ unblocked: true })
    expect(await bus.request(identityUnblock, { accountId: OTHER })).toEqual({ unblocked: false })
    await waitUntil(() => seen.length >= 3, { what: 'three blocksChanged events' })
    // Repeats change nothing and announce nothing.
    expect(seen).toEqual([[STRANGER], [STRANGER, OTHER], [STRANGER]])
    await expect(bus.request(identityBlock, { accountId: 'zz' } as never)).rejects.toMatchObject({ code: 'invalid_request' })

    const { archive } = await bus.request(identityExportArchive, { password: 'pw' })
    const nats2 = await setupNats({ cleanup, node: 'm' })
    await runInline(identityActor, { cleanup, node: 'm', url: nats2.url, dataDir: await tempDir(cleanup), config: { kdf: FAST_KDF, deviceName: 'phone' } })
    await nats2.bus.request(identityImportArchive, { archive, password: 'pw' })
    expect((await nats2.bus.request(identityBlocks, {})).blocks.map((b) => b.accountId)).toEqual([STRANGER])
  })
})
