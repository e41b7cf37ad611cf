import { createServer } from 'node:net'
import { Wallet } from 'ethers'
import { Cleanup, spawnProcess, waitUntil } from '@baran/testkit'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { anvilBinaryPath, createProvider, type Devnet, deployRegistry, startDevnet } from '../src/lib/devnet.ts'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { account, client, registry, uniqueName } from './helpers.ts'

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

describe('startDevnet', () => {
  const started: Devnet[] = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map((d) => d.stop()))
  })
  async function start(opts?: Parameters<typeof startDevnet>[0]): Promise<Devnet> {
    const d = await startDevnet(opts)
    started.push(d)
    return d
  }

  it('uses the anvil binary of the npm package', () => {
    expect(anvilBinaryPath()).toMatch(/@foundry-rs\/anvil-linux-amd64\/bin\/anvil$/)
  })

  it('runs anvil on loopback with the registry deployed and funded dev accounts', async () => {
    const d = await start({ maxCommitAge: 7 })
    expect(d.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(d.chainId).toBe(31337n)
    expect(d.accounts).toHaveLength(10)
    expect(new Wallet(d.deployerKey).address).toBe(d.accounts[0]!.address)
    expect(await d.provider.getCode(d.registry)).not.toBe('0x')
    expect(await registry(d).getFunction('maxCommitAge').staticCall()).toBe(7n)
    expect(await d.provider.getBalance(d.accounts[9]!.address)).toBeGreaterThan(10n ** 18n)
  })

  it('listens on a given port', async () => {
    const port = await freePort()
    const d = await start({ port })
    expect(d.rpcUrl).toBe(`http://127.0.0.1:${port}`)
  })

  it('fails with DevnetError when the port is taken', async () => {
    const d = await start()
    const port = Number(new URL(d.rpcUrl).port)
    await expect(startDevnet({ port })).rejects.toMatchObject({ name: 'DevnetError', code: 'devnet_error' })
  })

  it('funds an address and mines blocks', async () => {
    const d = await start()
    const empty = Wallet.createRandom().address
    await d.fund(empty, 5n)
    await d.fund(empty, 7n)
    expect(await d.provider.getBalance(empty)).toBe(12n)
    const before = await d.provider.getBlockNumber()
    await d.mine(10)
    expect(await d.provider.getBlockNumber()).toBe(before + 10)
  })

  it('toggles automine: transactions wait in the mempool until a block is mined', async () => {
    const d = await start()
    await d.setAutomine(false)
    const w = new Wallet(d.accounts[1]!.privateKey, d.provider)
    const tx = await w.sendTransaction({ to: d.accounts[2]!.address, value: 1n })
    expect(await d.provider.getTransactionReceipt(tx.hash)).toBeNull()
    await d.mine(1)
    expect((await d.provider.getTransactionReceipt(tx.hash))?.status).toBe(1)
    await d.setAutomine(true)
  })

  it('deployRegistry deploys another registry with its own maxCommitAge', async () => {
    const d = await start()
    const deployed = await deployRegistry(new Wallet(d.accounts[3]!.privateKey, d.provider), { maxCommitAge: 3 })
    expect(deployed.address).not.toBe(d.registry)
    expect(deployed.blockNumber).toBeGreaterThan(0)
    expect(await registry({ ...d, registry: deployed.address }).getFunction('maxCommitAge').staticCall()).toBe(3n)
    await expect(deployRegistry(new Wallet(d.accounts[3]!.privateKey, d.provider), { maxCommitAge: 0 })).rejects.toThrow()
  })

  it('keeps the chain in a state file: after a restart the registry and its names are still there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baran-devnet-'))
    try {
      const stateFile = join(dir, 'sub', 'chain.json')
      const first = await start({ stateFile, stateIntervalSec: 1 })
      expect(first.reusedRegistry).toBe(false)
      const name = uniqueName('kept')
      await client(first, 1).register(name, account(21))
      await first.stop()
      expect((await stat(stateFile)).size).toBeGreaterThan(0)
      // no registry given: the deployer's first deployment is where it must be
      const second = await start({ stateFile })
      expect(second.reusedRegistry).toBe(true)
      expect(second.registry).toBe(first.registry)
      expect((await client(second).lookup(name)).accountId).toBe(account(21).accountId)
      await second.stop()
      // an address without the registry's code is not taken for it: a new one is deployed
      const third = await start({ stateFile, registry: second.accounts[3]!.address })
      expect(third.reusedRegistry).toBe(false)
      expect(third.registry).not.toBe(first.registry)
      expect(await third.provider.getCode(third.registry)).not.toBe('0x')
    } finally {
      await Promise.all(started.splice(0).map((d) => d.stop()))
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('anvil does not outlive a process killed with SIGKILL (parent-death signal)', async () => {
    const cleanup = new Cleanup()
    let pid = 0
    try {
      const child = spawnProcess(fileURLToPath(new URL('./fixtures/devnet-child.ts', import.meta.url)), { cleanup })
      pid = await waitUntil(() => (child.output[0] ? Number(child.output[0]) : undefined), { timeoutMs: 20_000, what: 'anvil pid' })
      expect(isRunning(pid)).toBe(true)
      child.child.kill('SIGKILL')
      await waitUntil(() => !isRunning(pid), { timeoutMs: 15_000, what: 'anvil gone' })
    } finally {
      if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL')
      await cleanup.run()
    }
  })

  it('stop() kills anvil by PID, waits for its exit, and can be called twice', async () => {
    const d = await startDevnet()
    expect(isRunning(d.pid)).toBe(true)
    await d.stop()
    expect(isRunning(d.pid)).toBe(false)
    await d.stop()
    const p = createProvider(d.rpcUrl, { chainId: d.chainId, timeoutMs: 1000 })
    try {
      await expect(p.getBlockNumber()).rejects.toThrow()
    } finally {
      p.destroy()
    }
  })
})
