import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  Bus,
  discoveryContracts,
  eventContracts,
  identityContracts,
  identityCreate,
  identityPeerBinding,
  identitySeal,
  outboxContracts,
  outboxInbox,
  outboxReceive,
  transportContracts,
} from '@baran/bus'
import { identityActor } from '@baran/identity'
import { NatsServerProcess } from '@baran/launch'
import { encodePayload, newMessageId, outboxActor } from '@baran/outbox'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_USER, natsConfig, permissionsFor } from '../src/lib/bus-auth.ts'

// The supervisor's nats-server config (users and permissions as a node runs them), the real identity and outbox
// actors: what a process holding transport's bus credentials can make the inbox store.
const NODE = 'n1'
const ACTORS = ['identity', 'naming', 'discovery', 'transport', 'outbox'] as const
const USERS = [...ACTORS, CLI_USER]
const CONTRACTS = [...identityContracts, ...outboxContracts, ...discoveryContracts, ...transportContracts]
const cleanup = new Cleanup()
const buses = new Map<string, Bus>()
const bus = (u: string) => buses.get(u)!
let me: { accountId: string; deviceId: string }

beforeAll(async () => {
  const dir = await tempDir(cleanup, 'baran-sealed-receive-')
  const users = Object.fromEntries(
    USERS.map((u) => [u, { pass: `pass-of-${u}-0123456789`, permissions: permissionsFor(u, NODE, CONTRACTS, { actor: (ACTORS as readonly string[]).includes(u), jetstream: u === 'outbox', events: eventContracts }) }]),
  )
  const configFile = join(dir, 'nats.conf')
  await writeFile(configFile, natsConfig({ node: NODE, jetstreamDir: join(dir, 'js'), users }))
  const server = await new NatsServerProcess({ configFile, workDir: dir, logFile: join(dir, 'nats.log') }).start()
  cleanup.add('stop nats-server', () => server.stop())
  for (const u of USERS) {
    const b = await Bus.connect({ servers: server.url, node: NODE, user: u, pass: users[u]?.pass ?? '' })
    cleanup.add(`close ${u}`, () => b.close())
    buses.set(u, b)
  }
  const dataDir = await tempDir(cleanup)
  await runInline(identityActor, { cleanup, node: NODE, bus: bus('identity'), dataDir, config: { kdf: { N: 1024, r: 8, p: 1 } } })
  me = await bus(CLI_USER).request(identityCreate, {})
  await runInline(outboxActor, { cleanup, node: NODE, bus: bus('outbox'), dataDir })
}, 60_000)
afterAll(() => cleanup.run())

describe("outbox.receive with transport's credentials", () => {
  it("a clear payload in another account's name is rejected, and nothing is stored (it used to be stored)", async () => {
    const now = Date.now()
    const [other, otherDevice] = ['c1'.repeat(20), 'c2'.repeat(20)]
    const p = { v: 1, kind: 'message', id: newMessageId(), from: other, fromDevice: otherDevice, to: me.accountId, body: 'forged', sentAt: now, expiresAt: now + 60_000, sync: false } as const
    const r = await bus('transport').request(outboxReceive, { id: p.id, payload: Buffer.from(encodePayload(p)).toString('base64'), from: { accountId: other, deviceId: otherDevice, peerId: '12D3KooWForged' } })
    expect(r).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^malformed: /) })
    expect((await bus(CLI_USER).request(outboxInbox, {})).total).toBe(0)
  })

  it("an envelope the other account's device sealed is stored under the sender it proves, whatever transport says", async () => {
    const s = await setupNats({ cleanup, node: 's1', jetstream: false })
    await runInline(identityActor, { cleanup, node: 's1', url: s.url, dataDir: await tempDir(cleanup), config: { kdf: { N: 1024, r: 8, p: 1 } } })
    const sender = await s.bus.request(identityCreate, {})
    const now = Date.now()
    const p = { v: 1, kind: 'message', id: newMessageId(), from: sender.accountId, fromDevice: sender.deviceId, to: me.accountId, body: 'sealed', sentAt: now, expiresAt: now + 60_000, sync: false } as const
    const { deviceCert } = await bus(CLI_USER).request(identityPeerBinding, { peerId: '12D3KooWSealedReceive' })
    const sealed = await s.bus.request(identitySeal, { id: p.id, payload: Buffer.from(encodePayload(p)).toString('base64'), recipients: [deviceCert] })
    // transport names some other peer: the envelope's signature decides
    const r = await bus('transport').request(outboxReceive, { id: p.id, payload: sealed.envelope, from: { accountId: 'd1'.repeat(20), deviceId: 'd2'.repeat(20), peerId: '12D3KooWRelay' } })
    expect(r).toEqual({ status: 'stored' })
    const inbox = await bus(CLI_USER).request(outboxInbox, {})
    expect(inbox.messages).toMatchObject([{ id: p.id, from: sender.accountId, fromDevice: sender.deviceId, body: 'sealed' }])
  })
})
