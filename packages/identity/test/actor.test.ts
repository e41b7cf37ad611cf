import {
  identityCreate,
  identityDevices,
  identityExportArchive,
  identityImportArchive,
  identityPeerBinding,
  identityRevokeDevice,
  identitySignNameClaim,
  identitySignPresence,
  identityStatus,
  identityVerifyChain,
  identityAccountCreated,
  identityEthSignTransaction,
  identityLinkOffer,
  identityLinkLocate,
  identityLinkAccept,
  identityDevicesChanged,
  identityDeviceAdded,
  identityDeviceRevoked,
  discoveryDeviceList,
} from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { nameClaimMessage, verifyChain, verifyDetached, verifyRecord } from '@baran/trust'
import { Transaction } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { identityActor } from '../src/index.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const kdf = { N: 1024, r: 8, p: 1 }

async function node(name: string) {
  const nats = await setupNats({ cleanup, node: name })
  const dataDir = await tempDir(cleanup)
  const rt = await runInline(identityActor, { cleanup, node: name, url: nats.url, dataDir, config: { kdf, deviceName: `${name}-laptop` } })
  return { bus: nats.bus, rt, dataDir }
}

describe('identity actor', () => {
  it('is ready with no account, then creates one and publishes it', async () => {
    const a = await node('a')
    await expect(a.bus.request(identityStatus, {})).resolves.toEqual({ hasAccount: false })
    await expect(a.bus.request(identityPeerBinding, { peerId: 'x' })).rejects.toMatchObject({ code: 'no_account' })
    const created: string[] = []
    await a.bus.subscribe(identityAccountCreated, (e) => void created.push(e.accountId))
    const acc = await a.bus.request(identityCreate, {})
    expect(acc.accountId).toMatch(/^[0-9a-f]{40}$/)
    expect(acc.deviceName).toBe('a-laptop')
    await expect.poll(() => created).toEqual([acc.accountId])
    await expect(a.bus.request(identityCreate, {})).rejects.toMatchObject({ code: 'account_exists' })
  })

  it("issues a peer binding that another node verifies from public data only", async () => {
    const a = await node('a')
    const b = await node('b')
    const acc = await a.bus.request(identityCreate, {})
    const chain = await a.bus.request(identityPeerBinding, { peerId: '12D3KooWExamplePeer' })
    // B's identity actor (another process in real nodes) verifies with no secret of A's
    const verified = await b.bus.request(identityVerifyChain, { ...chain, expect: { peerId: '12D3KooWExamplePeer' } })
    expect(verified).toMatchObject({ accountId: acc.accountId, deviceId: acc.deviceId, peerId: '12D3KooWExamplePeer' })
    await expect(b.bus.request(identityVerifyChain, { ...chain, expect: { peerId: 'someone-else' } })).rejects.toMatchObject({ code: 'wrong_signer' })
    const forged = { ...chain.peerBinding, body: { ...chain.peerBinding.body, peerId: 'stolen' } }
    await expect(b.bus.request(identityVerifyChain, { deviceCert: chain.deviceCert, peerBinding: forged })).rejects.toMatchObject({ code: 'bad_signature' })
  })

  it('signs presence with the device key and name claims with the account key', async () => {
    const a = await node('a')
    const acc = await a.bus.request(identityCreate, {})
    const p = await a.bus.request(identitySignPresence, { peerId: 'peer1', addrs: ['/ip4/127.0.0.1/tcp/4001'] })
    const presence = verifyRecord(p.presence, { type: 'presence', signer: acc.deviceKey })
    expect(presence.body).toMatchObject({ accountId: acc.accountId, peerId: 'peer1' })
    expect(verifyChain({ deviceCert: p.deviceCert, peerBinding: p.peerBinding, expect: { peerId: 'peer1' } }).accountId).toBe(acc.accountId)
    const claim = { name: 'alice', owner: acc.ethAddress, chainId: '31337', registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' }
    const { signature } = await a.bus.request(identitySignNameClaim, claim)
    expect(verifyDetached(nameClaimMessage({ ...claim, chainId: 31337n }), signature, acc.accountKey)).toBe(true)
  })

  it('signs Ethereum transactions with the account Ethereum key', async () => {
    const a = await node('a')
    const acc = await a.bus.request(identityCreate, {})
    const { signed, from } = await a.bus.request(identityEthSignTransaction, {
      tx: { to: '0x5FbDB2315678afecb367f032d93F642f64180aa3', data: '0x1234', nonce: 0, gasLimit: '100000', chainId: '31337', type: 2, maxFeePerGas: '2000000000', maxPriorityFeePerGas: '1000000000' },
    })
    expect(from).toBe(acc.ethAddress)
    expect(Transaction.from(signed).from).toBe(acc.ethAddress)
  })

  it('exports an archive that a fresh node imports as a new device of the same account', async () => {
    const a = await node('a')
    const b = await node('b')
    const acc = await a.bus.request(identityCreate, {})
    const { archive } = await a.bus.request(identityExportArchive, { password: 'correct horse' })
    await expect(b.bus.request(identityImportArchive, { archive, password: 'wrong' })).rejects.toMatchObject({ code: 'wrong_password' })
    await expect(b.bus.request(identityStatus, {})).resolves.toEqual({ hasAccount: false })
    const restored = await b.bus.request(identityImportArchive, { archive, password: 'correct horse' })
    expect(restored.accountId).toBe(acc.accountId)
    expect(restored.deviceId).not.toBe(acc.deviceId)
    expect(restored.devices.map((d) => d.deviceId).sort()).toEqual([acc.deviceId, restored.deviceId].sort())
    const chain = await b.bus.request(identityPeerBinding, { peerId: 'peerB' })
    expect(verifyChain({ ...chain, expect: { accountId: acc.accountId } }).deviceId).toBe(restored.deviceId)
  })

  it('rejects the chain of a revoked device from then on', async () => {
    const a = await node('a')
    const b = await node('b')
    await a.bus.request(identityCreate, {})
    const { archive } = await a.bus.request(identityExportArchive, { password: 'pw' })
    const bAcc = await b.bus.request(identityImportArchive, { archive, password: 'pw' })
    const bChain = await b.bus.request(identityPeerBinding, { peerId: 'peerB' })
    // A learns of B's device (device linking does this over the DHT; here the certificate is handed over)
    // and revokes it
    await expect(a.bus.request(identityRevokeDevice, { deviceId: bAcc.deviceId })).rejects.toMatchObject({ code: 'unknown_device' })
    const { revocations } = await b.bus.request(identityRevokeDevice, { deviceId: (await a.bus.request(identityStatus, {})).account?.deviceId ?? '' })
    await expect(a.bus.request(identityVerifyChain, { deviceCert: bChain.deviceCert, peerBinding: bChain.peerBinding })).resolves.toMatchObject({ deviceId: bAcc.deviceId })
    const aChain = await a.bus.request(identityPeerBinding, { peerId: 'peerA' })
    await expect(b.bus.request(identityVerifyChain, { ...aChain, revocations })).rejects.toMatchObject({ code: 'revoked' })
    const devices = await b.bus.request(identityDevices, {})
    expect(devices.revoked).toHaveLength(1)
  })

  it('links a device by PIN: offer on A, locate and accept on B; typed errors for wrong PIN, bad PIN, an account already there', async () => {
    const a = await node('a')
    const b = await node('b')
    const acc = await a.bus.request(identityCreate, {})
    const offer = await a.bus.request(identityLinkOffer, { ttlMs: 60_000 })
    expect(offer.pin).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/)
    expect(offer.expiresAt).toBeGreaterThan(Date.now())
    await expect(b.bus.request(identityLinkLocate, { pin: offer.pin.toLowerCase() })).resolves.toEqual({ key: offer.key, deleteToken: offer.deleteToken })
    await expect(b.bus.request(identityLinkLocate, { pin: '0000-0000' })).rejects.toMatchObject({ code: 'invalid_pin' })
    const wrong = offer.pin === 'ABCD-EFGH' ? 'ABCD-EFGJ' : 'ABCD-EFGH'
    await expect(b.bus.request(identityLinkAccept, { pin: wrong, value: offer.value })).rejects.toMatchObject({ code: 'wrong_pin' })
    await expect(b.bus.request(identityStatus, {})).resolves.toEqual({ hasAccount: false })
    await expect(a.bus.request(identityLinkAccept, { pin: offer.pin, value: offer.value })).rejects.toMatchObject({ code: 'account_exists' })

    const events: string[] = []
    await b.bus.subscribe(identityDevicesChanged, (e) => void events.push(e.reason))
    const linked = await b.bus.request(identityLinkAccept, { pin: offer.pin, value: offer.value })
    expect(linked).toMatchObject({ accountId: acc.accountId, deviceName: 'b-laptop' })
    expect(linked.devices.map((d) => d.deviceId).sort()).toEqual([acc.deviceId, linked.deviceId].sort())
    const chain = await b.bus.request(identityPeerBinding, { peerId: 'peerB' })
    await expect(a.bus.request(identityVerifyChain, { ...chain, expect: { accountId: acc.accountId } })).resolves.toMatchObject({ deviceId: linked.deviceId })
    await expect.poll(() => events).toEqual(['linked'])
  })

  it('merges the device lists that discovery reports for its own account, and ignores the rest', async () => {
    const a = await node('a')
    const b = await node('b')
    const acc = await a.bus.request(identityCreate, {})
    const { archive } = await a.bus.request(identityExportArchive, { password: 'pw' })
    const bAcc = await b.bus.request(identityImportArchive, { archive, password: 'pw' })
    const seen: string[] = []
    await a.bus.subscribe(identityDevicesChanged, (e) => void seen.push(`changed:${e.reason}:${e.seq}`))
    await a.bus.subscribe(identityDeviceAdded, (e) => void seen.push(`added:${e.deviceId}`))
    await a.bus.subscribe(identityDeviceRevoked, (e) => void seen.push(`revoked:${e.deviceId}`))

    // another account's list, and junk claiming to be ours: ignored
    const stranger = await node('c')
    await stranger.bus.request(identityCreate, {})
    const strangerList = await stranger.bus.request(identityDevices, {})
    a.bus.publish(discoveryDeviceList, { accountId: (strangerList.deviceList.body as { accountId: string }).accountId, deviceList: strangerList.deviceList, revocations: strangerList.revocations })
    a.bus.publish(discoveryDeviceList, { accountId: acc.accountId, deviceList: strangerList.deviceList, revocations: strangerList.revocations })

    const fromB = await b.bus.request(identityDevices, {})
    a.bus.publish(discoveryDeviceList, { accountId: acc.accountId, deviceList: fromB.deviceList, revocations: fromB.revocations })
    await expect.poll(async () => (await a.bus.request(identityDevices, {})).devices.length).toBe(2)
    await expect.poll(() => seen).toEqual([`added:${bAcc.deviceId}`, `changed:merged:${fromB.deviceList.seq}`])

    // B revokes A: A learns it is revoked
    const r = await b.bus.request(identityRevokeDevice, { deviceId: acc.deviceId })
    a.bus.publish(discoveryDeviceList, { accountId: acc.accountId, deviceList: r.deviceList, revocations: r.revocations })
    await expect.poll(async () => (await a.bus.request(identityDevices, {})).revoked).toEqual([acc.deviceId])
    expect(seen).toContain(`revoked:${acc.deviceId}`)
    await expect(a.bus.request(identityStatus, {})).resolves.toMatchObject({ hasAccount: true, account: { deviceId: acc.deviceId } })
  })

  it('answers malformed requests with invalid_request and keeps serving', async () => {
    const a = await node('a')
    const { error } = await a.bus.requestRaw('baran.a.identity.exportArchive', new TextEncoder().encode('{"password": 42}'))
    expect(error?.code).toBe('invalid_request')
    const junk = await a.bus.requestRaw('baran.a.identity.importArchive', new TextEncoder().encode(JSON.stringify({ archive: Buffer.from('not an archive').toString('base64'), password: 'x' })))
    expect(junk.error?.code).toBe('not_an_archive')
    await expect(a.bus.request(identityStatus, {})).resolves.toEqual({ hasAccount: false })
  })
})
