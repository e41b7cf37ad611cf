/**
 * kill -9 of a node's nats-server (the supervisor starts it again on the same port): the outbox resumes and
 * delivers. How long that takes is recorded in bench/results/outbox-nats-restart.json (a measurement, not asserted).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { healthContractOf, outboxInbox, outboxSend } from '@baran/bus'
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
 * Waits until `n`'s outbox says itself that it is ready (its own health endpoint: the supervisor's view can still
 * hold the state from before the bus died, its state events being lost with the bus). Fails with the last state
 * and reason seen when it does not come within `timeoutMs`.
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
      // The test's own bus client reconnects too; a send is retried with one idempotency key until accepted.
      const idempotencyKey = `nats-restart-${killed}-${killedAt}`
      const sent = await waitUntil(
        () => a.bus.request(outboxSend, { to: bob, body: `after the ${killed} bus died`, idempotencyKey }, { timeoutMs: 2000 }).catch(() => undefined),
        { timeoutMs: 60_000, intervalMs: 100, what: 'a send accepted after the restart' },
      )
      const acceptedMs = Date.now() - killedAt
      await outboxReady(victim, `the ${killed}'s outbox ready again`)
      const outboxReadyMs = Date.now() - killedAt
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
})
