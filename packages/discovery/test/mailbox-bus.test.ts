/**
 * The mailbox verbs on the bus (discovery.mailboxPut / mailboxFetch / mailboxDelete): the discovery actor on a real
 * nats-server, its DHT node joined to real nodes on 127.0.0.1; refusals come back with their declared codes.
 */
import { discoveryMailboxDelete, discoveryMailboxFetch, discoveryMailboxPut, healthContractOf, identityDevices, identitySignPresence } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import { type DiscoveryNode, discoveryActor } from '../src/index.ts'
import { itemHash, mailboxEpoch, mailboxId, signDeleteRequest } from '../src/lib/mailbox-item.ts'
import { deviceListBundle, makeAccount, makeDevice, presenceBundle, revocationsRecord, serviceStandIns, startNetwork, stopAll } from './helpers.ts'
import { fetchAuth, mailDevice, sealTo } from './mailbox-fixtures.ts'

const cleanup = new Cleanup()
const net: DiscoveryNode[] = []
afterAll(async () => {
  await cleanup.run()
  await stopAll(net)
})

describe('the mailbox verbs of the discovery actor', () => {
  it('deposit, fetch and delete over the bus; forged deposits and deletes refused with their codes', async () => {
    await startNetwork(3, { replication: 3 }, net, 2)
    const nats = await setupNats({ cleanup, node: 'n1' })
    // Stand-ins the actor's presence publishing asks (not what this test is about).
    const account = makeAccount()
    const device = makeDevice(account, 'phone')
    const revocations = revocationsRecord(account, [], 1)
    const { identity } = await serviceStandIns(nats.bus, cleanup)
    identity.serve(identitySignPresence, ({ peerId, addrs }) => presenceBundle(device, { peerId, addrs, revocations }) as never)
    identity.serve(
      identityDevices,
      () =>
        ({
          devices: [{ deviceId: device.deviceId, deviceKey: device.keys.signer, name: device.name, current: true }],
          revoked: [],
          deviceList: deviceListBundle(account, [device]).deviceList,
          revocations,
        }) as never,
    )
    const bootstrap = [(net[0] as DiscoveryNode).multiaddrs()[0] as string]
    await runInline(discoveryActor, { cleanup, node: 'n1', url: nats.url, dataDir: await tempDir(cleanup), config: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, mailbox: { maxBytesPerSender: 100_000, maintenanceMs: 60_000 } } })
    const health = await nats.bus.request(healthContractOf('discovery'), {})
    expect(health.details?.mailbox).toMatchObject({ limits: { maxBytesPerSender: 100_000 } })

    const [alice, bob, carol] = await Promise.all([mailDevice(), mailDevice(), mailDevice()])
    const envelope = await sealTo(alice, [bob], { id: 'over-the-bus' })
    const box = mailboxId(bob.deviceId, mailboxEpoch(Date.now()))
    const put = await nats.bus.request(discoveryMailboxPut, { mailbox: box, envelope: Buffer.from(envelope).toString('base64') })
    expect(put).toMatchObject({ mailbox: box, hash: itemHash(envelope) })
    expect(put.stored).toBeGreaterThanOrEqual(1)
    expect(net.some((n) => n.getLocalMailbox(box).length === 1)).toBe(true)

    const fetched = await nats.bus.request(discoveryMailboxFetch, { mailbox: box, auth: fetchAuth(bob, box) })
    expect(fetched.total).toBe(1)
    expect(fetched.items[0]).toMatchObject({ hash: put.hash, envelope: Buffer.from(envelope).toString('base64'), senderDevice: alice.deviceId, envelopeId: 'over-the-bus' })

    const forged = new Uint8Array(envelope)
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1
    await expect(nats.bus.request(discoveryMailboxPut, { mailbox: box, envelope: Buffer.from(forged).toString('base64') })).rejects.toMatchObject({ code: 'mailbox_forged' })

    const byCarol = signDeleteRequest({ mailbox: box, items: [put.hash], deviceCert: carol.cert, deviceSecretKey: carol.key.secretKey })
    await expect(nats.bus.request(discoveryMailboxDelete, { request: byCarol as never })).rejects.toMatchObject({ code: 'bad_delete_request' })
    const byBob = signDeleteRequest({ mailbox: box, items: [put.hash], deviceCert: bob.cert, deviceSecretKey: bob.key.secretKey })
    expect((await nats.bus.request(discoveryMailboxDelete, { request: byBob as never })).deleted).toBeGreaterThanOrEqual(1)
    expect(await nats.bus.request(discoveryMailboxFetch, { mailbox: box, auth: fetchAuth(bob, box) })).toMatchObject({ items: [], total: 0 })
    expect(net.every((n) => n.getLocalMailbox(box).length === 0)).toBe(true)
  }, 90_000)
})
