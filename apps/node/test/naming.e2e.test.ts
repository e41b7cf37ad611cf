import { namingInfo, namingRegister } from '@baran/bus'
import { type Devnet, startDevnet } from '@baran/naming'
import { Cleanup, isAlive, tempDir, waitUntil } from '@baran/testkit'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainAnswers, readLocalnet } from '../src/lib/localnet.ts'
import { cli, spawnBaran, startNode, type TestNode } from './helpers.ts'

type Account = { accountId: string; accountKey: string; ethAddress: string }

const cleanup = new Cleanup()
/**
 * Tests that start whole nodes (a supervisor, nats-server and five actor processes each), a chain and CLI
 * processes: on a shared 2-core machine their budget is the work's (24 s alone, 40 s beside the rest of the suite),
 * not a speed target.
 */
const NODE_TEST_MS = 120_000
afterAll(() => cleanup.run())

let seq = 0
const uniqueName = (prefix: string) => `${prefix}-${process.pid.toString(36)}${(seq++).toString(36)}`

async function json<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const r = await cli(cleanup, [...args, '--json'], env)
  expect(r.code, r.out).toBe(0)
  return JSON.parse(r.out) as T
}

async function createAccount(n: { dataDir: string }): Promise<Account> {
  return json<Account>(['account', 'create', '--data-dir', n.dataDir])
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

/**
 * Stops a node with SIGTERM at cleanup (before the testkit's SIGKILL step runs): a killed supervisor would leave
 * its nats-server and its chain behind.
 */
function stopAtCleanup(n: TestNode): TestNode {
  cleanup.add(`stop node ${n.node}`, () => n.proc.stop('SIGTERM', 20_000))
  return n
}

async function namingState(n: TestNode): Promise<string | undefined> {
  return (await n.status()).actors.naming?.state
}

/** `baran start` on `<home>/<name>` with BARAN_HOME=home: nodes started this way share the machine's local network. */
async function startIn(home: string, name: string, config: object): Promise<TestNode> {
  return stopAtCleanup(await startNode(cleanup, config, { home, name }))
}

describe('naming across two node processes on one chain', () => {
  let devnet: Devnet
  let a: TestNode
  let b: TestNode
  let alice: Account

  beforeAll(async () => {
    devnet = await startDevnet()
    cleanup.add('stop devnet', () => devnet.stop())
    const config = { naming: { rpcUrl: devnet.rpcUrl, registry: devnet.registry } }
    ;[a, b] = (await Promise.all([startNode(cleanup, config, { name: 'alice' }), startNode(cleanup, config, { name: 'bob' })])).map(stopAtCleanup) as [TestNode, TestNode]
    alice = await createAccount(a)
    const bob = await createAccount(b)
    // A configured chain has no faucet: fund the accounts' Ethereum addresses as their users would.
    await devnet.fund(alice.ethAddress, 10n ** 18n)
    await devnet.fund(bob.ethAddress, 10n ** 18n)
  }, 120_000)

  it('registers a name on node A (with progress) that node B resolves, forward and reverse', async () => {
    expect(await namingState(a)).toBe('ready')
    const name = uniqueName('alice')
    const r = await cli(cleanup, ['register', name, '--data-dir', a.dataDir])
    expect(r.code, r.out).toBe(0)
    expect(r.out).toMatch(/committing to/)
    expect(r.out).toMatch(/committed in 0x[0-9a-f]{64}/)
    expect(r.out).toMatch(/revealing/)
    expect(r.out).toContain(`${name} is registered to account ${alice.accountId}`)

    const record = await json<Record<string, string>>(['lookup', name, '--data-dir', b.dataDir])
    expect(record).toEqual({ name, accountId: alice.accountId, publicKey: alice.accountKey, owner: alice.ethAddress })
    const who = await cli(cleanup, ['whois', alice.accountId, '--data-dir', b.dataDir])
    expect(who.code, who.out).toBe(0)
    expect(who.out.trim()).toBe(name)
    expect(await json<{ name: string }>(['whois', `0x${alice.accountId.toUpperCase()}`, '--data-dir', b.dataDir])).toEqual({ accountId: alice.accountId, name })
  })

  it('refuses a taken name with a clear error, and an invalid name before any transaction', async () => {
    const name = uniqueName('taken')
    expect((await cli(cleanup, ['register', name, '--data-dir', a.dataDir])).code).toBe(0)
    const taken = await cli(cleanup, ['register', name, '--data-dir', b.dataDir])
    expect(taken.code).toBe(1)
    expect(taken.out).toMatch(new RegExp(`${name} is already registered`))
    expect(taken.out).toMatch(/hint: .*pick another/)

    const block = await devnet.provider.getBlockNumber()
    const bad = await cli(cleanup, ['register', 'Not_Lowercase', '--data-dir', b.dataDir])
    expect(bad.code).toBe(2)
    expect(bad.out).toMatch(/invalid name: .*a-z/)
    await expect(b.bus.request(namingRegister, { name: '-x-' })).rejects.toMatchObject({ code: 'invalid_name' })
    expect(await devnet.provider.getBlockNumber()).toBe(block)
    const missing = await cli(cleanup, ['lookup', uniqueName('nobody'), '--data-dir', b.dataDir])
    expect(missing.code).toBe(1)
    expect(missing.out).toMatch(/is not registered/)
  })

  it('goes degraded when its chain stops (lookups fail fast with unavailable) and ready when it is back', async () => {
    const dir = await tempDir(cleanup)
    const port = await freePort()
    const stateFile = join(dir, 'chain.json')
    let chain = await startDevnet({ port, stateFile })
    cleanup.add('stop chain', () => chain.stop())
    const c = stopAtCleanup(await startNode(cleanup, { naming: { rpcUrl: chain.rpcUrl, registry: chain.registry } }, { name: 'carol' }))
    const carol = await createAccount(c)
    await chain.fund(carol.ethAddress, 10n ** 18n)
    const name = uniqueName('carol')
    expect((await cli(cleanup, ['register', name, '--data-dir', c.dataDir])).code).toBe(0)

    await chain.stop()
    await expect.poll(() => namingState(c), { timeout: 15_000 }).toBe('degraded')
    const status = await cli(cleanup, ['status', '--data-dir', c.dataDir])
    expect(status.code).toBe(4)
    expect(status.out).toMatch(/naming\s+degraded/)
    const down = await cli(cleanup, ['lookup', name, '--data-dir', c.dataDir])
    expect(down.code).toBe(4)
    expect(down.out).toMatch(/unavailable/)

    chain = await startDevnet({ port, stateFile, registry: chain.registry })
    await expect.poll(() => namingState(c), { timeout: 15_000 }).toBe('ready')
    expect((await json<{ accountId: string }>(['lookup', name, '--data-dir', c.dataDir])).accountId).toBe(carol.accountId)
  }, NODE_TEST_MS)
})

describe('the local network of npm start', () => {
  it('the first node starts the chain, the second joins it, names cross over, and the owner stops it', async () => {
    const home = await tempDir(cleanup, 'baran-home-')
    // Whatever happens, no chain outlives the test.
    const chainPids = new Set<number>()
    cleanup.add('kill local chains', async () => {
      const info = await readLocalnet(home)
      if (info) chainPids.add(info.chain.pid)
      for (const pid of chainPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
    })
    // Two nodes with an empty config, started at the same time on one BARAN_HOME.
    const [x, y] = await Promise.all([startIn(home, 'x', {}), startIn(home, 'y', {})])
    const local = await readLocalnet(home)
    expect(local).toBeDefined()
    if (!local) return
    chainPids.add(local.chain.pid)
    expect((await stat(join(home, 'localnet.json'))).mode & 0o777).toBe(0o644)
    expect(['x', 'y']).toContain(local.owner.node)
    expect(await chainAnswers(local.chain)).toBe(true)
    const [owner, joiner] = local.owner.node === 'x' ? [x, y] : [y, x]
    for (const n of [owner, joiner]) {
      expect(await namingState(n)).toBe('ready')
      expect((await n.bus.request(namingInfo, {})).rpcUrl).toBe(local.chain.rpcUrl)
    }

    // Accounts start with no ether: the local faucet pays for the registration.
    const j = await createAccount(joiner)
    const name = uniqueName('local')
    const reg = await cli(cleanup, ['register', name, '--data-dir', joiner.dataDir])
    expect(reg.code, reg.out).toBe(0)
    expect(await json<{ accountId: string }>(['lookup', name, '--data-dir', owner.dataDir])).toMatchObject({ accountId: j.accountId })
    expect((await cli(cleanup, ['whois', j.accountId, '--data-dir', owner.dataDir])).out.trim()).toBe(name)

    // `baran nameserver` serves the local network by default (Jami's field names).
    const ns = spawnBaran(cleanup, ['nameserver', '--json'], { env: { BARAN_HOME: home } })
    const { url } = await waitUntil(() => (ns.output[0] ? (JSON.parse(ns.output[0]) as { url: string }) : undefined), { timeoutMs: 20_000, what: 'name server' })
    const res = await fetch(`${url}/name/${name}`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ name, addr: `0x${j.accountId}` })
    expect((await fetch(`${url}/name/${uniqueName('none')}`)).status).toBe(404)
    await ns.stop('SIGINT')

    // Stopping the owner stops the chain: no process left, no localnet.json; the other node's naming degrades.
    const stop = await cli(cleanup, ['stop', '--data-dir', owner.dataDir])
    expect(stop.code, stop.out).toBe(0)
    expect(isAlive(local.chain.pid)).toBe(false)
    expect(await readLocalnet(home)).toBeUndefined()
    await expect.poll(() => namingState(joiner), { timeout: 15_000 }).toBe('degraded')
  }, NODE_TEST_MS)

  it('`baran devnet` runs a chain in the foreground until Ctrl-C', async () => {
    const p = spawnBaran(cleanup, ['devnet', '--json'])
    const ready = await waitUntil(() => (p.output[0] ? (JSON.parse(p.output[0]) as { rpcUrl: string; chainId: string; registry: string; pid: number }) : undefined), {
      timeoutMs: 20_000,
      what: 'devnet line',
    })
    cleanup.add('kill devnet anvil', () => isAlive(ready.pid) && process.kill(ready.pid, 'SIGKILL'))
    expect(ready.chainId).toBe('31337')
    expect(await chainAnswers({ rpcUrl: ready.rpcUrl, chainId: 31337, registry: ready.registry, faucetKey: '', pid: ready.pid, stateFile: '' })).toBe(true)
    expect((await p.stop('SIGINT')).code).toBe(0)
    expect(isAlive(ready.pid)).toBe(false)
  })
})
