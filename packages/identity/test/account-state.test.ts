import { identityAccountState, identityAddContact, identityBlock, identityBlocks, identityBlocksChanged, identityContacts, identityCreate, identityMergeAccountState, identityStatus } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir, waitUntil } from '@baran/testkit'
import fc from 'fast-check'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { identityActor, SealedKeyring, STORE_FILE } from '../src/index.ts'
import { type AccountStateKind, mergeRegisters, type Register, registersOf } from '../src/lib/account-state.ts'
import type { AccountPayload } from '../src/lib/archive.ts'
import { FAST_KDF, rejection, TempDirs } from './helpers.ts'

const temps = new TempDirs()
const cleanup = new Cleanup()
afterEach(async () => {
  await cleanup.run()
  await temps.cleanup()
})

const ACCOUNTS = ['a1', 'b2', 'c3', 'd4'].map((s) => s.repeat(20))
const DEVICES = ['0e', '5f', 'fa'].map((s) => s.repeat(20))
const OWN = '99'.repeat(20)
const SELF = DEVICES[0]!

/** The two lists of an account as the merge sees them (the rest of the payload is not read). */
function lists(contacts: AccountPayload['contacts'] = [], blocks: AccountPayload['blocks'] = []): AccountPayload {
  return { contacts, blocks } as AccountPayload
}

/** A write one device made: its value follows from who wrote it when, as a real device writes one value per time. */
const write = fc
  .record({ a: fc.nat({ max: ACCOUNTS.length - 1 }), d: fc.nat({ max: DEVICES.length - 1 }), at: fc.integer({ min: 1, max: 20 }), op: fc.nat({ max: 2 }) })
  .map(({ a, d, at, op }): Register => ({
    accountId: ACCOUNTS[a]!,
    value: op === 0 ? null : { since: at, ...(op === 2 ? { name: `n${at}${d}` } : {}) },
    at,
    device: DEVICES[d]!,
  }))
/** Writes without two values for one (account, time, device): that pair names one write. */
const writes = fc.uniqueArray(write, { selector: (r) => `${r.accountId}.${r.at}.${r.device}`, maxLength: 40 })

function merged(kind: AccountStateKind, ...parts: Register[][]): AccountPayload {
  let acc = lists()
  for (const p of parts) acc = mergeRegisters(acc, kind, p, { self: SELF, own: OWN }).account
  return acc
}
const state = (p: AccountPayload, kind: AccountStateKind) => registersOf(p, kind, SELF)

describe('contacts and blocks as LWW registers (mergeRegisters)', () => {
  it('converges whatever the order and however the writes are split between two devices (commutative, associative)', () => {
    fc.assert(
      fc.property(writes, fc.nat(), fc.constantFrom<AccountStateKind>('contacts', 'blocks'), (ws, cut, kind) => {
        const at = cut % (ws.length + 1)
        const x = merged(kind, ws.slice(0, at))
        const y = merged(kind, ws.slice(at))
        // each device merges the other's state
        const xy = mergeRegisters(x, kind, state(y, kind), { self: SELF, own: OWN }).account
        const yx = mergeRegisters(y, kind, state(x, kind), { self: SELF, own: OWN }).account
        expect(state(xy, kind)).toEqual(state(yx, kind))
        expect(state(xy, kind)).toEqual(state(merged(kind, [...ws].reverse()), kind))
      }),
      { numRuns: 300 },
    )
  })

  it('is idempotent: merging the same registers again changes nothing', () => {
    fc.assert(
      fc.property(writes, (ws) => {
        const once = merged('contacts', ws)
        const again = mergeRegisters(once, 'contacts', state(once, 'contacts'), { self: SELF, own: OWN })
        expect(again.changed).toBe(false)
        expect(again.result.changed).toBe(0)
        expect(mergeRegisters(once, 'contacts', ws, { self: SELF, own: OWN }).changed).toBe(false)
      }),
      { numRuns: 200 },
    )
  })

  it('a removal beats an older add (tombstone), a newer add beats the removal, equal times go to the higher device', () => {
    const [acct] = ACCOUNTS as [string]
    const [low, , high] = DEVICES as [string, string, string]
    const add = (at: number, device: string, name?: string): Register => ({ accountId: acct, value: { since: 1, ...(name ? { name } : {}) }, at, device })
    const removed = merged('contacts', [add(5, low)], [{ accountId: acct, value: null, at: 10, device: low }])
    expect(removed.contacts).toEqual([])
    expect(removed.removed?.contacts).toEqual([{ accountId: acct, at: 10, device: low }])
    // an older add synced later does not revive it
    const r = mergeRegisters(removed, 'contacts', [add(7, high, 'Bob')], { self: SELF, own: OWN })
    expect(r.changed).toBe(false)
    // a newer one does
    const back = mergeRegisters(removed, 'contacts', [add(11, low, 'Bob')], { self: SELF, own: OWN }).account
    expect(back.contacts).toEqual([{ accountId: acct, name: 'Bob', addedAt: 1, at: 11, device: low }])
    expect(back.removed?.contacts).toEqual([])
    // the same time on two devices: the higher device ID wins, in either order
    for (const order of [
      [add(20, low, 'Robert'), add(20, high, 'Bob')],
      [add(20, high, 'Bob'), add(20, low, 'Robert')],
    ]) {
      expect(merged('contacts', order).contacts.map((c) => c.name)).toEqual(['Bob'])
    }
  })

  it('reads entries stored before sync as written when added, on this device; a block of the account itself is skipped', () => {
    const [acct, other] = ACCOUNTS as [string, string]
    const old = lists([{ accountId: acct, name: 'Old', addedAt: 42 }], [{ accountId: other, blockedAt: 43 }])
    expect(registersOf(old, 'contacts', SELF)).toEqual([{ accountId: acct, value: { since: 42, name: 'Old' }, at: 42, device: SELF }])
    expect(registersOf(old, 'blocks', SELF)).toEqual([{ accountId: other, value: { since: 43 }, at: 43, device: SELF }])
    const r = mergeRegisters(old, 'blocks', [{ accountId: OWN, value: { since: 1 }, at: 1, device: SELF }], { self: SELF, own: OWN })
    expect(r.result).toEqual({ changed: 0, skipped: 1 })
  })

  it('refuses a malformed register with InvalidArgumentError and applies none of the part', () => {
    const good: Register = { accountId: ACCOUNTS[0]!, value: { since: 1 }, at: 1, device: SELF }
    for (const bad of [
      { ...good, accountId: 'nope' },
      { ...good, device: 'AB'.repeat(20) },
      { ...good, at: -1 },
      { ...good, at: 1.5 },
      { ...good, value: { since: 'x' } },
      { ...good, value: { since: 1, name: '' } },
      null,
    ]) {
      expect(() => mergeRegisters(lists(), 'contacts', [good, bad as Register], { self: SELF, own: OWN })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    }
  })
})

describe('SealedKeyring: contacts and blocks keep their registers and tombstones', () => {
  it('local removals are tombstones that an older synced add does not undo, across a reopen', async () => {
    const store = new SealedKeyring({ dir: join(await temps.make(), 'identity'), kdf: FAST_KDF })
    await store.load()
    const { deviceId } = await store.createAccount({ deviceName: 'laptop' })
    const [acct, other] = ACCOUNTS as [string, string]
    await store.addContact({ accountId: acct, name: 'Bob' })
    await store.block(other)
    expect(await store.removeContact(acct)).toBe(true)
    expect(await store.unblock(other)).toBe(true)
    const tomb = store.accountState('contacts').registers
    expect(tomb).toEqual([{ accountId: acct, value: null, at: expect.any(Number), device: deviceId }])
    const older = { accountId: acct, value: { since: 1, name: 'Bob' }, at: tomb[0]!.at - 1, device: 'ff'.repeat(20) }
    expect(await store.mergeAccountState('contacts', [older])).toEqual({ changed: 0, skipped: 0 })
    const bytes = await readFile(join(store.dir, STORE_FILE))
    const newer = { ...older, at: tomb[0]!.at + 1 }
    expect(await store.mergeAccountState('contacts', [newer])).toEqual({ changed: 1, skipped: 0 })
    expect(await readFile(join(store.dir, STORE_FILE))).not.toEqual(bytes)
    const again = new SealedKeyring({ dir: store.dir, kdf: FAST_KDF })
    await again.load()
    expect(again.contacts()).toEqual([{ accountId: acct, name: 'Bob', addedAt: 1 }])
    expect(again.accountState('blocks').registers).toEqual([{ accountId: other, value: null, at: expect.any(Number), device: deviceId }])
    // parts: `after` and `more`
    expect(again.accountState('contacts', acct)).toEqual({ registers: [], more: false })
  })

  it('answers in parts of at most 2,000 registers and about 512 KiB (long non-Latin names), which together are the whole list', async () => {
    const store = new SealedKeyring({ dir: join(await temps.make(), 'identity'), kdf: FAST_KDF })
    await store.load()
    const { deviceId } = await store.createAccount({ deviceName: 'laptop' })
    const name = '名'.repeat(128)
    const many = Array.from({ length: 2000 }, (_, i): Register => ({ accountId: i.toString(16).padStart(40, '0'), value: { since: 1, name }, at: 1, device: deviceId }))
    expect(await store.mergeAccountState('contacts', many)).toEqual({ changed: 2000, skipped: 0 })
    const got: Register[] = []
    let after: string | undefined
    let parts = 0
    while (parts < 10) {
      const p = store.accountState('contacts', after)
      parts++
      expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThan(600 * 1024)
      got.push(...p.registers)
      if (!p.more) break
      expect(p.registers.length).toBeLessThan(2000)
      after = p.registers.at(-1)!.accountId
    }
    expect(parts).toBeGreaterThanOrEqual(2)
    expect(got).toEqual(many)
  })
})

describe('identity.accountState / mergeAccountState over the bus', () => {
  it('merges another device’s registers, announces a block list change, and refuses garbage losing nothing', async () => {
    const nats = await setupNats({ cleanup, node: 'n' })
    await runInline(identityActor, { cleanup, node: 'n', url: nats.url, dataDir: await tempDir(cleanup), config: { kdf: FAST_KDF, deviceName: 'laptop' } })
    const bus = nats.bus
    await expect(bus.request(identityMergeAccountState, { kind: 'blocks', registers: [] })).rejects.toMatchObject({ code: 'no_account' })
    await bus.request(identityCreate, {})
    const me = (await bus.request(identityStatus, {})).account!
    const [acct, other] = ACCOUNTS as [string, string]
    await bus.request(identityAddContact, { accountId: acct, name: 'Bob' })
    await bus.request(identityBlock, { accountId: other })
    const seen: string[][] = []
    await bus.subscribe(identityBlocksChanged, (e) => void seen.push(e.blocked))

    const far = Date.now() + 60_000
    const device = 'fe'.repeat(20)
    // another device unblocked `other` later and blocked `acct`
    const r = await bus.request(identityMergeAccountState, {
      kind: 'blocks',
      registers: [
        { accountId: other, value: null, at: far, device },
        { accountId: acct, value: { since: far }, at: far, device },
        { accountId: me.accountId, value: { since: far }, at: far, device },
      ],
    })
    expect(r).toEqual({ changed: 2, skipped: 1 })
    await waitUntil(() => seen.length >= 1, { what: 'blocksChanged after the merge' })
    expect(seen).toEqual([[acct]])
    expect((await bus.request(identityBlocks, {})).blocks).toEqual([{ accountId: acct, blockedAt: far }])
    // the same part again: nothing changes, nothing is announced
    expect(await bus.request(identityMergeAccountState, { kind: 'blocks', registers: [{ accountId: acct, value: { since: far }, at: far, device }] })).toEqual({ changed: 0, skipped: 0 })

    // garbage: refused by the contract, nothing lost
    const before = await bus.request(identityAccountState, { kind: 'contacts' })
    expect(before.registers.map((x) => x.accountId)).toEqual([acct])
    for (const bad of [
      { kind: 'contacts', registers: [{ accountId: 'zz', value: null, at: 1, device }] },
      { kind: 'contacts', registers: [{ accountId: other, value: { since: 1, extra: 1 }, at: 1, device }] },
      { kind: 'bogus', registers: [] },
      { kind: 'contacts', registers: Array.from({ length: 2001 }, () => ({ accountId: other, value: null, at: 1, device })) },
      { kind: 'contacts' },
    ]) {
      const err = await rejection(bus.request(identityMergeAccountState, bad as never))
      expect((err as { code?: string }).code).toBe('invalid_request')
    }
    expect(await bus.request(identityAccountState, { kind: 'contacts' })).toEqual(before)
    expect((await bus.request(identityContacts, {})).contacts).toEqual([{ accountId: acct, name: 'Bob', addedAt: expect.any(Number) }])
    expect(seen).toEqual([[acct]])
  })
})
