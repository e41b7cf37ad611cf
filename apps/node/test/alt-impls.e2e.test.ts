/**
 * The alternative implementations end to end (issue 9): two real `baran start` processes configured with naming
 * over HTTP (@baran/naming/http, against a real name server on a real anvil chain) and LAN-only discovery
 * (@baran/discovery/lan: no DHT; B lists A as its LAN peer, mDNS off so no multicast leaves the machine). Alice
 * sends to Bob BY NAME while Bob's node is stopped; Bob's node restarts; Bob receives.
 */
import { discoveryInfo, identityStatus, namingRegister, outboxInbox, outboxSend, outboxStatus } from '@baran/bus'
import { type Devnet, type NameServer, RegistryClient, startDevnet, startNameServer } from '@baran/naming'
import { Cleanup, waitUntil } from '@baran/testkit'
import { Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNode, stopNode, type TestNode } from './helpers.ts'

const cleanup = new Cleanup()
let devnet: Devnet
let ns: NameServer
let a: TestNode
let b: TestNode

const ACTORS = {
  identity: '@baran/identity',
  naming: '@baran/naming/http',
  discovery: '@baran/discovery/lan',
  transport: '@baran/transport',
  outbox: '@baran/outbox',
}
/** A node's config: the chain named (so no local network starts), the name server, LAN discovery with `peers`. */
const config = (peers: string[] = []) => ({
  naming: { rpcUrl: devnet.rpcUrl, registry: devnet.registry, nameServer: ns.url },
  discovery: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, ...(peers.length > 0 ? { bootstrap: peers } : {}) },
  transport: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  actors: ACTORS,
})

beforeAll(async () => {
  devnet = await startDevnet()
  cleanup.add('stop devnet', () => devnet.stop())
  // The name server pays gas for registrations with its own funded key.
  const client = new RegistryClient({ provider: devnet.provider, registry: devnet.registry, chainId: devnet.chainId, signer: new Wallet(devnet.accounts[5]!.privateKey, devnet.provider) })
  ns = await startNameServer({ client, sponsor: true, rateLimit: false })
  cleanup.add('close name server', () => ns.close())
  a = await startNode(cleanup, config(), { name: 'alice', args: ['--create-account'] })
  const info = await a.bus.request(discoveryInfo, {})
  const aPeers = info.addrs.map((x) => (x.includes('/p2p/') ? x : `${x}/p2p/${info.peerId}`))
  b = await startNode(cleanup, config(aPeers), { name: 'bob', home: a.home, args: ['--create-account'] })
  for (const n of [a, b]) await waitUntil(async () => (await n.bus.request(identityStatus, {})).hasAccount, { timeoutMs: 20_000, what: 'account' })
  cleanup.add('stop nodes', async () => {
    for (const n of [b, a]) await n.proc.stop('SIGTERM', 20_000)
  })
}, 120_000)
afterAll(() => cleanup.run())

describe('a node with naming over HTTP and LAN-only discovery', () => {
  it('runs the alternative implementations named in config.json', async () => {
    const status = await a.status()
    expect(status.actors.naming).toMatchObject({ state: 'ready', implementation: '@baran/naming/http' })
    expect(status.actors.discovery).toMatchObject({ state: 'ready', implementation: '@baran/discovery/lan' })
  })

  it('delivers a message sent by name while the receiver is stopped, once it restarts', async () => {
    const bob = (await b.bus.request(identityStatus, {})).account!.accountId
    const name = `bob${process.pid.toString(36)}`
    // Bob registers through the name server (identity signs the claim, the server pays gas).
    await expect(b.bus.request(namingRegister, { name }, { timeoutMs: 60_000 })).resolves.toMatchObject({ name, accountId: bob })
    // Alice has heard Bob's device list on the LAN before he goes.
    await waitUntil(async () => (await a.bus.request(discoveryInfo, {})).storedRecords >= 4, { timeoutMs: 20_000, what: "bob's records at alice" })

    await stopNode(b)
    const sent = await a.bus.request(outboxSend, { to: name, body: 'while you were away' })
    expect(sent.to).toBe(bob)
    expect(sent.devices.every((d) => d.state === 'queued')).toBe(true)

    b = await startNode(cleanup, config(await alicePeers()), { home: a.home, dataDir: b.dataDir })
    await waitUntil(async () => (await b.bus.request(outboxInbox, { limit: 1000 })).messages.some((m) => m.id === sent.id), {
      timeoutMs: 60_000,
      what: 'message in bob inbox',
    })
    await waitUntil(async () => (await a.bus.request(outboxStatus, { id: sent.id })).devices[0]?.state === 'delivered', { timeoutMs: 20_000, what: 'delivered at alice' })
  }, 150_000)
})

async function alicePeers(): Promise<string[]> {
  const info = await a.bus.request(discoveryInfo, {})
  return info.addrs.map((x) => (x.includes('/p2p/') ? x : `${x}/p2p/${info.peerId}`))
}
