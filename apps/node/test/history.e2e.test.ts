/**
 * `baran history <peer>` against a real node process running identity and outbox. As in messages.e2e.test.ts, the
 * node uses an external nats-server (`bus.url`), so this test plays the transport actor and hands the outbox a
 * stranger's envelopes; messages this node sends stay queued (no discovery runs), which the history shows.
 */
import { newMessageId } from '@baran/outbox'
import { Cleanup } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli } from './helpers.ts'
import { type StrangerNode, startStrangerNode } from './stranger-node.ts'

const cleanup = new Cleanup()
let node: StrangerNode
let dataDir: string
let STRANGER: string

beforeAll(async () => {
  node = await startStrangerNode(cleanup, 'h1')
  dataDir = node.dataDir
  STRANGER = node.stranger.me.accountId
}, 90_000)
afterAll(() => cleanup.run())

/** Hands the node's outbox an envelope from the stranger, sealed to the node's device, as transport does. */
async function deliver(id: string, body: string, prev?: string): Promise<void> {
  expect(await node.deliver({ id, body, ...(prev ? { prev } : {}) })).toBe('stored')
}

interface Shown {
  peer: string
  messages: Array<{ id: string; direction: string; body: string; state: string; read: boolean; prev?: string }>
  gaps: string[]
}

describe('baran history', () => {
  it('shows both directions in message-ID order with their states, and the gaps', async () => {
    const first = newMessageId()
    const skipped = newMessageId()
    const third = newMessageId()
    await deliver(first, 'hi there')
    const sent = await cli(cleanup, ['send', STRANGER, 'hello back', '--data-dir', dataDir])
    expect(sent.code, sent.out).toBe(0)
    const mine = sent.out.trim()
    // the stranger's later message names one this node never got
    const late = newMessageId()
    await deliver(late, 'did you get my last one?', skipped)
    // an older message of the stranger's arriving last still lists in its place
    await deliver(third, 'sent before yours, arrived last')

    const r = await cli(cleanup, ['history', STRANGER, '--data-dir', dataDir, '--json'])
    expect(r.code, r.out).toBe(0)
    const shown = JSON.parse(r.out) as Shown
    expect(shown.peer).toBe(STRANGER)
    expect(shown.messages.map((m) => [m.id, m.direction, m.body, m.state])).toEqual(
      [
        [first, 'in', 'hi there', 'received'],
        [third, 'in', 'sent before yours, arrived last', 'received'],
        [mine, 'out', 'hello back', 'queued'],
        [late, 'in', 'did you get my last one?', 'received'],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    )
    expect(shown.messages.find((m) => m.id === late)?.prev).toBe(skipped)
    expect(shown.gaps).toEqual([skipped])

    // reading shows as read
    const read = await cli(cleanup, ['inbox', '--mark-read', '--data-dir', dataDir])
    expect(read.code, read.out).toBe(0)
    const after = JSON.parse((await cli(cleanup, ['history', STRANGER, '--data-dir', dataDir, '--json'])).out) as Shown
    expect(after.messages.filter((m) => m.direction === 'in').every((m) => m.read && m.state === 'read')).toBe(true)

    const human = await cli(cleanup, ['history', STRANGER, '--data-dir', dataDir])
    expect(human.code, human.out).toBe(0)
    expect(human.out).toContain('hello back')
    expect(human.out).toMatch(/1 message\(s\) referenced but not on this device/)
  })

  it('says so when a name cannot be resolved, and shows an empty conversation', async () => {
    const name = await cli(cleanup, ['history', 'nobody-here', '--data-dir', dataDir])
    expect(name.code).toBe(4)
    expect(name.out).toMatch(/cannot resolve "nobody-here"/)
    const empty = await cli(cleanup, ['history', 'd1'.repeat(20), '--data-dir', dataDir])
    expect(empty.code, empty.out).toBe(0)
    expect(empty.out).toContain('no messages with this account yet')
  })
})
