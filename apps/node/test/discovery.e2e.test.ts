/**
 * Discovery across three real node processes on one machine's local network (one BARAN_HOME: the first node
 * runs the dev chain and is everyone's DHT bootstrap). A watches C's account before C's node runs; C starts and
 * publishes; A hears `online` for C's device through the DHT's listen; B looks C up; C stops and A hears
 * `offline` once C's presence expires (a short presence life, from the discovery actor's config, keeps that quick).
 */
import {
  discoveryInfo,
  discoveryLookup,
  discoveryOffline,
  discoveryOnline,
  discoveryPublished,
  discoveryWatch,
  requestSubject,
} from '@baran/bus'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { actorLog, cli, startNode, stopNode, type TestNode } from './helpers.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run(), 60_000)

/** Presence life of every node here: C's `offline` comes a few seconds after it stops. */
const PRESENCE_TTL_MS = 6_000
/** All five actors, with a short presence life for discovery. */
const FULL = {
  actors: {
    identity: '@baran/identity',
    naming: '@baran/naming',
    discovery: { module: '@baran/discovery', config: { presenceTtlMs: PRESENCE_TTL_MS } },
    transport: '@baran/transport',
    outbox: '@baran/outbox',
  },
}

type Account = { accountId: string; deviceId: string }
type Online = { accountId: string; deviceId: string; peerId: string; addrs: string[]; seq: number; at: number }

async function createAccount(n: TestNode): Promise<Account> {
  const r = await cli(cleanup, ['account', 'create', '--data-dir', n.dataDir, '--json'])
  expect(r.code, r.out).toBe(0)
  return JSON.parse(r.out) as Account
}

/** Stops a node at cleanup with SIGTERM (before the testkit's SIGKILL), so it takes its servers down with it. */
function stopAtCleanup(n: TestNode): TestNode {
  cleanup.add(`stop node ${n.node}`, () => n.proc.stop('SIGTERM', 20_000))
  return n
}

/** Collects the events a subscription delivers. */
async function collect<T>(subscribe: (handler: (e: T) => void) => Promise<{ unsubscribe(): void }>): Promise<T[]> {
  const seen: T[] = []
  const sub = await subscribe((e) => seen.push(e))
  cleanup.add('unsubscribe', () => sub.unsubscribe())
  return seen
}

describe('discovery across three node processes', () => {
  let home: string
  let a: TestNode
  let b: TestNode
  let c: TestNode
  let cDataDir: string
  let carol: Account

  beforeAll(async () => {
    home = await tempDir(cleanup, 'baran-disc-')
    // A first: it starts the local network (chain, DHT bootstrap, relay); B joins it.
    a = stopAtCleanup(await startNode(cleanup, FULL, { home, name: 'a' }))
    b = stopAtCleanup(await startNode(cleanup, FULL, { home, name: 'b' }))
    await createAccount(a)
    await createAccount(b)
    // C's account is made on a node that runs identity alone (no DHT), which then stops: C is offline.
    const cIdentity = stopAtCleanup(await startNode(cleanup, { actors: { identity: '@baran/identity' } }, { home, name: 'c' }))
    cDataDir = cIdentity.dataDir
    carol = await createAccount(cIdentity)
    await stopNode(cIdentity)
  }, 240_000)

  it("pushes C's device to A, which watched C's account before C's node started", async () => {
    const online = await collect<Online>((h) => a.bus.subscribe(discoveryOnline, h))
    const watched = await a.bus.request(discoveryWatch, { accountId: carol.accountId }, { timeoutMs: 30_000 })
    expect(watched).toMatchObject({ watching: true, devices: [] })

    c = stopAtCleanup(await startNode(cleanup, FULL, { home, dataDir: cDataDir }))
    const published = await collect<{ seq: number; at: number }>((h) => c.bus.subscribe(discoveryPublished, h))
    const event = await waitUntil(() => online.find((e) => e.deviceId === carol.deviceId), { timeoutMs: 60_000, what: "A's online event for C's device" })
    expect(event).toMatchObject({ accountId: carol.accountId, deviceId: carol.deviceId })
    expect(event.addrs.length).toBeGreaterThan(0)

    // Latency from C's publish of the presence A saw to A's online event, both stamped by their actors on this
    // machine's clock. C's first publish may precede this test's subscription to its bus: then its log tells.
    const publishedAt = await waitUntil(
      async () => {
        const live = published.find((p) => p.seq === event.seq)
        if (live) return live.at
        const line = (await actorLog(c, 'discovery')).find((l) => l.msg === 'presence published' && l.seq === event.seq)
        return line?.time === undefined ? undefined : Date.parse(line.time)
      },
      { timeoutMs: 15_000, what: `C's publish of presence seq ${event.seq}` },
    )
    process.stdout.write(`discovery e2e: A's online event came ${event.at - publishedAt} ms after C's published event (presence seq ${event.seq}; below 0: the push reached A before C's publish call returned)\n`)
    expect((await c.bus.request(discoveryInfo, {})).published?.seq).toBeGreaterThanOrEqual(event.seq)
  }, 120_000)

  it("lets B look C up: C's device with its transport addresses", async () => {
    const found = await waitUntil(
      async () => {
        const r = await b.bus.request(discoveryLookup, { accountId: carol.accountId }, { timeoutMs: 30_000 })
        return r.devices.find((d) => d.deviceId === carol.deviceId && d.online)
      },
      { timeoutMs: 30_000, what: "B's lookup of C" },
    )
    expect(found.addrs.length).toBeGreaterThan(0)
    expect(found.addrs.every((ad) => ad.startsWith('/'))).toBe(true)
    expect(found.peerId).toMatch(/^12D3Koo/)
  }, 60_000)

  it("tells A that C went offline once C's presence expires", async () => {
    const offline = await collect<{ deviceId: string; at: number }>((h) => a.bus.subscribe(discoveryOffline, h))
    const stoppedAt = Date.now()
    await stopNode(c)
    const event = await waitUntil(() => offline.find((e) => e.deviceId === carol.deviceId), {
      timeoutMs: 4 * PRESENCE_TTL_MS + 20_000,
      what: "A's offline event for C's device",
    })
    process.stdout.write(`discovery e2e: offline ${event.at - stoppedAt} ms after C was told to stop (presence life ${PRESENCE_TTL_MS} ms)\n`)
  }, 90_000)

  it('answers a malformed request with invalid_request and stays ready', async () => {
    const subject = requestSubject(a.node, 'discovery', 'lookup')
    for (const body of ['{"accountId": 42}', '{"accountId": "not hex", "extra": true}', 'not json at all']) {
      const { error } = await a.bus.requestRaw(subject, new TextEncoder().encode(body), { version: 1 })
      expect(error, body).toMatchObject({ code: 'invalid_request' })
    }
    expect((await a.status()).actors.discovery?.state).toBe('ready')
    expect((await a.bus.request(discoveryInfo, {})).peerId).toMatch(/^12D3Koo/)
  }, 30_000)
})
