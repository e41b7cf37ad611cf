import { Bus, BusError, nodeStop } from '@baran/bus'
import { Cleanup, echoSay, isAlive, tempDir } from '@baran/testkit'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { cli, connectAs, startNode } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const echoConfig = { actors: { echo: '@baran/testkit/example-actor' } }

describe('the node supervisor', () => {
  it('restarts an actor after kill -9, counts the restart, and it serves again', async () => {
    const n = await startNode(cleanup, echoConfig)
    const before = (await n.status()).actors.echo
    expect(before?.state).toBe('ready')
    process.kill(before?.pid ?? -1, 'SIGKILL')
    await expect.poll(async () => (await n.status()).actors.echo?.restarts, { timeout: 15_000 }).toBe(1)
    await expect.poll(async () => (await n.status()).actors.echo?.state, { timeout: 15_000 }).toBe('ready')
    const after = (await n.status()).actors.echo
    expect(after?.pid).not.toBe(before?.pid)
    expect(after?.lastExit).toMatchObject({ signal: 'SIGKILL' })
    await expect(n.bus.request(echoSay, { text: 'again' })).resolves.toMatchObject({ pid: after?.pid })
  })

  it('leaves no process behind when it stops', async () => {
    const n = await startNode(cleanup, echoConfig)
    const info = JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busPid: number; pid: number }
    const actorPid = (await n.status()).actors.echo?.pid ?? -1
    const { code, out } = await cli(cleanup, ['stop', '--data-dir', n.dataDir])
    expect(out).toContain('stopped')
    expect(code).toBe(0)
    expect((await n.proc.exited).code).toBe(0)
    for (const pid of [info.pid, info.busPid, actorPid]) expect(isAlive(pid), `pid ${pid} still alive`).toBe(false)
    await expect(readFile(join(n.dataDir, 'node.json'))).rejects.toThrow()
  })

  it('leaves no process behind when the supervisor itself is killed', async () => {
    const n = await startNode(cleanup, echoConfig)
    const actorPid = (await n.status()).actors.echo?.pid ?? -1
    const { busPid } = JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busPid: number }
    process.kill(n.proc.pid, 'SIGKILL')
    await n.proc.exited
    // the actor sees its IPC channel close, nats-server gets its parent-death signal: both exit by themselves
    await expect.poll(() => isAlive(actorPid), { timeout: 10_000 }).toBe(false)
    await expect.poll(() => isAlive(busPid), { timeout: 10_000 }).toBe(false)
  })

  it('gives a second node on the machine its own ports and data dir', async () => {
    const a = await startNode(cleanup, echoConfig, { name: 'alice' })
    const b = await startNode(cleanup, echoConfig, { name: 'bob' })
    const [sa, sb] = [await a.status(), await b.status()]
    expect(sa.node).toBe('alice')
    expect(sb.node).toBe('bob')
    expect(sa.bus.url).not.toBe(sb.bus.url)
    expect(sa.dataDir).not.toBe(sb.dataDir)
    expect(sa.actors.echo?.pid).not.toBe(sb.actors.echo?.pid)
  })

  it('refuses a second supervisor on the same data dir', async () => {
    const n = await startNode(cleanup, echoConfig)
    const { code, out } = await cli(cleanup, ['start', '--data-dir', n.dataDir])
    expect(code).toBe(1)
    expect(out).toMatch(/already runs/)
  })

  it('restarts nats-server when it dies, and the actors come back', async () => {
    const n = await startNode(cleanup, echoConfig)
    const info = JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busPid: number }
    process.kill(info.busPid, 'SIGKILL')
    await expect.poll(() => n.bus.request(echoSay, { text: 'back' }).then((r) => r.text).catch(() => 'down'), { timeout: 20_000, interval: 200 }).toBe('back')
    expect((await n.status()).actors.echo?.state).toBe('ready')
  })

  it('gives up on an actor in a crash loop and says so', async () => {
    const crashy = fileURLToPath(new URL('./fixtures/crashy.ts', import.meta.url))
    const n = await startNode(cleanup, {
      actors: { echo: '@baran/testkit/example-actor', crashy },
      supervisor: { restart: { initialMs: 20, maxMs: 100, crashLoopCount: 3, crashLoopWindowMs: 60_000 } },
    })
    await expect.poll(async () => (await n.status()).actors.crashy?.state, { timeout: 15_000 }).toBe('gave-up')
    const s = (await n.status()).actors.crashy
    expect(s?.restarts).toBe(2)
    expect(s?.lastExit?.code).toBe(3)
    expect((await n.status()).actors.echo?.state).toBe('ready')
  })
})

describe('bus permissions (least privilege)', () => {
  it("refuses an actor's user access to the supervisor's and another actor's private subjects", async () => {
    const n = await startNode(cleanup, echoConfig)
    const info = JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busUrl: string }
    const asEcho = await connectAs(n, 'echo', cleanup)
    // the echo actor's user may not stop the node, nor listen to the supervisor's requests
    await expect(asEcho.request(nodeStop, {})).rejects.toMatchObject({ code: 'forbidden' })
    await expect(asEcho.subscribeRaw(`baran.${n.node}.node.>`, () => {})).rejects.toMatchObject({ code: 'forbidden' })
    // nor read another user's replies
    await expect(asEcho.subscribeRaw('_INBOX_cli.>', () => {})).rejects.toBeInstanceOf(BusError)
    // the cli user may call echo's contracts but not listen in on echo's requests
    await expect(n.bus.request(echoSay, { text: 'ok' })).resolves.toMatchObject({ text: 'ok' })
    await expect(n.bus.subscribeRaw(`baran.${n.node}.echo.say`, () => {})).rejects.toMatchObject({ code: 'forbidden' })
    // and a wrong password is refused outright
    await expect(Bus.connect({ servers: info.busUrl, node: n.node, user: 'echo', pass: 'guess' })).rejects.toMatchObject({ code: 'forbidden' })
  })
})

describe('configuration', () => {
  it('stops with exit 78 and names the key of a bad value', async () => {
    const { code, out } = await cli(cleanup, ['start', '--data-dir', '/tmp/baran-never-created-x'], { BARAN_DISCOVERY_MDNS: 'perhaps' })
    expect(code).toBe(78)
    expect(out).toContain('discovery.mdns')
    expect(out).toContain('BARAN_DISCOVERY_MDNS')
  })

  it("stops with exit 78 on a bad actor config, naming the actor's key", async () => {
    const home = await tempDir(cleanup)
    await writeFile(join(home, 'config.json'), JSON.stringify({ actors: { echo: { module: '@baran/testkit/example-actor', config: { greeting: 42 } } } }))
    const { code, out } = await cli(cleanup, ['start', '--data-dir', home])
    expect(code).toBe(78)
    expect(out).toContain('echo.greeting')
  })

  it('says clearly when the node is not running', async () => {
    const { code, out } = await cli(cleanup, ['status', '--data-dir', '/tmp/baran-not-running-x'])
    expect(code).toBe(3)
    expect(out).toMatch(/not running/)
    expect(out).toMatch(/baran start/)
  })
})
