import {
  type EventOf,
  namingInfo,
  namingLookup,
  namingRegister,
  namingRegistered,
  namingRegistration,
  namingReverse,
  stateEventOf,
} from '@baran/bus'
import { Cleanup, type NatsFixture, runInline, setupNats, tempDir, waitUntil } from '@baran/testkit'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Devnet, startDevnet } from '../src/lib/devnet.ts'
import { namingActor } from '../src/index.ts'
import { freePort, registerRaw, uniqueName, useDevnet } from './helpers.ts'
import { identityStandIn, standInAccount } from './identity-stand-in.ts'

const env = useDevnet()
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

interface NodeOpts {
  /** The account's seed; none: the node holds no account. */
  seed?: number
  /** Top up the account from anvil's account 1 before registering. */
  faucet?: boolean
  devnet?: Devnet
}

/** One node's identity stand-in and naming actor, inline, on the shared NATS server. */
async function node(nats: NatsFixture, name: string, opts: NodeOpts = {}) {
  const devnet = opts.devnet ?? env.devnet
  const dataDir = await tempDir(cleanup)
  await runInline(identityStandIn, { cleanup, node: name, url: nats.url, dataDir, config: opts.seed === undefined ? {} : { seed: opts.seed } })
  const rt = await runInline(namingActor, {
    cleanup,
    node: name,
    url: nats.url,
    dataDir,
    config: {
      rpcUrl: devnet.rpcUrl,
      registry: devnet.registry,
      chainId: Number(devnet.chainId),
      chainCheckMs: 100,
      ...(opts.faucet ? { faucetKey: devnet.accounts[1]!.privateKey } : {}),
    },
  })
  return { rt, node: name }
}

describe('naming actor', () => {
  it('registers through identity over the bus, reports progress, and resolves the name on another node', async () => {
    const nats = await setupNats({ cleanup })
    const alice = standInAccount(11)
    await node(nats, 'a', { seed: 11, faucet: true })
    await node(nats, 'b')
    const phases: Array<EventOf<typeof namingRegistration>> = []
    await nats.bus.subscribe(namingRegistration, (e) => void phases.push(e), { node: 'a' })
    const registered: Array<EventOf<typeof namingRegistered>> = []
    await nats.bus.subscribe(namingRegistered, (e) => void registered.push(e), { node: 'a' })
    await nats.bus.flush()

    const name = uniqueName('alice')
    const reply = await nats.bus.request(namingRegister, { name }, { node: 'a', timeoutMs: 60_000 })
    expect(reply).toMatchObject({ name, accountId: alice.accountId, owner: alice.ethAddress })
    expect(reply.txHashes).toHaveLength(2)
    await expect.poll(() => phases.map((p) => p.phase)).toEqual(['committing', 'committed', 'revealing', 'registered'])
    expect(phases[1]?.txHash).toBe(reply.txHashes[0])
    expect(phases[3]?.txHash).toBe(reply.txHashes[1])
    await expect.poll(() => registered).toEqual([{ name, accountId: alice.accountId, owner: alice.ethAddress, blockNumber: reply.blockNumber }])

    // Node b holds no account, yet resolves the verified record through its own naming actor.
    await expect(nats.bus.request(namingLookup, { name }, { node: 'b' })).resolves.toEqual({
      name,
      accountId: alice.accountId,
      publicKey: alice.accountKey,
      owner: alice.ethAddress,
    })
    await expect(nats.bus.request(namingReverse, { accountId: alice.accountId }, { node: 'b' })).resolves.toEqual({ name })
    // …and on node a too, right after its own registration (no stale "not found").
    await expect(nats.bus.request(namingLookup, { name }, { node: 'a' })).resolves.toMatchObject({ accountId: alice.accountId })

    const info = await nats.bus.request(namingInfo, {}, { node: 'a' })
    expect(info).toMatchObject({ rpcUrl: env.devnet.rpcUrl, chainId: '31337', registry: env.devnet.registry, ethAddress: alice.ethAddress })
    expect(info.blockNumber).toBeGreaterThanOrEqual(reply.blockNumber)
    expect(BigInt(info.balanceWei ?? '0')).toBeGreaterThan(0n) // funded by the faucet, minus gas
    await expect(nats.bus.request(namingInfo, {}, { node: 'b' })).resolves.toMatchObject({ ethAddress: null, balanceWei: null })
  })

  it('refuses a taken name, and an invalid name before any transaction', async () => {
    const nats = await setupNats({ cleanup })
    await node(nats, 'a', { seed: 12, faucet: true })
    await node(nats, 'b', { seed: 13, faucet: true })
    const name = uniqueName('taken')
    await nats.bus.request(namingRegister, { name }, { node: 'a', timeoutMs: 60_000 })

    const failures: Array<EventOf<typeof namingRegistration>> = []
    await nats.bus.subscribe(namingRegistration, (e) => void (e.phase === 'failed' && failures.push(e)), { node: 'b' })
    await nats.bus.flush()
    await expect(nats.bus.request(namingRegister, { name }, { node: 'b', timeoutMs: 60_000 })).rejects.toMatchObject({ name: 'BusError', code: 'name_taken' })
    await expect.poll(() => failures.map((f) => f.error?.code)).toEqual(['name_taken'])

    const block = await env.devnet.provider.getBlockNumber()
    for (const bad of ['Alice', 'ab', '-alice', 'al ice', 'a'.repeat(33), 'é-name']) {
      await expect(nats.bus.request(namingRegister, { name: bad }, { node: 'b' }), bad).rejects.toMatchObject({ code: 'invalid_name' })
      await expect(nats.bus.request(namingLookup, { name: bad }, { node: 'b' }), bad).rejects.toMatchObject({ code: 'invalid_name' })
    }
    expect(await env.devnet.provider.getBlockNumber()).toBe(block) // no transaction, not even funding
    // Malformed bodies are the bus's business: invalid_request, and the actor keeps serving.
    await expect(nats.bus.request(namingRegister, { name: 'x'.repeat(300) }, { node: 'b' })).rejects.toMatchObject({ code: 'invalid_request' })
    const raw = await nats.bus.requestRaw('baran.b.naming.lookup', new TextEncoder().encode('{"name": 42}'))
    expect(raw.error?.code).toBe('invalid_request')
    const junk = await nats.bus.requestRaw('baran.b.naming.reverse', new TextEncoder().encode('not json'))
    expect(junk.error?.code).toBe('invalid_request')
    await expect(nats.bus.request(namingReverse, { accountId: 'z'.repeat(40) }, { node: 'b' })).rejects.toMatchObject({ code: 'invalid_request' })
    await expect(nats.bus.request(namingLookup, { name }, { node: 'b' })).resolves.toMatchObject({ name })
  })

  it('says no_account without an account, and insufficient_funds without gas money', async () => {
    const nats = await setupNats({ cleanup })
    await node(nats, 'c')
    await node(nats, 'd', { seed: 14 })
    await expect(nats.bus.request(namingRegister, { name: uniqueName('c') }, { node: 'c' })).rejects.toMatchObject({ code: 'no_account' })
    const poor = standInAccount(14)
    expect(await env.devnet.provider.getBalance(poor.ethAddress)).toBe(0n)
    await expect(nats.bus.request(namingRegister, { name: uniqueName('d') }, { node: 'd', timeoutMs: 30_000 })).rejects.toMatchObject({
      code: 'insufficient_funds',
    })
  })

  it('answers not_found for a free name and forged_record for a record that does not verify', async () => {
    const nats = await setupNats({ cleanup })
    await node(nats, 'a')
    await expect(nats.bus.request(namingLookup, { name: uniqueName('free') }, { node: 'a' })).rejects.toMatchObject({ code: 'not_found' })
    await expect(nats.bus.request(namingReverse, { accountId: standInAccount(99).accountId }, { node: 'a' })).rejects.toMatchObject({
      code: 'not_found',
    })
    // A lying registrant: alice's account ID, someone else's key, a junk signature.
    const forged = uniqueName('forged')
    const alice = standInAccount(11)
    await registerRaw(env.devnet, forged, {
      accountId: alice.accountId,
      publicKey: new Uint8Array(32).fill(7),
      signature: new Uint8Array(64).fill(1),
    })
    await expect(nats.bus.request(namingLookup, { name: forged }, { node: 'a' })).rejects.toMatchObject({ code: 'forged_record' })
  })

  it('goes degraded when the chain stops, fails fast with unavailable, and is ready again when it is back', async () => {
    const nats = await setupNats({ cleanup })
    const dir = await tempDir(cleanup)
    const port = await freePort()
    const stateFile = join(dir, 'chain.json')
    let devnet = await startDevnet({ port, stateFile })
    cleanup.add('stop devnet', () => devnet.stop())
    const { rt } = await node(nats, 'e', { seed: 15, faucet: true, devnet })
    const states: string[] = []
    await nats.bus.subscribe(stateEventOf('naming'), (e) => void states.push(e.state), { node: 'e' })
    await nats.bus.flush()
    const name = uniqueName('persist')
    await nats.bus.request(namingRegister, { name }, { node: 'e', timeoutMs: 60_000 })

    await devnet.stop()
    await waitUntil(() => rt.state === 'degraded', { timeoutMs: 15_000, what: 'naming degraded' })
    expect(rt.health()).toMatchObject({ state: 'degraded', reason: 'chain', details: { chain: 'down' } })
    await expect(nats.bus.request(namingLookup, { name }, { node: 'e' })).rejects.toMatchObject({ code: 'unavailable' })
    await expect(nats.bus.request(namingRegister, { name: uniqueName('x') }, { node: 'e' })).rejects.toMatchObject({ code: 'unavailable' })
    // Diagnostics are still served, with what the chain cannot tell left out.
    await expect(nats.bus.request(namingInfo, {}, { node: 'e' })).resolves.toMatchObject({ blockNumber: null, balanceWei: null, rpcUrl: devnet.rpcUrl })

    // The same port and state: the registry and the name are still there.
    devnet = await startDevnet({ port, stateFile, registry: devnet.registry })
    expect(devnet.reusedRegistry).toBe(true)
    await waitUntil(() => rt.state === 'ready', { timeoutMs: 15_000, what: 'naming ready again' })
    await expect(nats.bus.request(namingLookup, { name }, { node: 'e' })).resolves.toMatchObject({ accountId: standInAccount(15).accountId })
    // (the 'ready' of the start may or may not arrive: the subscription came right after it)
    await expect.poll(() => states.slice(states.indexOf('degraded'))).toEqual(['degraded', 'ready'])
  })

  it('refuses to start without a chain in its config', async () => {
    const nats = await setupNats({ cleanup })
    const dataDir = await tempDir(cleanup)
    await expect(runInline(namingActor, { cleanup, node: 'f', url: nats.url, dataDir, config: {} })).rejects.toThrow(/naming\.rpcUrl/)
    await expect(runInline(namingActor, { cleanup, node: 'g', url: nats.url, dataDir, config: { rpcUrl: 'http://127.0.0.1:1', registry: '0x1', extra: 1 } })).rejects.toMatchObject({
      name: 'ActorConfigError',
    })
  })

  it('refuses a faucet key that is not a secp256k1 private key at start', async () => {
    const nats = await setupNats({ cleanup })
    const dataDir = await tempDir(cleanup)
    const chain = { rpcUrl: 'http://127.0.0.1:1', registry: `0x${'1'.repeat(40)}` }
    for (const faucetKey of [`0x${'0'.repeat(64)}`, `0x${'f'.repeat(64)}`, '0x1234']) {
      await expect(runInline(namingActor, { cleanup, node: 'h', url: nats.url, dataDir, config: { ...chain, faucetKey } })).rejects.toMatchObject({
        name: 'ActorConfigError',
        message: expect.stringContaining('faucetKey'),
      })
    }
  })
})
