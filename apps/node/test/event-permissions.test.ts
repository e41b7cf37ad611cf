import * as busExports from '@baran/bus'
import {
  type Bus,
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
  outboxSyncServe,
  transportContracts,
  transportSyncRequest,
} from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_USER, SUPERVISOR_USER, UI_USER } from '../src/lib/bus-auth.ts'
import { ACTORS, NODE, permissionedBuses } from './permissioned-buses.ts'

// A real nats-server with the config the supervisor writes, one connection per bus user of a full node.
const USERS = [...ACTORS, SUPERVISOR_USER, CLI_USER, UI_USER]
const requests = [nodeStatus, nodeStop, ...ACTORS.map((a) => healthContractOf(a)), ...identityContracts, ...discoveryContracts, ...namingContracts, ...outboxContracts, ...transportContracts]

const cleanup = new Cleanup()
let buses = new Map<string, Bus>()

beforeAll(async () => {
  buses = await permissionedBuses(cleanup, USERS, requests)
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

describe('history sync verbs: only the outbox asks transport, only transport asks the outbox', () => {
  const serve = { deviceId: 'ab'.repeat(20), request: { op: 'conversations' as const } }
  const ask = { ...serve, peerId: '12D3KooWPeer', addrs: [] }
  it('the named caller gets through (nobody serves here: no_responder), every other user is refused', async () => {
    await expect(busOf('transport').request(outboxSyncServe, serve, { timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'no_responder' })
    await expect(busOf('outbox').request(transportSyncRequest, ask, { timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'no_responder' })
    for (const u of USERS.filter((x) => x !== 'transport' && x !== 'outbox')) {
      await expect(busOf(u).request(outboxSyncServe, serve, { timeoutMs: 2_000 }), `${u} may not ask outbox.syncServe`).rejects.toMatchObject({ code: 'forbidden' })
    }
    for (const u of USERS.filter((x) => x !== 'outbox' && x !== 'transport')) {
      await expect(busOf(u).request(transportSyncRequest, ask, { timeoutMs: 2_000 }), `${u} may not ask transport.syncRequest`).rejects.toMatchObject({ code: 'forbidden' })
    }
    // transport serves syncRequest itself but may not call it; the outbox likewise for syncServe
    await expect(busOf('outbox').request(outboxSyncServe, serve, { timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'forbidden' })
    await expect(busOf('transport').request(transportSyncRequest, ask, { timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'forbidden' })
  })
})
