/**
 * `outbox.history` through the real outbox actor (inline, real nats-server with JetStream, real identity actor).
 * As in actor.test.ts, discovery and transport are small stand-ins serving their contracts: lookups from a table,
 * transport.send handing the envelope to the other node's outbox.receive with the sender transport would have
 * authenticated.
 */
import { BusError, healthContractOf, outboxPending, discoveryLookup, discoveryLookupDevice, identityPeerBinding, identitySeal, discoveryUnwatch, discoveryWatch, identityCreate, type AccountSummary, type Bus, outboxHistory, outboxMarkRead, outboxReceive, outboxSend, transportSend } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { Cleanup, runInline, setupNats, tempDir, waitUntil } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { actor as outboxActorDef } from '../src/index.ts'
import { newMessageId } from '../src/lib/ids.ts'
import { encodePayload } from '../src/lib/payload.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const kdf = { N: 1024, r: 8, p: 1 }

interface TestNode {
  name: string
  bus: Bus
  me: AccountSummary
  /** Stops the outbox and starts it again with this config (as after a restart with another config.json). */
  restartOutbox(config: object): Promise<void>
}

const baseConfig = { backoff: { initialMs: 100, maxMs: 1000 } }

async function node(name: string): Promise<TestNode> {
  const nats = await setupNats({ cleanup, node: name, jetstream: true })
  const dataDir = await tempDir(cleanup)
  await runInline(identityActor, { cleanup, node: name, url: nats.url, dataDir, config: { kdf, deviceName: `${name}-phone` } })
  const me = await nats.bus.request(identityCreate, {})
  let outbox = await runInline(outboxActorDef, { cleanup, node: name, url: nats.url, dataDir, config: baseConfig })
  const restartOutbox = async (config: object) => {
    await outbox.stop('restart')
    await outbox.close()
    outbox = await runInline(outboxActorDef, { cleanup, node: name, url: nats.url, dataDir, config: { ...baseConfig, ...config } })
    await waitUntil(async () => (await nats.bus.request(healthContractOf('outbox'), {}, { timeoutMs: 1000 })).state === 'ready', { timeoutMs: 20_000, what: 'outbox ready again' })
  }
  return { name, bus: nats.bus, me, restartOutbox }
}

/** Discovery and transport stand-ins on `from`: every device of `remotes` is online and reachable. */
async function standIn(from: TestNode, remotes: TestNode[]) {
  const byAccount = new Map(remotes.map((r) => [r.me.accountId, r]))
  const discovery = await from.bus.service({ name: 'discovery', version: '0.0.0' })
  discovery.serve(discoveryLookup, ({ accountId }) => {
    const r = byAccount.get(accountId)
    if (!r) throw new BusError('not_found', `no device list for ${accountId}`)
    return { accountId, devices: [{ deviceId: r.me.deviceId, online: true, peerId: `peer-${r.name}`, addrs: [] }], revoked: [] }
  })
  discovery.serve(discoveryLookupDevice, async ({ deviceId }) => {
    const r = remotes.find((x) => x.me.deviceId === deviceId)
    if (!r) throw new BusError('not_found', `no presence record of ${deviceId}`)
    const chain = await r.bus.request(identityPeerBinding, { peerId: `peer-${r.name}` })
    return { presence: { deviceId, online: true, peerId: `peer-${r.name}`, addrs: [] }, accountId: r.me.accountId, chain: { deviceCert: chain.deviceCert, peerBinding: chain.peerBinding } }
  })
  discovery.serve(discoveryWatch, () => ({ watching: true as const, devices: [] }))
  discovery.serve(discoveryUnwatch, () => ({ watching: false as const }))
  const transport = await from.bus.service({ name: 'transport', version: '0.0.0' })
  transport.serve(transportSend, async ({ peerId, id, payload }) => {
    const r = remotes.find((x) => `peer-${x.name}` === peerId)
    if (!r) throw new BusError('unreachable', `cannot dial ${peerId}`)
    const answer = await r.bus.request(outboxReceive, { id, payload, from: { accountId: from.me.accountId, deviceId: from.me.deviceId, peerId: `peer-${from.name}` } })
    if (answer.status === 'rejected') throw new BusError('rejected', answer.reason ?? 'rejected')
    return { status: answer.status, rttMs: 1, connection: 'direct' as const }
  })
  cleanup.add('stop stand-ins', async () => {
    await discovery.drain(1000)
    await transport.drain(1000)
  })
  await from.bus.flush()
}

describe('outbox.history (outbox actor)', () => {
  it('shows a conversation in ID order, both directions, with prev links, delivery and read states on both sides', async () => {
    const a = await node('a')
    const b = await node('b')
    await standIn(a, [b])
    await standIn(b, [a])
    const sent: string[] = []
    for (const body of ['one', 'two', 'three']) sent.push((await a.bus.request(outboxSend, { to: b.me.accountId, body })).id)
    const reply = (await b.bus.request(outboxSend, { to: a.me.accountId, body: 'back' })).id

    const all = [...sent, reply]
    const aView = () => a.bus.request(outboxHistory, { peer: b.me.accountId })
    const bView = () => b.bus.request(outboxHistory, { peer: a.me.accountId })
    await waitUntil(async () => (await aView()).messages.length === 4 && (await bView()).messages.length === 4, { timeoutMs: 20_000, what: 'both histories complete' })
    await waitUntil(async () => (await aView()).messages.filter((m) => m.direction === 'out').every((m) => m.state === 'delivered'), {
      timeoutMs: 20_000,
      what: "A's messages delivered in A's history",
    })
    const onA = await aView()
    expect(onA).toMatchObject({ peer: b.me.accountId, total: 4, gaps: [], hasBefore: false, hasAfter: false })
    expect(onA.messages.map((m) => m.id)).toEqual(all)
    expect(onA.messages.map((m) => [m.direction, m.body])).toEqual([
      ['out', 'one'],
      ['out', 'two'],
      ['out', 'three'],
      ['in', 'back'],
    ])
    // each of A's messages links to the one A's device sent before it
    expect(onA.messages.map((m) => m.prev)).toEqual([undefined, sent[0], sent[1], undefined])
    expect(onA.messages[0]!.devices).toEqual([expect.objectContaining({ deviceId: b.me.deviceId, state: 'delivered' })])

    // B reads A's messages: read on B, and (by the read receipts) read on A
    await b.bus.request(outboxMarkRead, { ids: sent })
    const onB = await bView()
    expect(onB.messages.map((m) => m.id)).toEqual(all)
    expect(onB.messages.map((m) => [m.direction, m.state, m.read])).toEqual([
      ['in', 'read', true],
      ['in', 'read', true],
      ['in', 'read', true],
      ['out', 'delivered', false],
    ])
    expect(onB.gaps).toEqual([])
    await waitUntil(async () => (await aView()).messages.slice(0, 3).every((m) => m.state === 'read' && m.read), { timeoutMs: 20_000, what: 'read receipts in A’s history' })

    // paging through the verb
    const page = await a.bus.request(outboxHistory, { peer: b.me.accountId, limit: 2, after: sent[0] })
    expect(page.messages.map((m) => m.id)).toEqual([sent[1], sent[2]])
    expect(page).toMatchObject({ hasBefore: true, hasAfter: true })
  })

  it('lists a gap when a received prev link names a message it does not hold; refuses a bad cursor and an unresolvable name', async () => {
    const a = await node('a')
    const stranger = await node('s')
    const STRANGER = stranger.me.accountId
    const missing = newMessageId()
    const id = newMessageId()
    const now = Date.now()
    const payload = encodePayload({
      v: 1,
      kind: 'message',
      id,
      from: STRANGER,
      fromDevice: stranger.me.deviceId,
      to: a.me.accountId,
      body: 'the second one',
      sentAt: now,
      expiresAt: now + 60_000,
      sync: false,
      prev: missing,
    })
    const from = { accountId: STRANGER, deviceId: stranger.me.deviceId, peerId: 'p' }
    const { deviceCert } = await a.bus.request(identityPeerBinding, { peerId: 'p-a' })
    const sealed = await stranger.bus.request(identitySeal, { id, payload: Buffer.from(payload).toString('base64'), recipients: [deviceCert] })
    expect(await a.bus.request(outboxReceive, { id, payload: sealed.envelope, from })).toEqual({ status: 'stored' })
    const h = await a.bus.request(outboxHistory, { peer: STRANGER })
    expect(h.gaps).toEqual([missing])
    expect(h.messages).toEqual([expect.objectContaining({ id, prev: missing, direction: 'in', state: 'received' })])

    await expect(a.bus.request(outboxHistory, { peer: STRANGER, before: 'nope' })).rejects.toMatchObject({ code: 'invalid_message_id' })
    // no naming actor on this node: a name cannot be resolved, and the error says so
    await expect(a.bus.request(outboxHistory, { peer: 'bob' })).rejects.toMatchObject({ code: 'naming_unavailable' })
  })

  it('keeps a delivered message after its outbox record is pruned; removes history only by its configured retention', async () => {
    const a = await node('a')
    const b = await node('b')
    await standIn(a, [b])
    const sent = await a.bus.request(outboxSend, { to: b.me.accountId, body: 'kept' })
    const view = () => a.bus.request(outboxHistory, { peer: b.me.accountId })
    await waitUntil(async () => (await view()).messages[0]?.state === 'delivered', { timeoutMs: 20_000, what: 'delivered in the history' })
    // finished records are pruned at start after retainFinishedMs (0 here): the outbox forgets it, the history does not
    await a.restartOutbox({ retainFinishedMs: 0 })
    expect((await a.bus.request(outboxPending, { all: true })).messages.map((m) => m.id)).not.toContain(sent.id)
    expect((await view()).messages).toEqual([expect.objectContaining({ id: sent.id, body: 'kept', state: 'delivered' })])
    // a retention longer than its age keeps it; one shorter removes it
    await a.restartOutbox({ history: { retentionMs: 3_600_000 } })
    expect((await view()).total).toBe(1)
    await new Promise((r) => setTimeout(r, 20))
    await a.restartOutbox({ history: { retentionMs: 10 } })
    expect(await view()).toMatchObject({ total: 0, messages: [] })
  })
})
