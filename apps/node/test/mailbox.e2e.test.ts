/**
 * The outbox uses the DHT mailbox (issue 17 item 3), between real nodes (supervisor, nats-server with JetStream,
 * five actor processes each) on one local network. Carol's node owns the network (the DHT bootstrap) and stays up:
 * with only Alice's and Bob's DHT nodes, nothing could keep the item while both are down. Alice sends to Bob while
 * Bob's node is stopped; once her outbox deposited the envelope in Bob's mailbox, Alice's node stops for good. Bob
 * starts again: he has the message exactly once, from Alice's account, and the mailbox is empty afterwards. Carol,
 * whom Bob blocked, deposits too: her envelope is dropped (never in his inbox) and deleted as well. Alice sends only
 * once Bob's presence has left the DHT (his presence records live 5 s here, an hour by default) and her outbox has
 * restarted: it seals to the certificate of Bob's device it kept on disk from the first delivery.
 */
import { discoveryLookupDevice, discoveryMailboxFetch, identityBlock, identitySignMailboxFetch, identityStatus, outboxHistory, outboxInbox, outboxPending, outboxSend, outboxStatus } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { mailboxesOf } from '@baran/trust'
import { afterAll, describe, expect, it } from 'vitest'
import { actorLog, killActor, startNode, stopNode, type TestNode } from './helpers.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

// Bob's presence records expire after 5 s (an hour by default), so that they have left the DHT when Alice sends.
const BOB_CONFIG = {
  actors: {
    identity: '@baran/identity',
    naming: '@baran/naming',
    discovery: { module: '@baran/discovery', config: { presenceTtlMs: 5000 } },
    transport: '@baran/transport',
    outbox: '@baran/outbox',
  },
}
const accountOf = (n: TestNode) => waitUntil(async () => (await n.bus.request(identityStatus, {})).account, { timeoutMs: 30_000, what: `account of ${n.node}` })

describe('the outbox and the DHT mailbox', () => {
  it("A sends to B while B is offline, then A's node stops for good; B starts later: B has the message exactly once, verified as A's", async () => {
    const carol = await startNode(cleanup, {}, { name: 'carol', args: ['--create-account'] })
    const alice = await startNode(cleanup, {}, { name: 'alice', home: carol.home, args: ['--create-account'] })
    let bob = await startNode(cleanup, BOB_CONFIG, { name: 'bob', home: carol.home, args: ['--create-account'] })
    cleanup.add('stop nodes', async () => {
      for (const n of [bob, alice, carol]) await n.proc.stop('SIGTERM', 20_000)
    })
    const [a, b, c] = [await accountOf(alice), await accountOf(bob), await accountOf(carol)]
    await bob.bus.request(identityBlock, { accountId: c.accountId })

    // A first message while Bob is up: delivered directly.
    const first = await alice.bus.request(outboxSend, { to: b.accountId, body: 'hello while you are here' })
    await waitUntil(async () => (await alice.bus.request(outboxStatus, { id: first.id })).devices.every((d) => d.state === 'delivered'), {
      timeoutMs: 60_000,
      what: 'first message delivered',
    })

    // Carol (blocked) sends while Bob is up: refused, but her outbox now has his device's certificate on disk.
    const early = await carol.bus.request(outboxSend, { to: b.accountId, body: 'hello from a blocked account' })
    await waitUntil(async () => (await carol.bus.request(outboxStatus, { id: early.id })).devices.every((d) => d.state === 'rejected'), {
      timeoutMs: 60_000,
      what: "Carol's first message refused by Bob's node",
    })

    await stopNode(bob)
    // Bob's presence gone from the DHT, and Alice's outbox restarted (what it looked up is no longer in its memory).
    await waitUntil(
      () =>
        alice.bus.request(discoveryLookupDevice, { deviceId: b.deviceId }, { timeoutMs: 20_000 }).then(
          () => false,
          (e: { code?: string }) => e.code === 'not_found',
        ),
      { timeoutMs: 60_000, intervalMs: 1000, what: "Bob's presence expired" },
    )
    await killActor(alice, 'outbox')
    const sentAt = Date.now()
    const offline = await alice.bus.request(outboxSend, { to: b.accountId, body: 'left in your mailbox' })
    const blocked = await carol.bus.request(outboxSend, { to: b.accountId, body: 'from a blocked account' })
    const deposited = async (n: TestNode, id: string) =>
      waitUntil(async () => (await n.bus.request(outboxStatus, { id })).devices.find((d) => d.deviceId === b.deviceId && d.depositedAt !== undefined), {
        timeoutMs: 90_000,
        what: `message ${id} deposited in Bob's mailbox`,
      })
    const dep = await deposited(alice, offline.id)
    // sealed to the certificate kept on disk (no presence to take it from)
    expect((await actorLog(alice, 'outbox')).some((l) => l.msg === 'sealing to the kept certificate of a device with no presence' && l.deviceId === b.deviceId)).toBe(true)
    process.stdout.write(`send → deposited in ${dep.depositedAt! - sentAt} ms (attempts ${dep.attempts}, ${dep.state}, ${dep.lastError ?? ''})\n`)
    // Deposited, not delivered: queued, or sending while the next direct attempt dials Bob's old address.
    expect(['queued', 'sending']).toContain(dep.state)
    await deposited(carol, blocked.id)

    // Alice's node stops for good: the item lives on Carol's DHT node.
    await stopNode(alice)
    const bobStart = Date.now()
    bob = await startNode(cleanup, BOB_CONFIG, { dataDir: bob.dataDir, home: carol.home })

    const inbox = await waitUntil(
      async () => {
        const m = (await bob.bus.request(outboxInbox, { limit: 1000 })).messages
        return m.some((x) => x.id === offline.id) ? m : undefined
      },
      { timeoutMs: 120_000, what: "the deposited message in Bob's inbox" },
    )
    process.stdout.write(`Bob start → message in inbox: ${Date.now() - bobStart} ms\n`)
    const got = inbox.filter((x) => x.id === offline.id)
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ from: a.accountId, fromDevice: a.deviceId, body: 'left in your mailbox' })
    const history = (await bob.bus.request(outboxHistory, { peer: a.accountId })).messages.filter((m) => m.id === offline.id)
    expect(history).toHaveLength(1)

    // No transport ack went back: Bob's outbox sends Alice's device a 'delivered' receipt, deposited as she is gone too.
    await waitUntil(
      async () =>
        (await bob.bus.request(outboxPending, { all: true, limit: 1000 })).messages.find(
          (m) => m.kind === 'receipt' && m.ref === offline.id && m.devices.some((d) => d.deviceId === a.deviceId && d.depositedAt !== undefined),
        ),
      { timeoutMs: 90_000, what: "Bob's delivered receipt for Alice deposited in her mailbox" },
    )

    // Taken items are deleted (Carol's blocked one too), and the blocked one never reached the inbox.
    const mailboxes = mailboxesOf(b.deviceId)
    await waitUntil(
      async () => {
        for (const mailbox of mailboxes) {
          const auth = await bob.bus.request(identitySignMailboxFetch, { mailbox })
          if ((await bob.bus.request(discoveryMailboxFetch, { mailbox, auth })).items.length > 0) return false
        }
        return true
      },
      { timeoutMs: 90_000, what: "Bob's mailboxes empty" },
    )
    expect((await bob.bus.request(outboxInbox, { limit: 1000 })).messages.some((m) => m.id === blocked.id)).toBe(false)
    // ...because it was dropped as blocked (Bob's outbox log counts each round), not lost on the way
    await waitUntil(
      async () => {
        const rounds = (await actorLog(bob, 'outbox')).filter((l) => l.msg === 'device mailbox read')
        return rounds.reduce((n, l) => n + Number(l.blocked ?? 0), 0) >= 1
      },
      { timeoutMs: 30_000, what: 'the blocked item counted as blocked' },
    )
    // A round's line also says what started it and where its time went (apps/node/bench/mailbox.bench.ts reads it).
    const round = (await actorLog(bob, 'outbox')).find((l) => l.msg === 'device mailbox read')
    expect(round).toMatchObject({
      trigger: expect.stringMatching(/^(start|published|timer|call)$/),
      ms: { prepare: expect.any(Number), fetch: expect.any(Number), receive: expect.any(Number), delete: expect.any(Number), total: expect.any(Number) },
    })
  }, 480_000)
})
