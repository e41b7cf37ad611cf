import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { dieWithParent, exitsWithin, NatsServerProcess, resolveNatsServer } from '../src/index.ts'

const dirs: string[] = []
const servers: NatsServerProcess[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.kill()
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })

describe('NatsServerProcess', () => {
  it('listens on a random loopback port, keeps it across a restart, and stops by SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baran-launch-'))
    dirs.push(dir)
    const server = new NatsServerProcess({ workDir: dir })
    servers.push(server)
    await server.start()
    const port = server.port
    expect(server.url).toBe(`nats://127.0.0.1:${port}`)
    expect(await accepts(port)).toBe(true)
    await server.restart()
    expect(server.port).toBe(port)
    await server.stop()
    expect(server.running).toBe(false)
    expect(await accepts(port)).toBe(false)
  })

  it('refuses a missing binary with a typed error', () => {
    expect(() => resolveNatsServer({ BARAN_NATS_SERVER: '/nonexistent/nats-server' })).toThrowError(
      expect.objectContaining({ name: 'NatsServerNotFoundError' }),
    )
  })
})

describe('dieWithParent and exitsWithin', () => {
  it('wraps the command so its pid stays the command (setpriv execs it), and exitsWithin is bounded', async () => {
    const [cmd, args] = dieWithParent('/bin/true', ['x'])
    expect(args.slice(-2)).toEqual(['/bin/true', 'x'])
    expect(cmd === '/bin/true' || cmd.endsWith('setpriv')).toBe(true)
    expect(await exitsWithin(new Promise(() => {}), 20)).toBe(false)
    expect(await exitsWithin(Promise.resolve(), 1000)).toBe(true)
  })
})
