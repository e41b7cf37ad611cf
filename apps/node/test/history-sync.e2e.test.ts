/**
 * The history sync between devices of one account, across three real node processes on one local network: Alice
 * (A) and Bob (B) exchange 1,000 messages, then Bob links a new device (C) by PIN. C backfills the whole conversation
 * from B over `/baran/history-sync/1.0.0` (same messages, order, delivery states; the same digest), even when B's
 * outbox (the serving side) and then C's own are killed (-9) in the middle and restart, without fetching anything twice; a read marker made on B reaches C
 * by a later sync; Bob's contacts, blocks and conversation names follow him (a contact or a name set on C appears on
 * B, a block made on B makes C's transport refuse Alice's envelope, an unblock on C and a name cleared on B win); and
 * once Bob revokes C its requests are refused (`revoked`) and it gets nothing new.
 */
import {
  healthContractOf,
  identityAddContact,
  identityBlock,
  identityBlocks,
  identityContacts,
  identityConversationNames,
  identityStatus,
  identityUnblock,
  outboxHistory,
  outboxHistorySummary,
  outboxMarkRead,
  outboxSend,
} from '@baran/bus'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { actorLog, cli, killActor, startNode, type TestNode } from './helpers.ts'

const cleanup = new Cleanup()
/**
 * Every node syncs with its other devices every 2 s (5 min by default), so "a later sync" comes soon, and 20 messages
 * per page (200 by default), so that the backfill of the 1,000 messages takes 50 pages and can be cut by a kill.
 */
const config = {
  actors: {
    identity: '@baran/identity',
    naming: '@baran/naming',
    discovery: '@baran/discovery',
    transport: '@baran/transport',
    outbox: { module: '@baran/outbox', config: { history: { syncEveryMs: 2000, syncPageSize: 20 } } },
  },
}
const PER_SIDE = 500
let a: TestNode
let b: TestNode
let c: TestNode
let alice: string
let bob: string

type Shown = Awaited<ReturnType<typeof history>>
/** The whole conversation, page after page (a page stops at ~768 KiB: ~140 sent messages, kept sealed). */
async function history(n: TestNode, peer: string) {
  let page = await n.bus.request(outboxHistory, { peer, limit: 100 })
  const messages = [...page.messages]
  while (page.hasAfter && page.messages.length > 0) {
    page = await n.bus.request(outboxHistory, { peer, limit: 100, after: page.messages.at(-1)!.id })
    messages.push(...page.messages)
  }
  return { ...page, messages }
}
const summary = (n: TestNode, peer: string) => n.bus.request(outboxHistorySummary, { peer })
/** What must be equal on two devices: everything but when each stored it. */
const comparable = (h: Shown) => h.messages.map(({ storedAt: _s, ...m }) => m)

interface SyncStatus {
  devices: Array<{ deviceId: string; runs: number; failures: number; fetched: number; lastAt?: number; lastError?: string; syncing?: { fetched: number } }>
}
async function syncStatus(n: TestNode): Promise<SyncStatus> {
  const h = await n.bus.request(healthContractOf('outbox'), {})
  return (h.details?.historySync as SyncStatus | undefined) ?? { devices: [] }
}

beforeAll(async () => {
  const home = await tempDir(cleanup, 'baran-hsync-')
  a = await startNode(cleanup, config, { name: 'a', home, args: ['--create-account'] })
  b = await startNode(cleanup, config, { name: 'b', home, args: ['--create-account'] })
  c = await startNode(cleanup, config, { name: 'c', home })
  cleanup.add('stop nodes', async () => {
    for (const n of [c, b, a]) await n.proc.stop('SIGTERM', 20_000)
  })
  const account = (n: TestNode) => waitUntil(async () => (await n.bus.request(identityStatus, {})).account?.accountId, { timeoutMs: 30_000, what: `account of ${n.node}` })
  alice = await account(a)
  bob = await account(b)
}, 180_000)
afterAll(() => cleanup.run(), 90_000)

describe('history sync between devices of one account', () => {
  it("a device linked later backfills the conversation from B, across a kill -9 of either side: every message once, in order, with its delivery state, B's digest", async () => {
    // Both directions at once, in batches of 10 per side.
    for (let i = 0; i < PER_SIDE; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, k) => [
          a.bus.request(outboxSend, { to: bob, body: `a→b ${i + k}` }),
          b.bus.request(outboxSend, { to: alice, body: `b→a ${i + k}` }),
        ]).flat(),
      )
    }
    const onB = await waitUntil(
      async () => {
        const h = await history(b, alice)
        return h.messages.length === 2 * PER_SIDE && h.messages.every((m) => m.direction === 'in' || m.state === 'delivered') ? h : undefined
      },
      { timeoutMs: 180_000, intervalMs: 1000, what: `all ${2 * PER_SIDE} messages on B, its own delivered` },
    )

    const offer = await cli(cleanup, ['devices', 'link', '--data-dir', b.dataDir, '--json'])
    expect(offer.code, offer.out).toBe(0)
    const linked = await cli(cleanup, ['devices', 'link', '--pin', (JSON.parse(offer.out) as { pin: string }).pin, '--data-dir', c.dataDir, '--json'])
    expect(linked.code, linked.out).toBe(0)
    expect((JSON.parse(linked.out) as { accountId: string }).accountId).toBe(bob)

    // kill -9 of the serving side, B's outbox, once C's backfill merged a first page: that run fails, C tries again
    const bDevice = (await b.bus.request(identityStatus, {})).account?.deviceId
    const fromB = async () => (await syncStatus(c)).devices.find((x) => x.deviceId === bDevice)
    await waitUntil(async () => ((await fromB())?.syncing?.fetched ?? 0) > 0, { timeoutMs: 90_000, intervalMs: 50, what: "C's backfill under way" })
    await killActor(b, 'outbox')
    // (killActor returns once B's outbox is back.) A request that B's dead outbox had taken fails C's run, and C tries
    // again; one that came while it was down was held by B's transport until it was back, and the run went on.
    const atRestart = (await fromB())?.syncing?.fetched ?? 0
    // then kill -9 of C's own outbox in a run that merged a page since; the supervisor restarts it and it goes on
    const merged = await waitUntil(
      async () => {
        const d = await fromB()
        if (!d?.syncing) return undefined
        const again = d.failures > 0 ? d.syncing.fetched > 0 : d.syncing.fetched > atRestart
        return again ? d.syncing.fetched : undefined
      },
      { timeoutMs: 90_000, intervalMs: 50, what: "C's backfill under way again after B's outbox restarted" },
    )
    console.info(`history sync: C's run ${(await fromB())?.failures ? 'failed with B and started again' : "went on across B's restart"}`)
    const killed = await killActor(c, 'outbox')

    const onC = await waitUntil(
      async () => {
        const [h, mine, theirs] = await Promise.all([history(c, alice), summary(c, alice), summary(b, alice)])
        return mine.digest === theirs.digest && h.messages.length === 2 * PER_SIDE ? h : undefined
      },
      { timeoutMs: 120_000, intervalMs: 1000, what: "C's history of the conversation equal to B's" },
    )
    expect(comparable(onC)).toEqual(comparable(onB))
    expect(onC.total).toBe(2 * PER_SIDE)
    expect(new Set(onC.messages.map((m) => m.id)).size).toBe(2 * PER_SIDE)
    expect(onC.messages.map((m) => m.id)).toEqual([...onC.messages.map((m) => m.id)].sort())
    // sent bodies were sealed to B; on C they open (sealed to C by C)
    expect(onC.messages.filter((m) => m.direction === 'out').map((m) => m.body).sort()).toEqual(Array.from({ length: PER_SIDE }, (_, k) => `b→a ${k}`).sort())
    expect(onC.messages.some((m) => 'unreadable' in m)).toBe(false)
    expect(await summary(c, alice)).toEqual(await summary(b, alice))
    // the restarted outbox fetched only what the killed one had not merged yet
    const resumed = (await actorLog(c, 'outbox')).filter((l) => l.pid !== killed && l.msg === 'history synced from another device of this account' && l.deviceId === bDevice)
    expect(resumed.length).toBeGreaterThan(0)
    const refetched = resumed.reduce((n, l) => n + Number(l.fetched), 0)
    expect(refetched).toBeGreaterThan(0)
    expect(refetched).toBeLessThanOrEqual(2 * PER_SIDE - merged)
  }, 420_000)

  it('a read marker made on B reaches C by a later sync', async () => {
    const unread = (await history(b, alice)).messages.find((m) => m.direction === 'in' && !m.read)
    expect(unread).toBeDefined()
    await b.bus.request(outboxMarkRead, { ids: [unread!.id] })
    const shown = await waitUntil(async () => (await history(c, alice)).messages.find((m) => m.id === unread!.id && m.read), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the read marker on C',
    })
    expect(shown.state).toBe('read')
    await waitUntil(async () => (await summary(c, alice)).digest === (await summary(b, alice)).digest, { timeoutMs: 30_000, what: 'equal digests again' })
  }, 90_000)

  it('contacts, blocks and conversation names follow the account: a contact or name set on C appears on B, a block on B holds on C, a later unblock or clear wins', async () => {
    const carol = 'ca'.repeat(20)
    await c.bus.request(identityAddContact, { accountId: carol, name: 'Carol' })
    const onB = await waitUntil(async () => (await b.bus.request(identityContacts, {})).contacts.find((x) => x.accountId === carol), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the contact added on C, on B',
    })
    expect(onB.name).toBe('Carol')

    await b.bus.request(identityBlock, { accountId: alice })
    await waitUntil(async () => (await c.bus.request(identityBlocks, {})).blocks.some((x) => x.accountId === alice), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the block made on B, on C',
    })
    // C's transport acts on it: Alice's next envelope to Bob's devices is refused there.
    const blocked = await a.bus.request(outboxSend, { to: bob, body: 'while blocked' })
    await waitUntil(
      async () => (await actorLog(c, 'transport')).some((l) => l.msg === 'refused an envelope from a blocked account' && l.accountId === alice),
      { timeoutMs: 60_000, intervalMs: 500, what: "C's transport refusing Alice's envelope" },
    )
    expect((await history(c, alice)).messages.some((m) => m.id === blocked.id)).toBe(false)

    // A later unblock on C wins over B's block.
    expect(await c.bus.request(identityUnblock, { accountId: alice })).toEqual({ unblocked: true })
    await waitUntil(async () => !(await b.bus.request(identityBlocks, {})).blocks.some((x) => x.accountId === alice), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the unblock made on C, on B',
    })
    expect((await c.bus.request(identityBlocks, {})).blocks).toEqual([])
    expect((await b.bus.request(identityContacts, {})).contacts.some((x) => x.accountId === carol)).toBe(true)

    // A conversation named on C (CLI) is named on B, in B's `history` too; B clearing it later holds on C.
    const named = await cli(cleanup, ['conversations', 'name', alice, 'Alice & me', '--json', '--data-dir', c.dataDir])
    expect(named.code, named.out).toBe(0)
    await waitUntil(async () => (await b.bus.request(identityConversationNames, { peer: alice })).names[0]?.name === 'Alice & me', {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the conversation name set on C, on B',
    })
    const shown = await cli(cleanup, ['history', alice, '--json', '--data-dir', b.dataDir])
    expect(shown.code, shown.out).toBe(0)
    expect(JSON.parse(shown.out)).toMatchObject({ peer: alice, name: 'Alice & me' })
    const cleared = await cli(cleanup, ['conversations', 'name', alice, '--clear', '--data-dir', b.dataDir])
    expect(cleared.code, cleared.out).toBe(0)
    await waitUntil(async () => (await c.bus.request(identityConversationNames, {})).names.length === 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the name cleared on B, cleared on C',
    })
    const listed = await cli(cleanup, ['conversations', '--json', '--data-dir', c.dataDir])
    expect(JSON.parse(listed.out)).toEqual([])
  }, 260_000)

  it('a device its account revoked is refused by sync (revoked) and gets nothing new', async () => {
    const cDevice = (await c.bus.request(identityStatus, {})).account?.deviceId ?? ''
    const bDevice = (await b.bus.request(identityStatus, {})).account?.deviceId ?? ''
    const r = await cli(cleanup, ['devices', 'revoke', cDevice, '--data-dir', b.dataDir])
    expect(r.code, r.out).toBe(0)
    await waitUntil(async () => (await b.bus.request(identityStatus, {})).account?.revoked.includes(cDevice), { timeoutMs: 30_000 })
    const after = await b.bus.request(outboxSend, { to: alice, body: 'after the revocation' })
    const revokedAt = Date.now()
    await waitUntil(async () => (await history(b, alice)).messages.some((m) => m.id === after.id), { timeoutMs: 30_000, what: 'the new message on B' })
    // C keeps asking B (its periodic sync): each request is refused with the reason, not left to time out.
    const refused = await waitUntil(
      async () => {
        const d = (await syncStatus(c)).devices.find((x) => x.deviceId === bDevice)
        return d?.lastError === 'revoked' && (d.lastAt ?? 0) > revokedAt ? d : undefined
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "C's sync with B refused as revoked" },
    )
    expect(refused.lastError).toBe('revoked')
    expect((await history(c, alice)).messages.some((m) => m.id === after.id)).toBe(false)
    // B no longer syncs with C either (C's requests open connections to B: B looks C up and leaves it out)
    const bRuns = (await syncStatus(b)).devices.find((d) => d.deviceId === cDevice)?.runs ?? 0
    await waitUntil(async () => ((await syncStatus(c)).devices.find((x) => x.deviceId === bDevice)?.runs ?? 0) >= (refused.runs ?? 0) + 2, { timeoutMs: 30_000, what: 'two more refused syncs on C' })
    expect((await syncStatus(b)).devices.find((d) => d.deviceId === cDevice)?.runs ?? 0).toBe(bRuns)
  }, 120_000)
})
