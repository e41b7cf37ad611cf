/**
 * Messages between accounts that have several devices, across four real node processes on one local network:
 * every device of the recipient gets the message, the sender's other device gets a sync copy, and a device
 * revoked by its account receives nothing new.
 */
import { identityStatus, outboxInbox, outboxSend, outboxStatus } from '@baran/bus'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, startNode, type TestNode } from './helpers.ts'

const cleanup = new Cleanup()
let a1: TestNode
let a2: TestNode
let b1: TestNode
let b2: TestNode
let bob: string

async function link(from: TestNode, to: TestNode): Promise<void> {
  const offer = await cli(cleanup, ['devices', 'link', '--data-dir', from.dataDir, '--json'])
  expect(offer.code, offer.out).toBe(0)
  const { pin } = JSON.parse(offer.out) as { pin: string }
  const accepted = await cli(cleanup, ['devices', 'link', '--pin', pin, '--data-dir', to.dataDir, '--json'])
  expect(accepted.code, accepted.out).toBe(0)
}

async function inbox(n: TestNode) {
  return (await n.bus.request(outboxInbox, { limit: 1000 })).messages
}

beforeAll(async () => {
  const home = await tempDir(cleanup, 'baran-multi-')
  a1 = await startNode(cleanup, {}, { name: 'a1', home, args: ['--create-account'] })
  b1 = await startNode(cleanup, {}, { name: 'b1', home, args: ['--create-account'] })
  a2 = await startNode(cleanup, {}, { name: 'a2', home })
  b2 = await startNode(cleanup, {}, { name: 'b2', home })
  cleanup.add('stop nodes', async () => {
    for (const n of [b2, a2, b1, a1]) await n.proc.stop('SIGTERM', 20_000)
  })
  for (const n of [a1, b1]) await waitUntil(async () => (await n.bus.request(identityStatus, {})).hasAccount, { timeoutMs: 20_000 })
  await link(a1, a2)
  await link(b1, b2)
  bob = (await b1.bus.request(identityStatus, {})).account?.accountId ?? ''
  // Each linked device publishes its presence and the merged device list; wait until A sees both of Bob's.
  await waitUntil(async () => (await b1.bus.request(identityStatus, {})).account?.devices.length === 2, { timeoutMs: 60_000 })
}, 240_000)
afterAll(() => cleanup.run(), 60_000)

describe('several devices per account', () => {
  it("delivers to both of Bob's devices and a sync copy to Alice's other device", async () => {
    // The reply comes once the message is persisted; its devices are resolved right after, from the DHT.
    const sent = await a1.bus.request(outboxSend, { to: bob, body: 'to every device' })
    const status = await waitUntil(
      async () => {
        const st = await a1.bus.request(outboxStatus, { id: sent.id })
        return st.devices.filter((d) => !d.sync).length === 2 ? st : undefined
      },
      { timeoutMs: 30_000, intervalMs: 250, what: "both of Bob's devices resolved" },
    )
    expect(status.devices.filter((d) => d.sync)).toHaveLength(1)
    for (const n of [b1, b2]) {
      await waitUntil(async () => (await inbox(n)).some((m) => m.id === sent.id), { timeoutMs: 30_000, what: `message on ${n.node}` })
    }
    const copy = await waitUntil(async () => (await inbox(a2)).find((m) => m.id === sent.id), { timeoutMs: 30_000, what: 'sync copy on a2' })
    expect(copy.sync).toBe(true)
    expect(copy.to).toBe(bob)
    await waitUntil(async () => (await a1.bus.request(outboxStatus, { id: sent.id })).devices.every((d) => d.state === 'delivered'), { timeoutMs: 30_000 })
  }, 120_000)

  it('sends nothing new to a device its account revoked', async () => {
    const b2Id = (await b2.bus.request(identityStatus, {})).account?.deviceId ?? ''
    const r = await cli(cleanup, ['devices', 'revoke', b2Id, '--data-dir', b1.dataDir])
    expect(r.code, r.out).toBe(0)
    // Once the revocation is on the DHT, a new message to Bob is addressed to b1 only.
    await waitUntil(async () => (await b1.bus.request(identityStatus, {})).account?.revoked.includes(b2Id), { timeoutMs: 30_000 })
    await new Promise((res) => setTimeout(res, 1000))
    const sent = await a1.bus.request(outboxSend, { to: bob, body: 'after the revocation' })
    const status = await waitUntil(
      async () => {
        const st = await a1.bus.request(outboxStatus, { id: sent.id })
        return st.devices.some((d) => !d.sync) ? st : undefined
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'devices resolved' },
    )
    expect(status.devices.map((d) => d.deviceId)).not.toContain(b2Id)
    await waitUntil(async () => (await inbox(b1)).some((m) => m.id === sent.id), { timeoutMs: 30_000, what: 'message on b1' })
    await new Promise((res) => setTimeout(res, 2000))
    expect((await inbox(b2)).some((m) => m.id === sent.id)).toBe(false)
  }, 120_000)
})
