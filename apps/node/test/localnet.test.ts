import { startDevnet } from '@baran/naming'
import { Cleanup, isAlive, tempDir } from '@baran/testkit'
import { spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeConfigSchema } from '../src/lib/config.ts'
import { chainAnswers, joinOrStartLocalnet, type LocalnetHandle, localnetFor, localnetPaths, readLocalnet, withLock, writeLocalnet } from '../src/lib/localnet.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** Starts (or joins) with the handle's stop and a kill of its chain registered for cleanup, whatever happens. */
async function localnet(home: string, node = 'n1'): Promise<LocalnetHandle> {
  const h = await joinOrStartLocalnet({ home, node })
  cleanup.add(`stop localnet of ${node}`, async () => {
    await h.stop()
    if (h.owner && isAlive(h.info.chain.pid)) process.kill(h.info.chain.pid, 'SIGKILL')
  })
  return h
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((r) => child.once('exit', r))
  return child.pid!
}

describe('local network', () => {
  it('starts a chain and describes it in localnet.json; the next node joins it; the owner stops it', async () => {
    const home = await tempDir(cleanup)
    const first = await localnet(home, 'n1')
    expect(first.owner).toBe(true)
    const file = localnetPaths(home).file
    expect((await stat(file)).mode & 0o777).toBe(0o644)
    const info = await readLocalnet(home)
    expect(info).toEqual(first.info)
    expect(info).toMatchObject({ owner: { node: 'n1', pid: process.pid }, chain: { chainId: 31337 }, bootstrap: [], relays: [] })
    expect(await chainAnswers(first.info.chain)).toBe(true)
    expect(first.namingConfig()).toEqual({ rpcUrl: info?.chain.rpcUrl, registry: info?.chain.registry, chainId: 31337, faucetKey: info?.chain.faucetKey })

    const second = await localnet(home, 'n2')
    expect(second.owner).toBe(false)
    expect(second.info.chain.rpcUrl).toBe(first.info.chain.rpcUrl)
    await second.stop() // a node that joined leaves the chain running
    expect(await chainAnswers(first.info.chain)).toBe(true)

    await first.stop()
    expect(isAlive(first.info.chain.pid)).toBe(false)
    await expect(stat(file)).rejects.toThrow()
    await expect(stat(localnetPaths(home).lock)).rejects.toThrow()
  })

  it('keeps names across a restart: the same state, registry and port', async () => {
    const home = await tempDir(cleanup)
    const a = await localnet(home)
    await a.stop()
    const b = await localnet(home)
    expect(b.owner).toBe(true)
    expect(b.info.chain.registry).toBe(a.info.chain.registry)
    expect(b.info.chain.rpcUrl).toBe(a.info.chain.rpcUrl)
    expect(b.info.chain.stateFile).toBe(join(home, 'localnet', 'chain.json'))
  })

  it('serializes two nodes starting at once: one starts, the other joins', async () => {
    const home = await tempDir(cleanup)
    const [x, y] = await Promise.all([localnet(home, 'x'), localnet(home, 'y')])
    expect([x.owner, y.owner].sort()).toEqual([false, true])
    expect(x.info.chain.rpcUrl).toBe(y.info.chain.rpcUrl)
  })

  it('takes over a chain whose owner died, and starts a new one when the described chain is gone', async () => {
    const home = await tempDir(cleanup)
    const orphan = await startDevnet()
    cleanup.add('stop orphan', () => orphan.stop())
    const described = {
      owner: { node: 'gone', pid: await deadPid() },
      chain: { rpcUrl: orphan.rpcUrl, chainId: 31337, registry: orphan.registry, faucetKey: orphan.accounts[1]!.privateKey, pid: orphan.pid, stateFile: join(home, 'x.json') },
      bootstrap: [],
      relays: [],
    }
    await writeLocalnet(home, described)
    const adopted = await localnet(home, 'heir')
    expect(adopted.owner).toBe(true)
    expect(adopted.info.chain.rpcUrl).toBe(orphan.rpcUrl)
    expect((await readLocalnet(home))?.owner).toEqual({ node: 'heir', pid: process.pid })
    await adopted.stop()
    expect(isAlive(orphan.pid)).toBe(false)

    // Now the file names a dead chain (written again, as after a crash): a new chain is started.
    await writeLocalnet(home, described)
    const fresh = await localnet(home, 'next')
    expect(fresh.owner).toBe(true)
    expect(fresh.info.chain.pid).not.toBe(orphan.pid)
    expect(await chainAnswers(fresh.info.chain)).toBe(true)
  })

  it('ignores a localnet.json that is not valid', async () => {
    const home = await tempDir(cleanup)
    await writeFile(localnetPaths(home).file, '{"owner": 1')
    expect(await readLocalnet(home)).toBeUndefined()
    const h = await localnet(home)
    expect(h.owner).toBe(true)
    expect(JSON.parse(await readFile(localnetPaths(home).file, 'utf8'))).toEqual(h.info)
  })

  it('runs only for a naming actor with no chain configured; a half-configured chain is a config error', async () => {
    const home = await tempDir(cleanup)
    const config = (naming: object) => NodeConfigSchema.parse({ naming })
    await expect(localnetFor(config({}), ['identity'], { home, node: 'n' })).resolves.toBeUndefined()
    await expect(localnetFor(config({ rpcUrl: 'http://127.0.0.1:1', registry: `0x${'1'.repeat(40)}` }), ['naming'], { home, node: 'n' })).resolves.toBeUndefined()
    await expect(localnetFor(config({ rpcUrl: 'http://127.0.0.1:1' }), ['naming'], { home, node: 'n' })).rejects.toMatchObject({ code: 'invalid_config', message: /naming\.registry/ })
    await expect(localnetFor(config({ registry: `0x${'1'.repeat(40)}` }), ['naming'], { home, node: 'n' })).rejects.toMatchObject({ code: 'invalid_config', message: /naming\.rpcUrl/ })
    await expect(stat(localnetPaths(home).file)).rejects.toThrow()
  })
})

describe('withLock', () => {
  it('removes a stale lock (dead pid) and waits for a live holder, up to its deadline', async () => {
    const dir = await tempDir(cleanup)
    const lock = join(dir, 'l.lock')
    await writeFile(lock, String(await deadPid()))
    await expect(withLock(lock, 2000, async () => (await readFile(lock, 'utf8')) === String(process.pid))).resolves.toBe(true)
    await expect(stat(lock)).rejects.toThrow() // released

    await writeFile(lock, String(process.ppid)) // alive: our parent
    await expect(withLock(lock, 200, async () => 'never')).rejects.toMatchObject({ name: 'LocalnetError', code: 'localnet_error', message: /locked by pid/ })
    expect(await readFile(lock, 'utf8')).toBe(String(process.ppid)) // someone else's lock is left alone
  })

  it('runs holders one after the other', async () => {
    const dir = await tempDir(cleanup)
    const lock = join(dir, 'l.lock')
    let inside = 0
    let most = 0
    const work = async () => {
      inside++
      most = Math.max(most, inside)
      await new Promise((r) => setTimeout(r, 20))
      inside--
    }
    await Promise.all([withLock(lock, 5000, work), withLock(lock, 5000, work), withLock(lock, 5000, work)])
    expect(most).toBe(1)
  })
})
