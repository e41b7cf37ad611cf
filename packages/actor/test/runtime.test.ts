import { Bus, healthContractOf, stateEventOf, contract, event } from '@baran/bus'
import { type NatsServerProcess, startNatsServer } from '@baran/launch'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ActorConfigError, ActorRuntime, defineActor, silentLogger } from '../src/index.ts'

const ping = contract({ actor: 'pinger', verb: 'ping', request: z.object({}), reply: z.object({ pong: z.number() }), callers: ['cli'], description: 'ping' })
const peek = contract({ actor: 'pinger', verb: 'peek', request: z.object({}), reply: z.object({ n: z.number() }), callers: ['cli'], description: 'peek' })
const hang = contract({ actor: 'pinger', verb: 'hang', request: z.object({ ms: z.number() }), reply: z.object({}), callers: ['cli'], description: 'slow' })

const tick = event({ actor: 'clock', event: 'tick', body: z.object({ n: z.number() }), description: 'a tick' })

const pinger = defineActor({
  name: 'pinger',
  version: '1.2.3',
  config: z.object({ start: z.number().int().default(0) }),
  async start(ctx) {
    let n = ctx.config.start
    ctx.serve(ping, () => ({ pong: ++n }))
    // Answerable from what the actor holds, as long as only its peers are unreachable.
    ctx.serve(peek, () => ({ n }), { servedWhileDegradedBy: ['no peer reachable'] })
    ctx.serve(hang, async ({ ms }) => {
      await new Promise((r) => setTimeout(r, ms))
      return {}
    })
    return { health: () => ({ count: n }) }
  },
})

let dir: string
let server: NatsServerProcess
let client: Bus

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baran-rt-'))
  server = await startNatsServer({ workDir: dir })
  client = await Bus.connect({ servers: server.url, node: 'n1' })
})
afterAll(async () => {
  await client?.close()
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

function runtime(config: unknown = {}) {
  return new ActorRuntime(pinger, {
    node: 'n1',
    bus: { connect: { servers: server.url } },
    config,
    dataDir: dir,
    log: silentLogger(),
    stopDeadlineMs: 1000,
    connectBackoff: { initialMs: 50, maxMs: 200 },
  })
}

describe('actor runtime (inline, real nats-server)', () => {
  it('goes idle → ready, publishes every state, answers health from the snapshot', async () => {
    const states: string[] = []
    const sub = await client.subscribe(stateEventOf('pinger'), (e) => void states.push(e.state))
    const rt = runtime({ start: 10 })
    await rt.start()
    await expect(client.request(ping, {})).resolves.toEqual({ pong: 11 })
    const health = await client.request(healthContractOf('pinger'), {})
    expect(health).toMatchObject({ actor: 'pinger', node: 'n1', state: 'ready', version: '1.2.3', pid: process.pid, details: { count: 11 } })
    await rt.stop()
    await rt.close()
    // connecting happens before the bus exists, so the first state on the bus is `starting`.
    await expect.poll(() => states).toEqual(['starting', 'ready', 'stopping', 'stopped'])
    sub.unsubscribe()
  })

  it('publishes a degraded actor\'s new reason, not only its state changes', async () => {
    const events: Array<{ state: string; reason?: string }> = []
    const sub = await client.subscribe(stateEventOf('pinger'), (e) => void events.push({ state: e.state, ...(e.reason ? { reason: e.reason } : {}) }))
    const rt = runtime()
    await rt.start()
    rt.lifecycle.send({ type: 'DEGRADE', reason: 'JetStream unavailable: disk full' })
    rt.lifecycle.send({ type: 'DEGRADE', reason: 'JetStream unavailable: TIMEOUT' })
    rt.lifecycle.send({ type: 'RECOVER', reason: 'JetStream unavailable: disk full' })
    await expect
      .poll(() => events.filter((e) => e.state === 'degraded'))
      .toEqual([
        { state: 'degraded', reason: 'JetStream unavailable: disk full' },
        { state: 'degraded', reason: 'JetStream unavailable: TIMEOUT' },
      ])
    await rt.stop()
    await rt.close()
    sub.unsubscribe()
  })

  it('serves a verb while degraded only by the reasons it tolerates, and refuses it for any other', async () => {
    const rt = runtime({ start: 5 })
    await rt.start()
    rt.lifecycle.send({ type: 'DEGRADE', reason: 'no peer reachable' })
    await expect.poll(() => rt.state).toBe('degraded')
    await expect(client.request(peek, {})).resolves.toEqual({ n: 5 })
    await expect(client.request(ping, {})).rejects.toMatchObject({ code: 'unavailable', details: { state: 'degraded' } })
    rt.lifecycle.send({ type: 'DEGRADE', reason: 'JetStream unavailable: disk full' })
    await expect(client.request(peek, {})).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('disk full') })
    rt.lifecycle.send({ type: 'RECOVER', reason: 'JetStream unavailable: disk full' })
    await expect(client.request(peek, {})).resolves.toEqual({ n: 5 })
    rt.lifecycle.send({ type: 'RECOVER', reason: 'no peer reachable' })
    await expect.poll(() => rt.state).toBe('ready')
    await expect(client.request(ping, {})).resolves.toEqual({ pong: 6 })
    await rt.stop()
    await rt.close()
  })

  it('rejects a bad config with a message that names the key', () => {
    expect(() => runtime({ start: 'ten' })).toThrow(ActorConfigError)
    expect(() => runtime({ start: 'ten' })).toThrow(/start/)
  })

  it('drains a request in flight before it stops', async () => {
    const rt = runtime()
    await rt.start()
    const slow = client.request(hang, { ms: 300 }, { timeoutMs: 3000 })
    await new Promise((r) => setTimeout(r, 50))
    await rt.stop()
    await expect(slow).resolves.toEqual({})
    await rt.close()
    // and once stopped, nobody answers
    await expect(client.request(ping, {})).rejects.toMatchObject({ code: 'no_responder' })
  })

  it('is degraded while nats-server is down and ready again when it returns', async () => {
    const rt = runtime()
    await rt.start()
    await server.kill()
    await expect.poll(() => rt.state, { timeout: 5000 }).toBe('degraded')
    expect(rt.snapshot.context.degradedBy).toEqual(['bus'])
    await server.start()
    await expect.poll(() => rt.state, { timeout: 10_000 }).toBe('ready')
    // the client reconnects too, and the actor serves again
    await expect.poll(() => client.request(ping, {}).then((r) => r.pong > 0).catch(() => false), { timeout: 10_000 }).toBe(true)
    await rt.stop()
    await rt.close()
  })

  it('keeps trying to connect while the bus is not up yet', async () => {
    const port = server.port
    await server.stop()
    const rt = runtime()
    const started = rt.start()
    await new Promise((r) => setTimeout(r, 300))
    expect(rt.state).toBe('connecting')
    await server.start()
    expect(server.port).toBe(port)
    await started
    expect(rt.state).toBe('ready')
    await rt.stop()
    await rt.close()
  })

  it('undoes what the actor subscribed to when it stops on a shared connection', async () => {
    const seen: number[] = []
    const listener = defineActor({
      name: 'listener',
      version: '1.0.0',
      config: z.object({}),
      async start(ctx) {
        await ctx.subscribe(tick, (e) => void seen.push(e.n))
        return {}
      },
    })
    const shared = await Bus.connect({ servers: server.url, node: 'n1' })
    const pub = await Bus.connect({ servers: server.url, node: 'n1' })
    try {
      const rt = new ActorRuntime(listener, { node: 'n1', bus: { shared }, config: {}, dataDir: dir, log: silentLogger(), stopDeadlineMs: 1000 })
      await rt.start()
      pub.publish(tick, { n: 1 })
      await pub.flush()
      await expect.poll(() => seen).toEqual([1])
      await rt.stop()
      await rt.close()
      pub.publish(tick, { n: 2 })
      await pub.flush()
      await shared.flush()
      // The shared connection is still open, and the stopped actor's handler no longer runs.
      expect(seen).toEqual([1])
    } finally {
      await pub.close()
      await shared.close()
    }
  })
})
