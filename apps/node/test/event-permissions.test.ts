import * as busExports from '@baran/bus'
import {
  Bus,
  canRead,
  discoveryContracts,
  encodeJson,
  type EventContract,
  eventContracts,
  eventSubject,
  healthContractOf,
  identityContracts,
  namingContracts,
  nodeStatus,
  nodeStop,
  outboxContracts,
  transportContracts,
} from '@baran/bus'
import { NatsServerProcess } from '@baran/launch'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_USER, natsConfig, permissionsFor, SUPERVISOR_USER, UI_USER } from '../src/lib/bus-auth.ts'

// A real nats-server with the config the supervisor writes, one connection per bus user of a full node.
const NODE = 'n1'
const ACTORS = ['identity', 'naming', 'discovery', 'transport', 'outbox'] as const
const USERS = [...ACTORS, SUPERVISOR_USER, CLI_USER, UI_USER]
const requests = [nodeStatus, nodeStop, ...ACTORS.map((a) => healthContractOf(a)), ...identityContracts, ...discoveryContracts, ...namingContracts, ...outboxContracts, ...transportContracts]

const cleanup = new Cleanup()
const buses = new Map<string, Bus>()

beforeAll(async () => {
  const dir = await tempDir(cleanup, 'baran-perms-')
  const users = Object.fromEntries(
    USERS.map((u) => [u, { pass: `pass-of-${u}-0123456789`, permissions: permissionsFor(u, NODE, requests, { actor: (ACTORS as readonly string[]).includes(u), jetstream: u === 'outbox', events: eventContracts }) }]),
  )
  const configFile = join(dir, 'nats.conf')
  await writeFile(configFile, natsConfig({ node: NODE, jetstreamDir: join(dir, 'js'), users }))
  const server = await new NatsServerProcess({ configFile, workDir: dir, logFile: join(dir, 'nats.log') }).start()
  cleanup.add('stop nats-server', () => server.stop())
  for (const u of USERS) {
    const bus = await Bus.connect({ servers: server.url, node: NODE, user: u, pass: users[u]?.pass ?? '' })
    cleanup.add(`close ${u}`, () => bus.close())
    buses.set(u, bus)
  }
}, 30_000)
afterAll(() => cleanup.run())

function busOf(user: string): Bus {
  const bus = buses.get(user)
  if (!bus) throw new Error(`no bus for ${user}`)
  return bus
}

/** The bus user that publishes an event: its actor, the supervisor for the node's own events. */
function publisherOf(c: EventContract): string {
  if (c.actor === 'node') return SUPERVISOR_USER
  return c.actor === '*' ? 'outbox' : c.actor
}

describe('event subscribe permissions, derived from each event contract’s readers', () => {
  it('every event contract exported by @baran/bus is in eventContracts', () => {
    const isEvent = (v: unknown): v is EventContract => typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'event'
    const exported = (Object.values(busExports) as unknown[]).filter(isEvent)
    expect(exported.length).toBeGreaterThan(10)
    const known = new Set(eventContracts.map((c) => `${c.actor}.${c.event}`))
    for (const c of exported) expect(known, `${c.actor}.evt.${c.event} is missing from eventContracts`).toContain(`${c.actor}.${c.event}`)
  })

  for (const c of eventContracts) {
    const subject = eventSubject(NODE, c.actor === '*' ? publisherOf(c) : c.actor, c.event)
    it(`${subject}: its readers (${c.readers.join(', ') || 'none'}) hear it, every other user is refused`, async () => {
      expect(c.readers.length, `${c.actor}.evt.${c.event} names no readers`).toBeGreaterThan(0)
      const publisher = publisherOf(c)
      const allowed = USERS.filter((u) => u === publisher || canRead(c, u))
      const refused = USERS.filter((u) => !allowed.includes(u))
      const heard = new Set<string>()
      const subs: Array<{ unsubscribe(): void }> = []
      try {
        for (const u of allowed) subs.push(await busOf(u).subscribeRaw(subject, () => void heard.add(u)))
        for (const u of refused) await expect(busOf(u).subscribeRaw(subject, () => void heard.add(u)), `${u} may not read ${subject}`).rejects.toMatchObject({ code: 'forbidden' })
        // No reply comes: the request is only a way to publish raw bytes on the subject.
        await busOf(publisher).requestRaw(subject, encodeJson({ probe: true }), { timeoutMs: 50 }).catch(() => undefined)
        await waitUntil(async () => (allowed.every((u) => heard.has(u)) ? true : undefined), { timeoutMs: 5_000, what: `every reader of ${subject} heard it` })
        expect([...heard].sort()).toEqual([...allowed].sort())
      } finally {
        for (const s of subs) s.unsubscribe()
      }
    })
  }

  it("refuses the naming actor's user the bodies of received messages, and any wildcard over the events", async () => {
    const naming = busOf('naming')
    await expect(naming.subscribeRaw(eventSubject(NODE, 'outbox', 'received'), () => {})).rejects.toMatchObject({ code: 'forbidden' })
    await expect(naming.subscribeRaw(`baran.${NODE}.*.evt.>`, () => {})).rejects.toMatchObject({ code: 'forbidden' })
    await expect(naming.subscribeRaw(`baran.${NODE}.outbox.>`, () => {})).rejects.toMatchObject({ code: 'forbidden' })
    await expect(naming.subscribeRaw('baran.>', () => {})).rejects.toMatchObject({ code: 'forbidden' })
    // every actor still hears every lifecycle event
    await expect(naming.subscribeRaw(eventSubject(NODE, '*', 'state'), () => {}).then((s) => s.unsubscribe())).resolves.toBeUndefined()
  })
})
