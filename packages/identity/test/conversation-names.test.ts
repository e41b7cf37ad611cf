import {
  identityAccountState,
  identityAddContact,
  identityClearConversationName,
  identityConversationNames,
  identityCreate,
  identityExportArchive,
  identityMergeAccountState,
  identitySetConversationName,
} from '@baran/bus'
import { generateKeyPair } from '@baran/trust'
import { runInline, setupNats, tempDir, Cleanup } from '@baran/testkit'
import { Wallet } from 'ethers'
import fc from 'fast-check'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type AccountPayload,
  decodeArchive,
  encodeArchive,
  identityActor,
  MAX_CONVERSATION_NAME,
  newAccountPayload,
  SealedKeyring,
  validateAccountPayload,
  withConversationName,
  withoutConversationName,
} from '../src/index.ts'
import { mergeRegisters, type Register, registersOf } from '../src/lib/account-state.ts'
import { FAST_KDF, rejection, TempDirs, thrown } from './helpers.ts'

const temps = new TempDirs()
const cleanup = new Cleanup()
afterEach(async () => {
  await cleanup.run()
  await temps.cleanup()
})

const PEERS = ['a1', 'b2', 'c3'].map((s) => s.repeat(20))
const DEVICES = ['0e', '5f', 'fa'].map((s) => s.repeat(20))
const OWN = '99'.repeat(20)
const SELF = DEVICES[0]!
const ids = { self: SELF, own: OWN }
const empty = () => ({ contacts: [] }) as unknown as AccountPayload

/** A name write one device made (one value per device and time, as a real device writes), or a clear. */
const write = fc
  .record({ p: fc.nat({ max: PEERS.length - 1 }), d: fc.nat({ max: DEVICES.length - 1 }), at: fc.integer({ min: 1, max: 20 }), clear: fc.boolean() })
  .map(({ p, d, at, clear }): Register => ({ accountId: PEERS[p]!, value: clear ? null : { since: at, name: `n${at}.${d}` }, at, device: DEVICES[d]! }))
const writes = fc.uniqueArray(write, { selector: (r) => `${r.accountId}.${r.at}.${r.device}`, maxLength: 40 })

function merged(...parts: Register[][]): AccountPayload {
  let acc = empty()
  for (const p of parts) acc = mergeRegisters(acc, 'names', p, ids).account
  return acc
}
const state = (p: AccountPayload) => registersOf(p, 'names', SELF)

describe('conversation names as LWW registers (mergeRegisters, kind names)', () => {
  it('converges whatever the order and the split between two devices, and merging again changes nothing', () => {
    fc.assert(
      fc.property(writes, fc.nat(), (ws, cut) => {
        const at = cut % (ws.length + 1)
        const x = merged(ws.slice(0, at))
        const y = merged(ws.slice(at))
        const xy = mergeRegisters(x, 'names', state(y), ids).account
        const yx = mergeRegisters(y, 'names', state(x), ids).account
        expect(state(xy)).toEqual(state(yx))
        expect(state(xy)).toEqual(state(merged([...ws].reverse())))
        expect(mergeRegisters(xy, 'names', state(xy), ids).changed).toBe(false)
        expect(mergeRegisters(xy, 'names', ws, ids).changed).toBe(false)
      }),
      { numRuns: 300 },
    )
  })

  it('a clear beats an older name, a newer name beats the clear, equal times go to the higher device', () => {
    const [peer] = PEERS as [string]
    const [low, , high] = DEVICES as [string, string, string]
    const named = (at: number, device: string, name: string): Register => ({ accountId: peer, value: { since: at, name }, at, device })
    const cleared = merged([named(5, low, 'Team')], [{ accountId: peer, value: null, at: 10, device: low }])
    expect(cleared.names).toEqual([])
    expect(cleared.removed?.names).toEqual([{ accountId: peer, at: 10, device: low }])
    expect(mergeRegisters(cleared, 'names', [named(7, high, 'Old')], ids).changed).toBe(false)
    expect(mergeRegisters(cleared, 'names', [named(11, low, 'New')], ids).account.names).toEqual([{ accountId: peer, name: 'New', at: 11, device: low }])
    for (const order of [
      [named(20, low, 'Low'), named(20, high, 'High')],
      [named(20, high, 'High'), named(20, low, 'Low')],
    ]) {
      expect(merged(order).names?.map((n) => n.name)).toEqual(['High'])
    }
  })

  it('keeps the other lists and their tombstones as they were; refuses a name register without a name', () => {
    const [peer, other] = PEERS as [string, string]
    let acc = mergeRegisters(empty(), 'contacts', [{ accountId: other, value: null, at: 3, device: SELF }], ids).account
    acc = mergeRegisters(acc, 'names', [{ accountId: peer, value: null, at: 4, device: SELF }], ids).account
    acc = mergeRegisters(acc, 'contacts', [{ accountId: peer, value: { since: 5, name: 'Bob' }, at: 5, device: SELF }], ids).account
    expect(acc.removed).toEqual({ contacts: [{ accountId: other, at: 3, device: SELF }], blocks: [], names: [{ accountId: peer, at: 4, device: SELF }] })
    expect(state(acc)).toEqual([{ accountId: peer, value: null, at: 4, device: SELF }])
    expect(() => mergeRegisters(acc, 'names', [{ accountId: peer, value: { since: 9 }, at: 9, device: SELF }], ids)).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError' }),
    )
  })
})

describe('naming a conversation here (withConversationName / withoutConversationName)', () => {
  const w = { now: 100, device: SELF }

  it('writes a register with this device; clearing leaves a tombstone; a write always lands after the one it replaces', () => {
    const [peer] = PEERS as [string]
    const a = withConversationName(empty(), peer, 'Team', w)
    expect(a.result).toEqual({ peer, name: 'Team', at: 100 })
    expect(withConversationName(a.account, peer, 'Team', { ...w, now: 200 }).changed).toBe(false)
    // another device's write is ahead of this device's clock: the rename still wins the next merge
    const ahead = mergeRegisters(a.account, 'names', [{ accountId: peer, value: { since: 500, name: 'Theirs' }, at: 500, device: DEVICES[2]! }], ids).account
    const mine = withConversationName(ahead, peer, 'Mine', w).account
    expect(mine.names).toEqual([{ accountId: peer, name: 'Mine', at: 501, device: SELF }])
    const gone = withoutConversationName(mine, peer, w)
    expect(gone.result).toBe(true)
    expect(gone.account.names).toEqual([])
    expect(gone.account.removed?.names).toEqual([{ accountId: peer, at: 502, device: SELF }])
    expect(withoutConversationName(gone.account, peer, w)).toMatchObject({ result: false, changed: false })
    // naming it again drops the tombstone, later than it
    const again = withConversationName(gone.account, peer, 'Back', w).account
    expect(again.names).toEqual([{ accountId: peer, name: 'Back', at: 503, device: SELF }])
    expect(again.removed?.names).toEqual([])
  })

  it('refuses a bad peer or name with InvalidArgumentError', () => {
    const [peer] = PEERS as [string]
    for (const [p, n] of [
      ['AB'.repeat(20), 'x'],
      ['nope', 'x'],
      [42, 'x'],
      [peer, ''],
      [peer, '   '],
      [peer, 'x'.repeat(MAX_CONVERSATION_NAME + 1)],
      [peer, 7],
      [peer, null],
    ]) {
      expect(thrown(() => withConversationName(empty(), p as string, n as string, w)).name).toBe('InvalidArgumentError')
    }
    expect(thrown(() => withoutConversationName(empty(), 'nope', w)).name).toBe('InvalidArgumentError')
    expect(withConversationName(empty(), peer, 'x'.repeat(MAX_CONVERSATION_NAME), w).changed).toBe(true)
  })
})

describe('conversation names in the account payload', () => {
  function payload(): AccountPayload {
    const eth = Wallet.createRandom()
    return newAccountPayload({ accountSecretKey: generateKeyPair().secretKey, now: 1 }, { privateKey: eth.privateKey, address: eth.address }, { publicKey: generateKeyPair().publicKey, name: 'laptop' }, 1)
  }

  it('a payload written before names (no `names`, `removed` without them) still loads; one with them round-trips an archive', async () => {
    const old = { ...payload(), removed: { contacts: [], blocks: [] } }
    expect(validateAccountPayload(old)).toEqual(old)
    expect(registersOf(old, 'names', SELF)).toEqual([])
    const [peer] = PEERS as [string]
    const named = withConversationName(old, peer, 'Team', { now: 5, device: SELF }).account
    expect(await decodeArchive(await encodeArchive(named, 'pw', FAST_KDF), 'pw')).toEqual(named)
    const tooLong = { ...named, names: [{ accountId: peer, name: 'x'.repeat(129), at: 1, device: SELF }] }
    expect(thrown(() => validateAccountPayload(tooLong)).name).toBe('MalformedArchiveError')
  })

  it('SealedKeyring: names survive a reopen, sync as `names` registers, and a clear is a tombstone', async () => {
    const store = new SealedKeyring({ dir: join(await temps.make(), 'identity'), kdf: FAST_KDF })
    await store.load()
    const { deviceId } = await store.createAccount({ deviceName: 'laptop' })
    const [peer, other] = PEERS as [string, string]
    expect(await store.nameConversation(peer, 'Team')).toEqual({ peer, name: 'Team', at: expect.any(Number) })
    await store.nameConversation(other, 'Family')
    expect(await store.clearConversationName(other)).toBe(true)
    expect(await store.clearConversationName(other)).toBe(false)
    const again = new SealedKeyring({ dir: store.dir, kdf: FAST_KDF })
    await again.load()
    expect(again.conversationNames()).toEqual([{ peer, name: 'Team', at: expect.any(Number) }])
    const regs = again.accountState('names').registers
    expect(regs).toEqual([
      { accountId: peer, value: { since: regs[0]!.at, name: 'Team' }, at: regs[0]!.at, device: deviceId },
      { accountId: other, value: null, at: expect.any(Number), device: deviceId },
    ])
    const later = regs[1]!.at + 1
    expect(await again.mergeAccountState('names', [{ accountId: other, value: { since: later, name: 'Kin' }, at: later, device: 'fe'.repeat(20) }])).toEqual({ changed: 1, skipped: 0 })
    expect(again.conversationNames().map((n) => n.name)).toEqual(['Team', 'Kin'])
  })
})

describe('identity conversation name verbs over the bus', () => {
  it('sets, lists and clears names; refuses bad input with clear codes and keeps what it had', async () => {
    const nats = await setupNats({ cleanup, node: 'n' })
    await runInline(identityActor, { cleanup, node: 'n', url: nats.url, dataDir: await tempDir(cleanup), config: { kdf: FAST_KDF, deviceName: 'laptop' } })
    const bus = nats.bus
    const [peer, other] = PEERS as [string, string]
    expect(await bus.request(identityConversationNames, {})).toEqual({ names: [] })
    await expect(bus.request(identitySetConversationName, { peer, name: 'Team' })).rejects.toMatchObject({ code: 'no_account' })
    await bus.request(identityCreate, {})
    const set = await bus.request(identitySetConversationName, { peer, name: 'Team' })
    expect(set).toEqual({ peer, name: 'Team', at: expect.any(Number) })
    await bus.request(identitySetConversationName, { peer: other, name: 'Family' })
    await bus.request(identityAddContact, { accountId: peer, name: 'Bob' })
    expect((await bus.request(identityConversationNames, {})).names).toEqual([set, { peer: other, name: 'Family', at: expect.any(Number) }])
    expect(await bus.request(identityConversationNames, { peer })).toEqual({ names: [set] })
    expect(await bus.request(identityClearConversationName, { peer: other })).toEqual({ cleared: true })
    expect(await bus.request(identityClearConversationName, { peer: other })).toEqual({ cleared: false })
    // the registers the outbox syncs, and a merge from another device
    expect((await bus.request(identityAccountState, { kind: 'names' })).registers.map((r) => [r.accountId, r.value?.name ?? null])).toEqual([
      [peer, 'Team'],
      [other, null],
    ])
    const far = Date.now() + 60_000
    expect(await bus.request(identityMergeAccountState, { kind: 'names', registers: [{ accountId: peer, value: { since: far, name: 'Renamed' }, at: far, device: 'fe'.repeat(20) }] })).toEqual({
      changed: 1,
      skipped: 0,
    })

    const before = await bus.request(identityConversationNames, {})
    expect(before.names.map((n) => n.name)).toEqual(['Renamed'])
    // malformed bodies: refused by the contract (invalid_request, naming the field); a blank name by identity
    for (const bad of [
      { peer: 'not-hex', name: 'x' },
      { peer: 'AB'.repeat(20), name: 'x' },
      { peer, name: 'x'.repeat(MAX_CONVERSATION_NAME + 1) },
      { peer, name: '' },
      { peer, name: 42 },
      { peer: 7, name: 'x' },
      { peer },
      { peer, name: 'x', extra: true },
    ]) {
      const err = (await rejection(bus.request(identitySetConversationName, bad as never))) as Error & { code?: string }
      expect(err.code, JSON.stringify(bad)).toBe('invalid_request')
    }
    const blank = (await rejection(bus.request(identitySetConversationName, { peer, name: '  ' }))) as Error & { code?: string }
    expect(blank.code).toBe('invalid_argument')
    expect(blank.message).toMatch(/name must be/)
    const raw = await bus.requestRaw('baran.n.identity.setConversationName', new TextEncoder().encode(JSON.stringify({ peer: 'zz', name: 'x' })))
    expect(raw.error?.code).toBe('invalid_request')
    expect((await rejection(bus.request(identityClearConversationName, { peer: 'nope' } as never))) as Error & { code?: string }).toMatchObject({ code: 'invalid_request' })
    expect(await bus.request(identityConversationNames, {})).toEqual(before)
    // they travel with the account
    const { archive } = await bus.request(identityExportArchive, { password: 'pw' })
    expect((await decodeArchive(new Uint8Array(Buffer.from(archive, 'base64')), 'pw')).names).toEqual([{ accountId: peer, name: 'Renamed', at: far, device: 'fe'.repeat(20) }])
  })
})
