import { stateEventOf } from '@baran/bus'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, echoDependency, echoSay, echoSlow, setupNats, spawnProcess, tempDir } from '../src/index.ts'

const entry = fileURLToPath(new URL('../src/example/main.ts', import.meta.url))
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

async function start(extraEnv: NodeJS.ProcessEnv = {}) {
  const nats = await setupNats({ cleanup })
  const dataDir = await tempDir(cleanup)
  const states: string[] = []
  await nats.bus.subscribe(stateEventOf('echo'), (e) => void states.push(e.state))
  const proc = spawnProcess(entry, {
    cleanup,
    env: { BARAN_NODE: 'n1', BARAN_BUS_URL: nats.url, BARAN_DATA_DIR: dataDir, BARAN_ACTOR_CONFIG: JSON.stringify({ greeting: 'salam' }), ...extraEnv },
    ipc: true,
  })
  await expect.poll(() => states.includes('ready'), { timeout: 15_000 }).toBe(true)
  return { nats, proc, states }
}

describe('an actor as a process', () => {
  it('serves, logs pino JSON lines with node and actor, and stops on SIGTERM within its deadline', async () => {
    const { nats, proc, states } = await start({ BARAN_STOP_DEADLINE_MS: '2000' })
    await expect(nats.bus.request(echoSay, { text: 'hi' })).resolves.toEqual({ text: 'hi', greeting: 'salam', pid: proc.pid })
    const inFlight = nats.bus.request(echoSlow, { ms: 400 }, { timeoutMs: 5000 })
    await new Promise((r) => setTimeout(r, 50))
    const t0 = Date.now()
    const exit = await proc.stop('SIGTERM')
    expect(exit.code).toBe(0)
    expect(Date.now() - t0).toBeLessThan(2000 + 3000)
    await expect(inFlight).resolves.toMatchObject({ waitedMs: expect.any(Number) })
    await expect.poll(() => states.at(-1)).toBe('stopped')
    const lines = proc.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.length).toBeGreaterThan(2)
    for (const line of lines) expect(line).toMatchObject({ node: 'n1', actor: 'echo' })
  })

  it('goes degraded and back when its own dependency fails and recovers, refusing requests meanwhile', async () => {
    const { nats, states } = await start()
    await nats.bus.request(echoDependency, { name: 'chain', up: false })
    await expect.poll(() => states.at(-1)).toBe('degraded')
    await expect(nats.bus.request(echoSay, { text: 'x' })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('chain') })
    await nats.bus.request(echoDependency, { name: 'chain', up: true })
    await expect.poll(() => states.at(-1)).toBe('ready')
    await expect(nats.bus.request(echoSay, { text: 'x' })).resolves.toMatchObject({ text: 'x' })
  })

  it('exits with 78 on a bad config, naming the key', async () => {
    const nats = await setupNats({ cleanup })
    const dataDir = await tempDir(cleanup)
    const proc = spawnProcess(entry, {
      cleanup,
      env: { BARAN_NODE: 'n1', BARAN_BUS_URL: nats.url, BARAN_DATA_DIR: dataDir, BARAN_ACTOR_CONFIG: JSON.stringify({ greeting: 42 }) },
    })
    const exit = await proc.exited
    expect(exit.code).toBe(78)
    expect(proc.output.join('\n')).toContain('greeting')
  })

  it('exits when its supervisor goes away (IPC channel closed)', async () => {
    const { proc } = await start()
    proc.child.disconnect()
    const exit = await proc.exited
    expect(exit.code).toBe(0)
  })
})
