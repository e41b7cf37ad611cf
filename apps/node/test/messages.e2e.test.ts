/**
 * The message commands (`send`, `inbox`, `watch`, `outbox`) against a real node process running identity and
 * outbox. The node uses an external nats-server (the `bus.url` setting), so this test can play the transport
 * actor and hand the outbox incoming envelopes, sealed by a stranger's real identity actor (on its own bus).
 */
import { nodeStatus, outboxReceived } from '@baran/bus'
import { newMessageId } from '@baran/outbox'
import { Cleanup, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, spawnBaran } from './helpers.ts'
import { type StrangerNode, startStrangerNode } from './stranger-node.ts'

const cleanup = new Cleanup()
const STRANGER = 'c1'.repeat(20)
let node: StrangerNode
let dataDir: string
/** Another account's device (a real identity actor) whose envelopes the node receives. */
let stranger: StrangerNode['stranger']

beforeAll(async () => {
  node = await startStrangerNode(cleanup, 'm1')
  ;({ dataDir, stranger } = node)
}, 90_000)
afterAll(() => cleanup.run())

/** Hands the node's outbox an envelope from the stranger, sealed to the node's device, as transport does. */
async function deliver(body: string): Promise<string> {
  const id = newMessageId()
  expect(await node.deliver({ id, body })).toBe('stored')
  return id
}

/** `baran watch`'s subscription is up once a message reaches it: delivers until one shows, and gives its ID. */
function deliverUntilWatched(watch: { output: string[] }, body: string): Promise<string> {
  return waitUntil(
    async () => {
      const sent = await deliver(body)
      await new Promise((r) => setTimeout(r, 100))
      return watch.output.some((l) => l.includes(sent)) ? sent : undefined
    },
    { timeoutMs: 20_000, what: 'watch printed a message' },
  )
}

async function json<T>(args: string[]): Promise<T> {
  const r = await cli(cleanup, [...args, '--data-dir', dataDir, '--json'])
  expect(r.code, r.out).toBe(0)
  return JSON.parse(r.out) as T
}

describe('baran send / inbox / watch / outbox', () => {
  it('sends: prints the message ID, and outbox shows it pending with its state', async () => {
    const r = await cli(cleanup, ['send', STRANGER, 'hello', 'there', '--data-dir', dataDir])
    expect(r.code, r.out).toBe(0)
    const id = r.out.trim()
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    const pending = await json<{ messages: Array<{ id: string; preview: string; devicesResolved: boolean }>; total: number }>(['outbox'])
    expect(pending.messages.find((m) => m.id === id)).toMatchObject({ preview: 'hello there', devicesResolved: false })
    const human = await cli(cleanup, ['outbox', '--data-dir', dataDir])
    expect(human.out).toContain(id)
    expect(human.out).toContain("looking for the recipient's devices")
  })

  it('refuses a bad duration and an unknown name cleanly', async () => {
    const bad = await cli(cleanup, ['send', STRANGER, 'x', '--ttl', 'soon', '--data-dir', dataDir])
    expect(bad.code).toBe(2)
    expect(bad.out).toMatch(/not a duration/)
    // naming does not run on this node: the name cannot be resolved, and the CLI says so
    const name = await cli(cleanup, ['send', 'nobody-here', 'x', '--data-dir', dataDir])
    expect(name.code).toBe(4)
    expect(name.out).toMatch(/cannot resolve "nobody-here"/)
  })

  it('lists the inbox as [{ id, from, body, receivedAt }], oldest first, and marks read', async () => {
    const a = await deliver('first')
    const b = await deliver('second')
    const inbox = await json<Array<{ id: string; from: string; body: string; receivedAt: number }>>(['inbox'])
    expect(inbox.map((m) => m.id)).toEqual([a, b])
    expect(inbox[0]).toEqual({ id: a, from: stranger.me.accountId, body: 'first', receivedAt: expect.any(Number) })
    await json(['inbox', '--mark-read'])
    expect(await json(['inbox', '--unread'])).toEqual([])
    // reading sent read receipts back: they wait in the outbox like messages
    const pending = await json<{ messages: Array<{ kind: string; ref?: string }> }>(['outbox'])
    expect(pending.messages.filter((m) => m.kind === 'receipt').map((m) => m.ref).sort()).toEqual([a, b].sort())
  })

  it('watches live until Ctrl-C', async () => {
    const watch = spawnBaran(cleanup, ['watch', '--data-dir', dataDir, '--json'])
    const id = await deliverUntilWatched(watch, 'live one')
    const line = JSON.parse(watch.output.find((l) => l.includes(id))!)
    expect(line).toMatchObject({ event: 'received', id, from: stranger.me.accountId, body: 'live one' })
    watch.child.kill('SIGINT')
    expect((await watch.exited).code).toBe(0)
  })

  it('announces again what a killed outbox stored, when its sender resends it; watch shows it once', async () => {
    const announced: string[] = []
    const sub = await node.bus.subscribe(outboxReceived, (m) => void announced.push(m.id))
    const watch = spawnBaran(cleanup, ['watch', '--data-dir', dataDir, '--json'])
    const id = await deliverUntilWatched(watch, 'before the kill')
    // The outbox's process dies (a kill between the write and the announcement looks the same to the next run) and
    // the supervisor starts it again; the sender, whose ack may have died with it, sends the message again.
    const pid = (await node.bus.request(nodeStatus, {})).actors.outbox?.pid
    if (!pid) throw new Error('the outbox has no pid')
    process.kill(pid, 'SIGKILL')
    await waitUntil(
      async () => {
        const { actors } = await node.bus.request(nodeStatus, {})
        return actors.outbox?.pid !== pid && Object.values(actors).every((x) => x.state === 'ready')
      },
      { timeoutMs: 30_000, what: 'the outbox restarted' },
    )
    expect(await node.deliver({ id, body: 'before the kill' })).toBe('duplicate')
    await waitUntil(() => announced.filter((x) => x === id).length === 2, { timeoutMs: 10_000, what: 'the message announced again' })
    // a duplicate within the new run is not announced again
    expect(await node.deliver({ id, body: 'before the kill' })).toBe('duplicate')
    const after = await deliver('after the kill')
    await waitUntil(() => watch.output.some((l) => l.includes(after)), { timeoutMs: 10_000, what: 'watch printed the next message' })
    expect(announced.filter((x) => x === id)).toHaveLength(2)
    expect(watch.output.filter((l) => l.includes(id))).toHaveLength(1)
    sub.unsubscribe()
    watch.child.kill('SIGINT')
    expect((await watch.exited).code).toBe(0)
  }, 60_000)
})
