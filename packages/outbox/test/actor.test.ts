/**
 * The outbox actor, inline against a real nats-server with JetStream, with the real identity actor beside it.
 * Discovery and transport do not run here: where a test needs delivery between two nodes, a small STAND-IN serves
 * their contracts on each node's bus (lookup/lookupDevice/watch from a table the test controls, transport.send
 * forwarding the sealed envelope to the other node's outbox.receive). Envelopes from other senders are sealed by
 * their own real identity actor (a node that runs only identity). The real two-node path over libp2p is in
 * apps/node/test (delivery.e2e, sealed.e2e).
 */
import {
  BusError,
  discoveryLookup,
  discoveryLookupDevice,
  discoveryLookupDeviceList,
  discoveryOnline,
  discoveryUnwatch,
  discoveryWatch,
  healthContractOf,
  identityCertifyDevice,
  identityCreate,
  identityPeerBinding,
  identityRevokeDevice,
  identitySeal,
  type AccountSummary,
  type Bus,
  outboxDelivery,
  outboxInbox,
  outboxMarkRead,
  outboxPending,
  outboxReceipt,
  outboxReceive,
  outboxReceived,
  outboxSend,
  outboxStatus,
  transportSend,
} from '@baran/bus'
import { identityActor } from '@baran/identity'
import { Cleanup, type NatsFixture, runInline, setupNats, spawnProcess, tempDir, waitUntil } from '@baran/testkit'
import { envelopeRecipientOf, generateKeyPair, sealEnvelope, type SignedRecord } from '@baran/trust'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { actor as outboxActorDef } from '../src/index.ts'
import { createIdGenerator, newMessageId } from '../src/lib/ids.ts'
import { legacyInboxKey } from '../src/lib/inbox-migrate.ts'
import { encodeJsonValue } from '../src/lib/kv.ts'
import { encodePayload, type MessagePayload } from '../src/lib/payload.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))
const kdf = { N: 1024, r: 8, p: 1 }
const STRANGER = 'c1'.repeat(20)
const STRANGER_DEVICE = 'c2'.repeat(20)
const config = { backoff: { initialMs: 200, maxMs: 2000 } }

interface TestNode {
  name: string
  nats: NatsFixture
  bus: Bus
  me: AccountSummary
  dataDir: string
  startOutbox(): Promise<Awaited<ReturnType<typeof runInline>>>
}

async function node(name: string): Promise<TestNode> {
  const nats = await setupNats({ cleanup, node: name, jetstream: true })
  const dataDir = await tempDir(cleanup)
  await runInline(identityActor, { cleanup, node: name, url: nats.url, dataDir, config: { kdf, deviceName: `${name}-phone` } })
  const me = await nats.bus.request(identityCreate, {})
  const startOutbox = () => runInline(outboxActorDef, { cleanup, node: name, url: nats.url, dataDir, config })
  return { name, nats, bus: nats.bus, me, dataDir, startOutbox }
}

/** Records every event of a kind on a bus. */
async function record<T>(bus: Bus, c: Parameters<Bus['subscribe']>[0]): Promise<T[]> {
  const seen: T[] = []
  await bus.subscribe(c, (e) => void seen.push(e as T))
  return seen
}

/** A node's device certificate (version 2: with its encryption key), as discovery finds it in its presence record. */
async function certOf(n: { bus: Bus }): Promise<SignedRecord> {
  return (await n.bus.request(identityPeerBinding, { peerId: '12D3KooWCertOfThisDevice' })).deviceCert as SignedRecord
}

/** Another account's device: a real identity actor that seals envelopes as it (no outbox). */
async function stranger(name = 's'): Promise<{ bus: Bus; me: AccountSummary }> {
  const nats = await setupNats({ cleanup, node: name, jetstream: false })
  const dataDir = await tempDir(cleanup)
  await runInline(identityActor, { cleanup, node: name, url: nats.url, dataDir, config: { kdf, deviceName: `${name}-phone` } })
  return { bus: nats.bus, me: await nats.bus.request(identityCreate, {}) }
}

/**
 * A message from `from` to `to`, sealed by `from`'s identity to `to`'s device (or to `sealTo`), as transport hands
 * it over (its `from` is the peer that carried it: the stranger's device).
 */
async function envelope(from: { bus: Bus; me: AccountSummary }, to: TestNode, over: Partial<MessagePayload> = {}, sealTo: { bus: Bus } = to) {
  const p: MessagePayload = {
    v: 1,
    kind: 'message',
    id: newMessageId(),
    from: from.me.accountId,
    fromDevice: from.me.deviceId,
    to: to.me.accountId,
    body: 'hello from a stranger',
    sentAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    sync: false,
    ...over,
  }
  const sealed = await from.bus.request(identitySeal, { id: p.id, payload: Buffer.from(encodePayload(p)).toString('base64'), recipients: [await certOf(sealTo)] })
  return { id: p.id, payload: sealed.envelope, from: { accountId: from.me.accountId, deviceId: from.me.deviceId, peerId: '12D3KooWStranger' } }
}

/**
 * Stand-in discovery and transport for `from` (see the file comment). `online` says which remote devices can be
 * reached; sends to them are forwarded to their node's outbox.receive.
 */
async function standIn(from: TestNode, remotes: TestNode[], opts: { certsInLookup?: boolean } = {}) {
  const online = new Set<string>()
  const watched: string[] = []
  const asked = { lookupDevice: 0, lookupDeviceList: [] as string[] }
  const byAccount = new Map(remotes.map((r) => [r.me.accountId, r]))
  const discovery = await from.bus.service({ name: 'discovery', version: '0.0.0' })
  discovery.serve(discoveryLookup, async ({ accountId }) => {
    const r = byAccount.get(accountId)
    if (!r) throw new BusError('not_found', `no device list for ${accountId}`)
    const d = r.me.deviceId
    const found = online.has(d) ? { peerId: `peer-${r.name}`, ...(opts.certsInLookup ? { deviceCert: await certOf(r) } : {}) } : {}
    return { accountId, devices: [{ deviceId: d, online: online.has(d), ...found, addrs: [] }], revoked: [] }
  })
  discovery.serve(discoveryLookupDeviceList, ({ accountId }) => {
    asked.lookupDeviceList.push(accountId)
    throw new BusError('not_found', `no device list for ${accountId}`)
  })
  discovery.serve(discoveryLookupDevice, async ({ deviceId }) => {
    asked.lookupDevice++
    const r = remotes.find((x) => x.me.deviceId === deviceId)
    if (!r) throw new BusError('not_found', `no presence record of ${deviceId}`)
    const chain = await r.bus.request(identityPeerBinding, { peerId: `peer-${r.name}` })
    return { presence: { deviceId, online: true, peerId: `peer-${r.name}`, addrs: [] }, accountId: r.me.accountId, chain: { deviceCert: chain.deviceCert, peerBinding: chain.peerBinding } }
  })
  discovery.serve(discoveryWatch, ({ accountId }) => {
    watched.push(accountId)
    return { watching: true as const, devices: [] }
  })
  discovery.serve(discoveryUnwatch, () => ({ watching: false as const }))
  const transport = await from.bus.service({ name: 'transport', version: '0.0.0' })
  transport.serve(transportSend, async ({ peerId, id, payload }) => {
    const r = remotes.find((x) => `peer-${x.name}` === peerId)
    if (!r || !online.has(r.me.deviceId)) throw new BusError('unreachable', `cannot dial ${peerId}`)
    const answer = await r.bus.request(outboxReceive, { id, payload, from: { accountId: from.me.accountId, deviceId: from.me.deviceId, peerId: `peer-${from.name}` } })
    if (answer.status === 'rejected') throw new BusError('rejected', answer.reason ?? 'rejected')
    return { status: answer.status, rttMs: 1, connection: 'direct' as const }
  })
  cleanup.add('stop stand-ins', async () => {
    await discovery.drain(1000)
    await transport.drain(1000)
  })
  await from.bus.flush()
  const comeOnline = (r: TestNode) => {
    online.add(r.me.deviceId)
    from.bus.publish(discoveryOnline, { accountId: r.me.accountId, deviceId: r.me.deviceId, peerId: `peer-${r.name}`, addrs: [], seq: 1, at: Date.now() })
  }
  return { online, watched, comeOnline, asked }
}

describe('outbox actor', () => {
  it('persists a message before it replies; killed right after, it restarts with the message pending and resumes it', async () => {
    const a = await node('a')
    const env = { BARAN_NODE: 'a', BARAN_BUS_URL: a.nats.url, BARAN_DATA_DIR: a.dataDir, BARAN_ACTOR_CONFIG: JSON.stringify(config) }
    const health = healthContractOf('outbox')
    const spawn = async () => {
      const p = spawnProcess(MAIN, { cleanup, env })
      await waitUntil(async () => (await a.bus.request(health, {}, { timeoutMs: 500 })).state === 'ready', { timeoutMs: 20_000, what: 'outbox ready' })
      return p
    }
    const first = await spawn()
    const sent = await a.bus.request(outboxSend, { to: STRANGER, body: 'are you there?' })
    await first.stop('SIGKILL')
    // the reply came, so the record is in JetStream, whatever happened to the process after
    const kv = await a.bus.kv('outbox')
    const stored = new TextDecoder().decode((await kv.get(sent.id))?.value)
    // sealed to this device: the body is not in the record, in any form
    expect(JSON.parse(stored)).toMatchObject({ id: sent.id, to: STRANGER, sealed: expect.any(String), devicesResolved: false })
    expect(stored).not.toContain('are you there?')
    expect(stored).not.toContain(Buffer.from('are you there?').toString('base64').slice(0, 12))

    const deliveries = await record<{ id: string; state: string; error?: string }>(a.bus, outboxDelivery)
    await spawn()
    const pending = await a.bus.request(outboxPending, {})
    expect(pending.total).toBe(1)
    // the preview is opened from the sealed copy when asked for
    expect(pending.messages[0]).toMatchObject({ id: sent.id, kind: 'message', preview: 'are you there?', devicesResolved: false })
    // resumed: it asks discovery again (which does not run here) and keeps the message queued
    await waitUntil(() => deliveries.some((d) => d.id === sent.id && d.state === 'queued' && /no_responder/.test(d.error ?? '')), { what: 'a resumed attempt' })
    const h = await a.bus.request(health, {})
    expect(h.details).toMatchObject({ jetstream: 'up', unresolved: 1, pending: 0, inboxSize: 0 })
  })

  it('stores a received message once: the same envelope again (a replay) is a duplicate, and one inbox entry', async () => {
    const a = await node('a')
    const s = await stranger()
    await a.startOutbox()
    const received = await record<{ id: string }>(a.bus, outboxReceived)
    const e = await envelope(s, a)
    await expect(a.bus.request(outboxReceive, e)).resolves.toEqual({ status: 'stored' })
    await expect(a.bus.request(outboxReceive, e)).resolves.toEqual({ status: 'duplicate' })
    // carried by another peer (a relay, later): the sender is the envelope's, whoever carried it
    await expect(a.bus.request(outboxReceive, { ...e, from: { accountId: 'd1'.repeat(20), deviceId: 'd2'.repeat(20), peerId: 'relay' } })).resolves.toEqual({ status: 'duplicate' })
    const inbox = await a.bus.request(outboxInbox, {})
    expect(inbox.total).toBe(1)
    expect(inbox.messages[0]).toMatchObject({ id: e.id, from: s.me.accountId, fromDevice: s.me.deviceId, body: 'hello from a stranger', read: false, sync: false })
    await waitUntil(() => received.length === 1)
    await a.bus.flush()
    expect(received.map((m) => m.id)).toEqual([e.id])
  })

  it('refuses bad envelopes with a reason and stores none of them', async () => {
    const a = await node('a')
    const s = await stranger()
    const other = await stranger('o')
    await a.startOutbox()
    const good = await envelope(s, a)
    const flipped = Buffer.from(good.payload, 'base64')
    flipped[flipped.length - 100]! ^= 1
    const cases: Array<[object, RegExp]> = [
      [{ ...good, payload: Buffer.from('{"v":1,').toString('base64') }, /^malformed: /],
      [{ ...good, payload: Buffer.alloc(64 * 1024 + 1, 1).toString('base64') }, /^too_large: /],
      [{ ...good, payload: flipped.toString('base64') }, /^bad_signature: /],
      [await envelope(s, a, { to: STRANGER }), /^wrong_recipient: /],
      // sealed by the stranger, but its payload claims another account's device as its sender
      [await envelope(s, a, { from: 'd1'.repeat(20) }), /^sender_mismatch: /],
      [await envelope(s, a, { sentAt: Date.now() - 120_000, expiresAt: Date.now() - 60_000 }), /^expired: /],
      // sealed to another device: this one cannot open it
      [await envelope(s, a, {}, other), /^not_for_this_device: /],
      [{ ...(await envelope(s, a)), id: newMessageId() }, /^id_mismatch: /],
    ]
    for (const [req, reason] of cases) {
      const r = await a.bus.request(outboxReceive, req as never)
      expect(r.status).toBe('rejected')
      expect(r.reason).toMatch(reason)
    }
    // not even a valid request: refused by the contract before the inbox sees it
    await expect(a.bus.request(outboxReceive, { ...good, payload: 'x'.repeat(400_000) })).rejects.toMatchObject({ code: 'invalid_request' })
    await expect(a.bus.request(outboxReceive, { ...good, payload: '%%%' })).rejects.toMatchObject({ code: 'invalid_request' })
    expect((await a.bus.request(outboxInbox, {})).total).toBe(0)
    // and the good one still goes in
    await expect(a.bus.request(outboxReceive, good)).resolves.toEqual({ status: 'stored' })
  })

  it("refuses a clear payload forged with transport's credentials in another account's name (the inbox trusted transport's `from`)", async () => {
    const a = await node('a')
    await a.startOutbox()
    // what a process holding transport's bus credentials could send: a well-formed payload, `from` to match it
    const now = Date.now()
    const p: MessagePayload = { v: 1, kind: 'message', id: newMessageId(), from: STRANGER, fromDevice: STRANGER_DEVICE, to: a.me.accountId, body: 'forged', sentAt: now, expiresAt: now + 60_000, sync: false }
    const forged = { id: p.id, payload: Buffer.from(encodePayload(p)).toString('base64'), from: { accountId: STRANGER, deviceId: STRANGER_DEVICE, peerId: '12D3KooWForged' } }
    // (inline, the test's bus plays transport; with the supervisor's credentials: apps/node/test/sealed.e2e.test.ts)
    const r = await a.bus.request(outboxReceive, forged)
    expect(r).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^malformed: /) })
    expect((await a.bus.request(outboxInbox, {})).total).toBe(0)
  })

  it('refuses an envelope from a revoked device of its own account', async () => {
    const a = await node('a')
    await a.startOutbox()
    // Alice links a laptop (its keys made here, as the laptop would), which seals to Alice's phone
    const laptop = generateKeyPair()
    const { deviceCert } = await a.bus.request(identityCertifyDevice, { deviceKey: laptop.signer, name: 'a-laptop' })
    const phoneCert = await certOf(a)
    const fromLaptop = async () => {
      const now = Date.now()
      const p: MessagePayload = { v: 1, kind: 'message', id: newMessageId(), from: a.me.accountId, fromDevice: laptop.id, to: 'b1'.repeat(20), body: 'sync copy', sentAt: now, expiresAt: now + 60_000, sync: true }
      const env = await sealEnvelope({ id: p.id, payload: encodePayload(p), sentAt: now, sender: { deviceCert: deviceCert as SignedRecord, deviceSecretKey: laptop.secretKey }, recipients: [envelopeRecipientOf(phoneCert, { now })] })
      return { id: p.id, payload: Buffer.from(env).toString('base64'), from: { accountId: a.me.accountId, deviceId: laptop.id, peerId: '12D3KooWLaptop' } }
    }
    await expect(a.bus.request(outboxReceive, await fromLaptop())).resolves.toEqual({ status: 'stored' })
    await a.bus.request(identityRevokeDevice, { deviceId: laptop.id })
    const r = await a.bus.request(outboxReceive, await fromLaptop())
    expect(r).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^revoked_sender: /) })
    expect((await a.bus.request(outboxInbox, {})).total).toBe(1)
  })

  it('refuses to send an oversized body, and to an unknown name', async () => {
    const a = await node('a')
    await a.startOutbox()
    await expect(a.bus.request(outboxSend, { to: STRANGER, body: 'é'.repeat(40_000) })).rejects.toMatchObject({ code: 'body_too_large' })
    await expect(a.bus.request(outboxSend, { to: STRANGER, body: '\u0001'.repeat(60_000) })).rejects.toMatchObject({ code: 'payload_too_large' })
    // within the body limit, but too large once sealed in an envelope (64 KiB with its header and signature)
    await expect(a.bus.request(outboxSend, { to: STRANGER, body: 'x'.repeat(64 * 1024 - 200) })).rejects.toMatchObject({ code: 'payload_too_large' })
    // naming is not running here: the name cannot be resolved, and nothing is queued
    await expect(a.bus.request(outboxSend, { to: 'bob', body: 'hi' })).rejects.toMatchObject({ code: 'naming_unavailable' })
    expect((await a.bus.request(outboxPending, { all: true })).total).toBe(0)
    await expect(a.bus.request(outboxStatus, { id: 'no such id!' })).rejects.toMatchObject({ code: 'not_found' })
    await expect(a.bus.request(outboxStatus, { id: newMessageId() })).rejects.toMatchObject({ code: 'not_found' })
  })

  it('lists the inbox in arrival order, and markRead queues one read receipt back to the sending device', async () => {
    const a = await node('a')
    const s = await stranger()
    await a.startOutbox()
    const ids: string[] = []
    const base = Date.now() - 10_000
    for (const i of [3, 0, 4, 1, 2]) {
      const e = await envelope(s, a, { id: createIdGenerator({ now: () => base + i * 1000 })(), body: `m${i}` })
      ids[i] = e.id
      expect((await a.bus.request(outboxReceive, e)).status).toBe('stored')
    }
    // arrival order: a late message (older ID) comes after what was already there, so readers following `next` see it
    const inbox = await a.bus.request(outboxInbox, {})
    expect(inbox.messages.map((m) => m.body)).toEqual(['m3', 'm0', 'm4', 'm1', 'm2'])
    expect((await a.bus.request(outboxInbox, { limit: 2, after: ids[0] })).messages.map((m) => m.body)).toEqual(['m4', 'm1'])
    await expect(a.bus.request(outboxInbox, { after: 'not-an-id' })).rejects.toMatchObject({ code: 'invalid_message_id' })
    await expect(a.bus.request(outboxInbox, { after: newMessageId() })).rejects.toMatchObject({ code: 'not_found' })

    await expect(a.bus.request(outboxMarkRead, { ids: [ids[0]!, ids[2]!] })).resolves.toEqual({ read: 2 })
    await expect(a.bus.request(outboxMarkRead, { ids: [ids[0]!] })).resolves.toEqual({ read: 0 })
    await expect(a.bus.request(outboxMarkRead, { ids: [ids[4]!], receipt: false })).resolves.toEqual({ read: 1 })
    const pending = await a.bus.request(outboxPending, {})
    expect(pending.messages).toHaveLength(2)
    for (const r of pending.messages) {
      expect(r).toMatchObject({ kind: 'receipt', to: s.me.accountId, devicesResolved: true, devices: [{ deviceId: s.me.deviceId, sync: false }] })
    }
    expect(pending.messages.map((r) => r.ref).sort()).toEqual([ids[0], ids[2]].sort())
    expect((await a.bus.request(outboxInbox, { unreadOnly: true })).messages.map((m) => m.body)).toEqual(['m3', 'm1'])
  })

  it('delivers to a node that comes online, with delivery and read receipts back (stand-in discovery/transport)', async () => {
    const a = await node('a')
    const b = await node('b')
    // Alice has a second device: it gets a sync copy
    const laptop = generateKeyPair()
    await a.bus.request(identityCertifyDevice, { deviceKey: laptop.signer, name: 'a-laptop' })
    const netA = await standIn(a, [b])
    const netB = await standIn(b, [a])
    let outboxA = await a.startOutbox()
    await b.startOutbox()
    const receiptsA = await record<{ id: string; kind: string; from: string; deviceId: string }>(a.bus, outboxReceipt)
    const receivedB = await record<{ id: string; body: string; receivedAt: number }>(b.bus, outboxReceived)

    // B is offline: the message waits, A watches B
    const sent = await a.bus.request(outboxSend, { to: b.me.accountId, body: 'hi Bob' })
    expect(sent.devices).toEqual([{ deviceId: laptop.id, state: 'queued', attempts: 0, sync: true }])
    await waitUntil(async () => {
      const s = await a.bus.request(outboxStatus, { id: sent.id })
      return s.devicesResolved && s.devices.find((d) => d.deviceId === b.me.deviceId && d.attempts >= 1)
    })
    expect(netA.watched).toContain(b.me.accountId)

    // A's outbox restarts in the meantime: nothing is lost
    await outboxA.stop()
    outboxA = await a.startOutbox()
    expect((await a.bus.request(outboxPending, {})).messages.map((m) => m.id)).toEqual([sent.id])

    // B comes online: A delivers on the presence event, not on its back-off
    const onlineAt = Date.now()
    netA.comeOnline(b)
    await waitUntil(() => receivedB.length === 1, { what: 'B received it' })
    const delay = receivedB[0]!.receivedAt - onlineAt
    process.stdout.write(`presence event → stored in B's inbox: ${delay} ms\n`)
    expect(receivedB[0]).toMatchObject({ id: sent.id, body: 'hi Bob' })
    await waitUntil(() => receiptsA.some((r) => r.kind === 'delivered'), { what: 'delivery receipt' })
    expect(receiptsA[0]).toMatchObject({ id: sent.id, kind: 'delivered', from: b.me.accountId, deviceId: b.me.deviceId })
    const status = await a.bus.request(outboxStatus, { id: sent.id })
    expect(status.devices.find((d) => d.deviceId === b.me.deviceId)).toMatchObject({ state: 'delivered' })

    // Bob reads it: the read receipt travels back the same durable way
    netB.comeOnline(a)
    await expect(b.bus.request(outboxMarkRead, { ids: [sent.id] })).resolves.toEqual({ read: 1 })
    await waitUntil(() => receiptsA.some((r) => r.kind === 'read'), { what: 'read receipt' })
    expect(receiptsA.find((r) => r.kind === 'read')).toMatchObject({ id: sent.id, from: b.me.accountId, deviceId: b.me.deviceId })
    expect((await a.bus.request(outboxStatus, { id: sent.id })).devices.find((d) => d.deviceId === b.me.deviceId)?.readAt).toBeGreaterThan(0)
    await waitUntil(async () => (await b.bus.request(outboxPending, {})).total === 0, { what: "B's receipt delivered" })
    // exactly once on B's side
    expect((await b.bus.request(outboxInbox, {})).messages.map((m) => m.id)).toEqual([sent.id])
    expect(outboxA.health().details).toMatchObject({ jetstream: 'up', pending: 1 }) // the sync copy: the laptop never came online
  })

  it("seals to the certificate the account lookup carried (no lookup of the device); the receiver asks for the sender's device list alone", async () => {
    const a = await node('a')
    const b = await node('b')
    const netA = await standIn(a, [b], { certsInLookup: true })
    const netB = await standIn(b, [a])
    netA.online.add(b.me.deviceId)
    await a.startOutbox()
    await b.startOutbox()
    const receivedB = await record<{ id: string; body: string }>(b.bus, outboxReceived)
    const sent = await a.bus.request(outboxSend, { to: b.me.accountId, body: 'sealed without asking twice' })
    await waitUntil(() => receivedB.length === 1, { what: 'B received it' })
    expect(receivedB[0]).toMatchObject({ id: sent.id, body: 'sealed without asking twice' })
    expect(netA.asked.lookupDevice).toBe(0)
    // The sender's revocations (for the envelope's check) come from its device list: one DHT get, no presences.
    await waitUntil(() => netB.asked.lookupDeviceList.includes(a.me.accountId), { what: "B asked for A's device list" })
  })

  it('degrades while nats-server is down, keeps the pending message, and recovers', async () => {
    const a = await node('a')
    const rt = await a.startOutbox()
    const sent = await a.bus.request(outboxSend, { to: STRANGER, body: 'survive this' })
    await a.nats.server.kill()
    await waitUntil(() => rt.state === 'degraded', { what: 'degraded' })
    await a.nats.server.start()
    await waitUntil(() => rt.state === 'ready', { timeoutMs: 20_000, what: 'ready again' })
    const pending = await waitUntil(() => a.bus.request(outboxPending, {}), { timeoutMs: 10_000 })
    expect(pending.messages.map((m) => m.id)).toEqual([sent.id])
  })
})

describe('outbox actor on an inbox of an earlier version', () => {
  it('moves the old `inbox` bucket into the log at start: listed oldest ID first with read flags, paged, once', async () => {
    const a = await node('a')
    // the layout earlier versions wrote: key <from>.<id>, the record with `read`, written in arrival (not ID) order
    const legacy = await a.bus.kv('inbox')
    const base = Date.now() - 100_000
    const old = Array.from({ length: 40 }, (_, i) => {
      const t = base + i * 1000
      return { id: createIdGenerator({ now: () => t })(), from: STRANGER, fromDevice: STRANGER_DEVICE, to: a.me.accountId, body: `old ${i}`, sentAt: t, expiresAt: t + 86_400_000, receivedAt: t + 3, read: i < 10, sync: false }
    })
    for (const r of [...old].reverse()) await legacy.create(legacyInboxKey(r.from, r.id), encodeJsonValue(r))
    const outbox = await a.startOutbox()
    const all = await a.bus.request(outboxInbox, { limit: 1000 })
    expect(all.messages.map((m) => [m.id, m.body, m.read])).toEqual(old.map((r) => [r.id, r.body, r.read]))
    expect(all.total).toBe(40)
    const unread = await a.bus.request(outboxInbox, { unreadOnly: true, limit: 5 })
    expect(unread.messages.map((m) => m.body)).toEqual(['old 10', 'old 11', 'old 12', 'old 13', 'old 14'])
    expect(unread).toMatchObject({ total: 30, next: old[14]!.id })
    // new messages come after the old ones; a restart does not copy anything twice
    expect((await a.bus.request(outboxReceive, await envelope(await stranger(), a, { body: 'new' }))).status).toBe('stored')
    await outbox.stop('restart')
    await outbox.close()
    await a.startOutbox()
    const again = await a.bus.request(outboxInbox, { limit: 1000 })
    expect(again.messages.map((m) => m.body)).toEqual([...old.map((r) => r.body), 'new'])
    expect(again.total).toBe(41)
  })
})

describe('outbox actor process, killed while receiving', () => {
  /**
   * kill -9 at a different moment each round, with 8 envelopes in flight: some die before their write, some after
   * it and before the reply (their resend is answered "duplicate"; how many varies run to run). The inbox test
   * covers that window deterministically; this one shows it holds for a real process.
   */
  it('loses no acked message and stores none twice across several kill -9 points', async () => {
    const a = await node('a')
    const env = { BARAN_NODE: 'a', BARAN_BUS_URL: a.nats.url, BARAN_DATA_DIR: a.dataDir, BARAN_ACTOR_CONFIG: '{}' }
    const health = healthContractOf('outbox')
    const s = await stranger()
    const envelopes: Array<Awaited<ReturnType<typeof envelope>>> = []
    for (let i = 0; i < 120; i += 12) envelopes.push(...(await Promise.all(Array.from({ length: 12 }, (_, j) => envelope(s, a, { body: `n${i + j}` })))))
    const acked = new Set<string>()
    let duplicates = 0
    const killAfter = [15, 30, 30] // acks per round before kill -9; the last round runs to the end
    for (let round = 0; round < 4 && acked.size < envelopes.length; round++) {
      const proc = spawnProcess(MAIN, { cleanup, env })
      await waitUntil(async () => (await a.bus.request(health, {}, { timeoutMs: 500 })).state === 'ready', { timeoutMs: 20_000, what: 'outbox ready' })
      // every envelope not acked yet is (re)sent, 8 at a time, as senders' outboxes would; the process dies mid-stream
      const todo = envelopes.filter((e) => !acked.has(e.id))
      let next = 0
      let ackedNow = 0
      let killed = false
      const worker = async () => {
        while (next < todo.length && !killed) {
          const e = todo[next++]!
          try {
            const r = await a.bus.request(outboxReceive, e, { timeoutMs: 2000 })
            expect(r.status === 'stored' || r.status === 'duplicate').toBe(true)
            if (r.status === 'duplicate') duplicates++
            acked.add(e.id)
            ackedNow++
          } catch {
            // no answer: the process died with it in flight (stored or not); it is sent again next round
          }
          if (round < killAfter.length && ackedNow >= killAfter[round]! && !killed) {
            killed = true
            await new Promise((r) => setTimeout(r, round))
            await proc.stop('SIGKILL')
          }
        }
      }
      await Promise.all(Array.from({ length: 8 }, worker))
      process.stdout.write(`round ${round}: ${todo.length} to send, ${ackedNow} acked, then ${killed ? 'kill -9' : 'done'}\n`)
      if (!killed) await proc.stop('SIGTERM')
    }
    expect(acked.size).toBe(envelopes.length)
    // stored by a process that died before it could answer: the resend was told "duplicate"
    process.stdout.write(`duplicates answered: ${duplicates}\n`)
    // the inbox log holds each message exactly once: one key per message, and no revision beyond them
    const log = await a.bus.kv('inbox-log')
    expect((await log.keys()).sort()).toEqual(envelopes.map((e) => e.id).sort())
    expect((await log.state()).lastRevision).toBe(envelopes.length)
  }, 60_000) // four process starts, and identity opens every envelope of each round (it took 24 s before sealing, unloaded)
})
