/**
 * kill -9 of a node's nats-server (the supervisor starts it again on the same port): the outbox resumes and
 * delivers. How long that takes is recorded in bench/results/outbox-nats-restart.json (a measurement, not asserted).
 * The node status stays truthful across it: no actor is ready there before it answers on the new bus.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { healthContractOf, nodeStatus, outboxInbox, outboxSend } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTwoNodes, type TestNode } from './helpers.ts'

const RESULTS = fileURLToPath(new URL('../../../bench/results/', import.meta.url))
const cleanup = new Cleanup()
let a: TestNode
let b: TestNode
let bob: string

beforeAll(async () => {
  ;({ a, b, bob } = await startTwoNodes(cleanup))
}, 120_000)
afterAll(() => cleanup.run())

async function busPidOf(n: TestNode): Promise<number> {
  return (JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busPid: number }).busPid
}

/**
 * Waits until `n`'s outbox says itself that it is ready (its own health endpoint). Fails with the last state and
 * reason seen when it does not come within `timeoutMs`.
 */
async function outboxReady(n: TestNode, what: string, timeoutMs = 60_000): Promise<void> {
  let last = 'no answer yet'
  try {
    await waitUntil(
      async () => {
        try {
          const health = await n.bus.request(healthContractOf('outbox'), {}, { timeoutMs: 2000 })
          last = health.reason === undefined ? health.state : `${health.state} (${health.reason})`
          return health.state === 'ready'
        } catch (e) {
          last = `no answer: ${(e as Error).message}`
          return false
        }
      },
      { timeoutMs, intervalMs: 100, what },
    )
  } catch (e) {
    throw new Error(`${what}: not within ${timeoutMs} ms, the outbox of ${n.node} is ${last}`, { cause: e })
  }
}

/**
 * Polls `n`'s node status until stopped; each answer that says the outbox is ready is checked at once against the
 * outbox's own health on the bus. Returns the states seen (changes only) and the ready answers the outbox did not back.
 */
function watchStatus(n: TestNode): { stop: () => Promise<{ states: string[]; falseReady: string[] }> } {
  const states: string[] = []
  const falseReady: string[] = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      // A short timeout: a request sent while the bus is down is lost, the next one goes out soon.
      const outbox = (await n.bus.request(nodeStatus, {}, { timeoutMs: 500 }).catch(() => undefined))?.actors.outbox
      if (outbox !== undefined) {
        const state = outbox.reason ? `${outbox.state} (${outbox.reason})` : outbox.state
        if (states.at(-1) !== state) states.push(state)
        if (outbox.state === 'ready') {
          const health = await n.bus.request(healthContractOf('outbox'), {}, { timeoutMs: 2000 }).catch((e: Error) => e.message)
          if (typeof health === 'string' || health.state !== 'ready') falseReady.push(typeof health === 'string' ? health : health.state)
        }
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  return {
    stop: async () => {
      await waitUntil(() => states.length > 0, { timeoutMs: 30_000, what: `a status answer from ${n.node} after its bus died` })
      stopped = true
      await loop
      return { states, falseReady }
    },
  }
}

async function delivered(n: TestNode, id: string): Promise<boolean> {
  return (await n.bus.request(outboxInbox, { limit: 10_000 })).messages.some((m) => m.id === id)
}

describe('the outbox after kill -9 of nats-server', () => {
  it('resumes and delivers, whichever node lost its bus (resume time recorded, not asserted)', async () => {
    // Warm: one message each way, so lookups, watches and connections exist as in a running node.
    const warm = await a.bus.request(outboxSend, { to: bob, body: 'warm-up' })
    await waitUntil(() => delivered(b, warm.id), { timeoutMs: 30_000, what: 'warm-up delivered' })

    const runs: Array<{ killed: string; acceptedMs: number; deliveredMs: number; outboxReadyMs: number }> = []
    for (const [killed, victim] of [
      ['sender', a],
      ['receiver', b],
    ] as const) {
      // The send below needs Alice's outbox to accept it (after the first round it may still be recovering).
      await outboxReady(a, `Alice's outbox ready before killing the ${killed} bus`)
      // A message in flight when the bus dies: queued for bob while his node is fine.
      const inFlight = await a.bus.request(outboxSend, { to: bob, body: `in flight when the ${killed} bus dies` })
      const killedAt = Date.now()
      process.kill(await busPidOf(victim), 'SIGKILL')
      const watch = watchStatus(victim)
      // The test's own bus client reconnects too; a send is retried with one idempotency key until accepted.
      const idempotencyKey = `nats-restart-${killed}-${killedAt}`
      const sent = await waitUntil(
        () => a.bus.request(outboxSend, { to: bob, body: `after the ${killed} bus died`, idempotencyKey }, { timeoutMs: 2000 }).catch(() => undefined),
        { timeoutMs: 60_000, intervalMs: 100, what: 'a send accepted after the restart' },
      )
      const acceptedMs = Date.now() - killedAt
      await outboxReady(victim, `the ${killed}'s outbox ready again`)
      const outboxReadyMs = Date.now() - killedAt
      // Whenever the supervisor's status said the outbox was ready, the outbox answered on the bus (the state
      // events of the outage are lost with the bus: the supervisor asks each actor again).
      const seen = await watch.stop()
      console.info(`node status of the ${killed} after its bus died: ${seen.states.join(' → ')}`)
      expect(seen.falseReady).toEqual([])
      await waitUntil(async () => (await delivered(b, sent.id).catch(() => false)) && (await delivered(b, inFlight.id).catch(() => false)), {
        timeoutMs: 90_000,
        intervalMs: 100,
        what: `both messages delivered after killing the ${killed} bus`,
      })
      runs.push({ killed, acceptedMs, outboxReadyMs, deliveredMs: Date.now() - killedAt })
      const inbox = (await b.bus.request(outboxInbox, { limit: 10_000 })).messages
      expect(inbox.filter((m) => m.id === sent.id || m.id === inFlight.id)).toHaveLength(2)
    }
    await mkdir(RESULTS, { recursive: true })
    await writeFile(join(RESULTS, 'outbox-nats-restart.json'), `${JSON.stringify({ name: 'outbox-nats-restart', at: new Date().toISOString(), runs }, null, 2)}\n`)
    console.info(`outbox after kill -9 of nats-server: ${JSON.stringify(runs)}`)
  }, 300_000)

  it('an actor that cannot reconnect (stopped with SIGSTOP) is not ready in the node status after the bus restart, until it answers', async () => {
    const outboxPid = (await a.status()).actors.outbox?.pid as number
    expect(outboxPid).toBeGreaterThan(0)
    process.kill(outboxPid, 'SIGSTOP')
    try {
      process.kill(await busPidOf(a), 'SIGKILL')
      // The supervisor is back on the restarted bus; the outbox is not (it is stopped): its last state event said ready.
      const lost = await waitUntil(
        async () => {
          const outbox = (await a.bus.request(nodeStatus, {}, { timeoutMs: 500 }).catch(() => undefined))?.actors.outbox
          return outbox?.state === 'degraded' ? outbox : undefined
        },
        { timeoutMs: 30_000, intervalMs: 100, what: "the node status to say alice's outbox is degraded" },
      )
      expect(lost.reason).toMatch(/the bus restarted/)
      await expect(a.bus.request(healthContractOf('outbox'), {}, { timeoutMs: 1000 })).rejects.toMatchObject({ name: 'BusError' })
    } finally {
      process.kill(outboxPid, 'SIGCONT')
    }
    // Once it runs again it reconnects, says so, and the status follows; the same process, not a restart.
    await waitUntil(async () => (await a.status()).actors.outbox?.state === 'ready', { timeoutMs: 60_000, what: "alice's outbox ready again" })
    expect((await a.status()).actors.outbox?.pid).toBe(outboxPid)
    await expect(a.bus.request(healthContractOf('outbox'), {}, { timeoutMs: 2000 })).resolves.toMatchObject({ state: 'ready' })
  }, 120_000)
})
