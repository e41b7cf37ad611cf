/**
 * Device linking by PIN across two real node processes on one machine's local network (shared DHT), driven
 * through the CLI: `baran devices link` on B1 prints a PIN, `baran devices link --pin` on B2 makes it a new
 * device of the account; then the two devices keep one device list between them over the DHT.
 */
import {
  type Bus,
  discoveryGetValue,
  discoveryLookup,
  identityCertifyDevice,
  identityDevices,
  identityLinkLocate,
  identityPeerBinding,
  identityRevokeDevice,
  identityStatus,
  identityVerifyChain,
} from '@baran/bus'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { generateKeyPair } from '@baran/trust'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, startNode, type TestNode, hashDir } from './helpers.ts'

const cleanup = new Cleanup()
let b1: TestNode
let b2: TestNode
let b3: TestNode

beforeAll(async () => {
  const home = await tempDir(cleanup, 'baran-link-')
  b1 = await startNode(cleanup, {}, { name: 'b1', home })
  b2 = await startNode(cleanup, {}, { name: 'b2', home })
  b3 = await startNode(cleanup, {}, { name: 'b3', home })
}, 240_000)
afterAll(() => cleanup.run(), 60_000)

async function json<T>(node: TestNode, args: string[]): Promise<T> {
  const r = await cli(cleanup, [...args, '--data-dir', node.dataDir, '--json'])
  expect(r.code, r.out).toBe(0)
  return JSON.parse(r.out) as T
}


/** Another well-formed PIN. */
const otherPin = (pin: string) => `${pin.slice(0, 8)}${pin[8] === 'A' ? 'B' : 'A'}`

/** What a node's identity holds: device IDs, revoked IDs, seq. */
async function held(bus: Bus): Promise<{ devices: string[]; revoked: string[]; seq: number }> {
  const d = await bus.request(identityDevices, {})
  return { devices: d.devices.map((x) => x.deviceId).sort(), revoked: [...d.revoked].sort(), seq: d.deviceList.seq }
}

/** Waits until every node holds the same lists (same content and seq) and the DHT serves that seq. */
async function converged(nodes: TestNode[], accountId: string): Promise<{ devices: string[]; revoked: string[]; seq: number }> {
  const same = await waitUntil(
    async () => {
      const all = await Promise.all(nodes.map((n) => held(n.bus)))
      return all.every((h) => JSON.stringify(h) === JSON.stringify(all[0])) && all[0]
    },
    { timeoutMs: 150_000, intervalMs: 250, what: 'every device holds the same device list' },
  )
  for (const n of nodes) {
    await waitUntil(async () => (await n.bus.request(discoveryLookup, { accountId }, { timeoutMs: 15_000 })).deviceList?.seq === same.seq, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: `the DHT serves device list #${same.seq} to ${n.node}`,
    })
  }
  return same
}

type Account = { accountId: string; deviceId: string; deviceName: string; devices: Array<{ deviceId: string; name: string }>; revoked: string[] }
type Offer = { pin: string; expiresAt: number; stored: number }

describe('device linking by PIN across two node processes', () => {
  let acc: Account
  let linked: Account & { offerDeleted: boolean }
  let offer: Offer

  it('B1 creates an account and offers a link: a PIN that expires in 10 minutes', async () => {
    acc = await json<Account>(b1, ['account', 'create', '--device-name', 'b1'])
    offer = await json<Offer>(b1, ['devices', 'link'])
    expect(offer.pin).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/)
    expect(offer.expiresAt - Date.now()).toBeGreaterThan(9 * 60_000)
    expect(offer.expiresAt - Date.now()).toBeLessThanOrEqual(10 * 60_000)
    // Text mode tells the user what to type on the other device.
    const text = await cli(cleanup, ['devices', 'link', '--data-dir', b1.dataDir])
    expect(text.code, text.out).toBe(0)
    expect(text.out).toMatch(/PIN [A-Z2-9]{4}-[A-Z2-9]{4}/)
    expect(text.out).toMatch(/baran devices link --pin/)
  }, 60_000)

  it('a wrong PIN fails clearly (exit 1, says PIN) and changes nothing on B2', async () => {
    const before = await hashDir(join(b2.dataDir, 'identity'))
    const r = await cli(cleanup, ['devices', 'link', '--pin', otherPin(offer.pin), '--wait-ms', '2000', '--data-dir', b2.dataDir])
    expect(r.code, r.out).toBe(1)
    expect(r.out).toMatch(/no link offer for this PIN: wrong PIN, or it expired/)
    expect(await hashDir(join(b2.dataDir, 'identity'))).toBe(before)
    await expect(b2.bus.request(identityStatus, {})).resolves.toEqual({ hasAccount: false })
    const bad = await cli(cleanup, ['devices', 'link', '--pin', 'OOOO-0000', '--data-dir', b2.dataDir])
    expect(bad.code).toBe(2)
    expect(bad.out).toMatch(/invalid PIN/)
  }, 60_000)

  it('an expired offer fails with the same clear error and changes nothing on B2', async () => {
    const short = await json<Offer>(b1, ['devices', 'link', '--ttl-ms', '1500'])
    await sleep(Math.max(0, short.expiresAt - Date.now()) + 300)
    const before = await hashDir(join(b2.dataDir, 'identity'))
    const r = await cli(cleanup, ['devices', 'link', '--pin', short.pin, '--wait-ms', '1500', '--data-dir', b2.dataDir])
    expect(r.code, r.out).toBe(1)
    expect(r.out).toMatch(/no link offer for this PIN: wrong PIN, or it expired \(offers last 10 minutes\)/)
    expect(await hashDir(join(b2.dataDir, 'identity'))).toBe(before)
    await expect(b2.bus.request(identityStatus, {})).resolves.toEqual({ hasAccount: false })
  }, 60_000)

  it('B2 links with the PIN: same account, its own device certificate (verified on B1), the offer deleted', async () => {
    linked = await json<Account & { offerDeleted: boolean }>(b2, ['devices', 'link', '--pin', offer.pin.toLowerCase(), '--device-name', 'b2'])
    expect(linked.accountId).toBe(acc.accountId)
    expect(linked.deviceId).not.toBe(acc.deviceId)
    expect(linked.deviceName).toBe('b2')
    expect(linked.devices.map((d) => d.deviceId).sort()).toEqual([acc.deviceId, linked.deviceId].sort())
    expect(linked.offerDeleted).toBe(true)

    const chain = await b2.bus.request(identityPeerBinding, { peerId: '12D3KooWB2Peer' })
    await expect(b1.bus.request(identityVerifyChain, { ...chain, expect: { accountId: acc.accountId, peerId: '12D3KooWB2Peer' } })).resolves.toMatchObject({
      deviceId: linked.deviceId,
      deviceName: 'b2',
    })

    const { key } = await b1.bus.request(identityLinkLocate, { pin: offer.pin })
    for (const n of [b1, b2]) await expect(n.bus.request(discoveryGetValue, { key }, { timeoutMs: 15_000 })).rejects.toMatchObject({ code: 'not_found' })
    // B2 holds an account now: a second link is refused before any DHT work.
    const again = await cli(cleanup, ['devices', 'link', '--pin', offer.pin, '--data-dir', b2.dataDir])
    expect(again.code).toBe(1)
    expect(again.out).toMatch(/already holds account/)
  }, 60_000)

  it('both devices are listed on both nodes (B1 learns B2 from the DHT)', async () => {
    const both = [acc.deviceId, linked.deviceId].sort()
    await waitUntil(async () => (await b1.bus.request(identityDevices, {})).devices.length === 2, { timeoutMs: 60_000, intervalMs: 250, what: 'B1 lists B2' })
    for (const n of [b1, b2]) {
      const listed = await json<{ devices: Array<{ deviceId: string }>; revoked: string[] }>(n, ['devices', 'list'])
      expect(listed.devices.map((d) => d.deviceId).sort()).toEqual(both)
      expect(listed.revoked).toEqual([])
    }
  }, 180_000)

  it('links B3 too; then B1 revokes B3 while B2 certifies another key: all three converge, the DHT holds the highest seq', async () => {
    const third = await json<Offer>(b1, ['devices', 'link'])
    const b3acc = await json<Account>(b3, ['devices', 'link', '--pin', third.pin, '--device-name', 'b3'])
    expect(b3acc.accountId).toBe(acc.accountId)
    const start = await converged([b1, b2, b3], acc.accountId)
    expect(start.devices).toEqual([acc.deviceId, linked.deviceId, b3acc.deviceId].sort())

    // Both change the list at once, from the same seq: their seqs collide, the merge settles it.
    const tablet = generateKeyPair()
    await Promise.all([
      b1.bus.request(identityRevokeDevice, { deviceId: b3acc.deviceId }),
      b2.bus.request(identityCertifyDevice, { deviceKey: tablet.signer, name: 'tablet' }),
    ])
    const end = await converged([b1, b2, b3], acc.accountId)
    expect(end.devices).toEqual([acc.deviceId, linked.deviceId, tablet.id].sort())
    expect(end.revoked).toEqual([b3acc.deviceId])
    expect(end.seq).toBeGreaterThan(start.seq)
  }, 360_000)

  it('revoking B1 from B2 reaches B1: listed as revoked on both, its chain refused, the DHT holds the highest seq', async () => {
    const b1Chain = await b1.bus.request(identityPeerBinding, { peerId: '12D3KooWB1Peer' })
    const r = await cli(cleanup, ['devices', 'revoke', acc.deviceId, '--data-dir', b2.dataDir])
    expect(r.code, r.out).toBe(0)
    const end = await converged([b1, b2], acc.accountId)
    expect(end.revoked).toContain(acc.deviceId)
    expect(end.devices).not.toContain(acc.deviceId)
    expect(end.devices).toContain(linked.deviceId)
    const lists = await Promise.all([b1, b2].map((n) => n.bus.request(identityDevices, {})))
    expect(lists[0]?.deviceList).toEqual(lists[1]?.deviceList)
    expect(lists[0]?.revocations).toEqual(lists[1]?.revocations)
    for (const n of [b1, b2]) {
      const listed = await json<{ revoked: string[] }>(n, ['devices', 'list'])
      expect(listed.revoked).toContain(acc.deviceId)
    }
    // B1's certificate and binding are refused, on either node, with the account's revocations.
    for (const n of [b1, b2]) {
      const { revocations } = await n.bus.request(identityDevices, {})
      await expect(n.bus.request(identityVerifyChain, { ...b1Chain, revocations })).rejects.toMatchObject({ code: 'revoked' })
    }
  }, 300_000)
})
