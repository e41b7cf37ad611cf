/**
 * Revocation is not only checked at the handshake: two devices of one account on two nodes (real identity,
 * transport and outbox actors, one nats-server each) hold a message stream; the first revokes the second, and its
 * transport closes that stream at once, says so (`transport.evt.revoked`), and refuses the revoked device both
 * ways with the typed `revoked` error.
 */
import type { ActorDefinition } from '@baran/actor'
import { discoveryDeviceList, discoveryInfo, identityCreate, identityDevices, identityExportArchive, identityStatus, identityImportArchive, identityRevokeDevice, transportInfo, transportRevoked, transportSend } from '@baran/bus'
import { discoveryActor } from '@baran/discovery'
import { identityActor } from '@baran/identity'
import { actor as outboxActor } from '@baran/outbox'
import { Cleanup, type InlineNode, inlineNode, waitUntil } from '@baran/testkit'
import { transportActor } from '@baran/transport'
import { afterEach, describe, expect, it } from 'vitest'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const kdf = { N: 1024, r: 8, p: 1 }
const identity = identityActor as ActorDefinition<unknown>
const transport = transportActor as ActorDefinition<unknown>
const outbox = outboxActor as ActorDefinition<unknown>
const discovery = discoveryActor as ActorDefinition<unknown>
const LISTEN = { listen: ['/ip4/127.0.0.1/tcp/0'] }

/** Discovery's dialable loopback addresses (with /p2p/), to bootstrap another node from. */
async function bootstrapOf(n: InlineNode): Promise<string[]> {
  const info = await n.bus.request(discoveryInfo, {})
  return info.addrs.filter((a) => a.startsWith('/ip4/127.0.0.1/')).map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${info.peerId}`))
}

/** Hands `from`'s signed device list to `to`'s identity, as discovery does when it sees a newer one on the DHT. */
async function handOverDeviceList(from: InlineNode, to: InlineNode, accountId: string, deviceId: string): Promise<void> {
  const list = await from.bus.request(identityDevices, {})
  to.bus.publish(discoveryDeviceList, { accountId, deviceList: list.deviceList, revocations: list.revocations })
  await waitUntil(async () => (await to.bus.request(identityStatus, {})).account?.devices.some((d) => d.deviceId === deviceId), { timeoutMs: 10_000, what: 'device list merged' })
}
const junk = Buffer.from('not an envelope').toString('base64')

describe('transport actor and revocation', () => {
  it('cuts the open stream of a device revoked later, reports it, and refuses it both ways with revoked', async () => {
    const a = await inlineNode(cleanup, 'a', [[identity, { kdf }]])
    const acc = await a.bus.request(identityCreate, {})
    await a.start(transport)
    await a.start(outbox)
    const { archive } = await a.bus.request(identityExportArchive, { password: 'pw' })
    const b = await inlineNode(cleanup, 'b', [[identity, { kdf }]])
    const second = await b.bus.request(identityImportArchive, { archive, password: 'pw', deviceName: 'second' }, { timeoutMs: 20_000 })
    expect(second.accountId).toBe(acc.accountId)
    // the second device's signed device list reaches the first as discovery hands it over from the DHT
    const list = await b.bus.request(identityDevices, {})
    a.bus.publish(discoveryDeviceList, { accountId: acc.accountId, deviceList: list.deviceList, revocations: list.revocations })
    await waitUntil(async () => (await a.bus.request(identityStatus, {})).account?.devices.some((d) => d.deviceId === second.deviceId), { timeoutMs: 10_000, what: 'device list merged' })
    await b.start(transport)
    await b.start(outbox)
    const aInfo = await a.bus.request(transportInfo, {})
    const bInfo = await b.bus.request(transportInfo, {})
    const reports: Array<{ deviceId: string; streams: number; peerIds: string[] }> = []
    await a.bus.subscribe(transportRevoked, (e) => {
      reports.push(e)
    })

    // a stream between the two devices: the outbox refuses junk, but it answers over a verified stream that stays open
    const send = (from: typeof a, to: typeof aInfo, id: string) =>
      from.bus.request(transportSend, { peerId: to.peerId, addrs: to.addrs, id, payload: junk, timeoutMs: 5_000 }, { timeoutMs: 15_000 })
    await expect(send(b, aInfo, 'before')).rejects.toMatchObject({ code: 'rejected' })
    await waitUntil(async () => (await a.bus.request(transportInfo, {})).connections.some((c) => c.peerId === bInfo.peerId), { timeoutMs: 5_000, what: 'connection' })

    await a.bus.request(identityRevokeDevice, { deviceId: second.deviceId })
    await waitUntil(() => reports.length > 0, { timeoutMs: 10_000, what: 'transport.evt.revoked' })
    expect(reports[0]).toMatchObject({ accountId: acc.accountId, deviceId: second.deviceId, streams: 1, peerIds: [bInfo.peerId] })

    await expect(send(b, aInfo, 'after-from-revoked')).rejects.toMatchObject({ code: 'revoked' })
    await expect(send(a, bInfo, 'after-to-revoked')).rejects.toMatchObject({ code: 'revoked' })
  })

  // three nodes with a DHT between them: ~3 s here, more on a loaded machine
  it("cuts the stream of another account's device once discovery shows it revoked (re-checked each cache period)", { timeout: 60_000 }, async () => {
    // alice; bob's first device holds a stream with her; bob's second device revokes the first
    const a = await inlineNode(cleanup, 'ra', [[identity, { kdf }]])
    await a.bus.request(identityCreate, {})
    await a.start(discovery, LISTEN)
    await a.start(transport, { ...LISTEN, revocationCacheMs: 500 })
    await a.start(outbox)
    const b = await inlineNode(cleanup, 'rb', [[identity, { kdf }]])
    const bob = await b.bus.request(identityCreate, {})
    await b.start(discovery, { ...LISTEN, bootstrap: await bootstrapOf(a) })
    await b.start(transport, LISTEN)
    await b.start(outbox)
    const { archive } = await b.bus.request(identityExportArchive, { password: 'pw' })
    const b2 = await inlineNode(cleanup, 'rb2', [[identity, { kdf }]])
    const second = await b2.bus.request(identityImportArchive, { archive, password: 'pw', deviceName: 'second' }, { timeoutMs: 20_000 })
    await b2.start(discovery, { ...LISTEN, bootstrap: await bootstrapOf(a) })
    // discovery publishes the account's device list and revocations with its presence, which needs transport
    await b2.start(transport, LISTEN)
    await handOverDeviceList(b, b2, bob.accountId, bob.deviceId)

    const aInfo = await a.bus.request(transportInfo, {})
    const bInfo = await b.bus.request(transportInfo, {})
    const reports: Array<{ deviceId: string; streams: number }> = []
    await a.bus.subscribe(transportRevoked, (e) => {
      reports.push(e)
    })
    const send = (from: InlineNode, to: typeof aInfo, id: string) =>
      from.bus.request(transportSend, { peerId: to.peerId, addrs: to.addrs, id, payload: junk, timeoutMs: 5_000 }, { timeoutMs: 15_000 })
    await expect(send(b, aInfo, 'before')).rejects.toMatchObject({ code: 'rejected' })

    expect(second.accountId).toBe(bob.accountId)
    await b2.bus.request(identityRevokeDevice, { deviceId: bob.deviceId })
    // b2's discovery publishes the revocations; alice's transport finds them at its next re-check of open streams
    await waitUntil(() => reports.length > 0, { timeoutMs: 30_000, what: 'transport.evt.revoked' })
    expect(reports[0]).toMatchObject({ accountId: bob.accountId, deviceId: bob.deviceId, streams: 1 })
    await expect(send(b, aInfo, 'after-from-revoked')).rejects.toMatchObject({ code: 'revoked' })
    await expect(send(a, bInfo, 'after-to-revoked')).rejects.toMatchObject({ code: 'revoked' })
  })
})
