import { createServer } from 'node:net'
import { Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { anvilBinaryPath, createProvider, type Devnet, deployRegistry, startDevnet } from '../src/lib/devnet.ts'
import { registry } from './helpers.ts'

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
