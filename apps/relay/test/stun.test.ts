/**
 * The relay's STUN server on loopback, asked by a real STUN client (@msimerson/stun's own request()),
 * and through startRelay: where it binds, and that it stops with the relay.
 */
import { Cleanup, tempDir } from '@baran/testkit'
import { createSocket } from 'node:dgram'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { relayInitFrom, startRelay, startStunServer } from '../src/index.ts'
import { defaultStunHost } from '../src/lib/options.ts'

const stun = createRequire(import.meta.url)('@msimerson/stun') as {
  request(url: string, opts?: { socket?: ReturnType<typeof createSocket>; retries?: number; timeout?: number }): Promise<{ getXorAddress(): { address: string; port: number } }>
}

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** A UDP client socket on loopback; resolves with its port. */
async function clientSocket() {
  const socket = createSocket('udp4')
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r))
  cleanup.add('close client', () => new Promise<void>((r) => socket.close(() => r())))
  return { socket, port: socket.address().port }
}

describe('STUN server', () => {
  it('answers a Binding request with the address it saw (XOR-MAPPED-ADDRESS), and survives junk', async () => {
    const server = await startStunServer({ host: '127.0.0.1', port: 0 })
    cleanup.add('stop stun', () => server.close())
    expect(server.url).toBe(`stun:127.0.0.1:${server.port}`)
    // junk first: not STUN, and a STUN header with garbage attributes; neither may stop the server
    const junk = createSocket('udp4')
    const header = Buffer.alloc(28)
    header.writeUInt16BE(0x0001, 0)
    header.writeUInt16BE(8, 2)
    header.writeUInt32BE(0x2112a442, 4)
    header.writeUInt16BE(0xffff, 20)
    header.writeUInt16BE(400, 22) // attribute length past the end
    for (const pkt of [Buffer.from('hello'), header]) await new Promise<void>((r) => junk.send(pkt, server.port, '127.0.0.1', () => r()))
    junk.close()
    const { socket, port } = await clientSocket()
    const res = await stun.request(`127.0.0.1:${server.port}`, { socket, retries: 3, timeout: 500 })
    expect(res.getXorAddress()).toMatchObject({ address: '127.0.0.1', port })
    expect(server.answered).toBe(1)
  })

  it('--stun-port and --no-stun (commander gives stun: false, parseArgs noStun: true)', async () => {
    expect((await relayInitFrom({ dataDir: '/tmp/x', stunPort: '5349' })).stun).toEqual({ port: 5349 })
    expect((await relayInitFrom({ dataDir: '/tmp/x', stun: false })).stun).toBe(false)
    expect((await relayInitFrom({ dataDir: '/tmp/x', noStun: true })).stun).toBe(false)
    expect((await relayInitFrom({ dataDir: '/tmp/x' })).stun).toBeUndefined()
    await expect(relayInitFrom({ dataDir: '/tmp/x', noStun: true, stunPort: '1' })).rejects.toMatchObject({ name: 'InvalidRelayOptionError' })
    await expect(relayInitFrom({ dataDir: '/tmp/x', stunPort: 'x' })).rejects.toMatchObject({ name: 'InvalidRelayOptionError' })
  })

  it('refuses a taken port with a typed error; frees its port when closed', async () => {
    const first = await startStunServer({ host: '127.0.0.1', port: 0 })
    await expect(startStunServer({ host: '127.0.0.1', port: first.port })).rejects.toMatchObject({ name: 'RelayListenError', code: 'listen_failed' })
    await first.close()
    await first.close() // idempotent
    const again = await startStunServer({ host: '127.0.0.1', port: first.port })
    await again.close()
  })

  it('binds beside the relay: 3478 for a fixed port, a free one for port 0, none when turned off', async () => {
    expect(defaultStunHost(['/ip4/198.51.100.10/tcp/4001', '/ip4/198.51.100.10/tcp/4002/ws'], {})).toEqual({ host: '198.51.100.10', port: 3478 })
    expect(defaultStunHost(['/ip4/127.0.0.1/tcp/0'], {})).toEqual({ host: '127.0.0.1', port: 0 })
    expect(defaultStunHost(['/ip4/127.0.0.1/tcp/0'], { port: 5349 })).toEqual({ host: '127.0.0.1', port: 5349 })
    expect(() => defaultStunHost(['/ip4/127.0.0.1/tcp/0'], { port: 70_000 })).toThrow(expect.objectContaining({ name: 'InvalidRelayOptionError' }))

    const dir = join(await tempDir(cleanup, 'baran-relay-'), 'relay')
    const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'] })
    cleanup.add('stop relay', () => relay.stop())
    expect(relay.stun?.url).toMatch(/^stun:127\.0\.0\.1:\d+$/)
    const { socket } = await clientSocket()
    await expect(stun.request(`127.0.0.1:${relay.stun!.port}`, { socket, retries: 3, timeout: 500 })).resolves.toBeDefined()
    await relay.stop()
    // stopped with the relay: its port is free again
    const reuse = await startStunServer({ host: '127.0.0.1', port: relay.stun!.port })
    await reuse.close()

    const none = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], stun: false })
    cleanup.add('stop relay', () => none.stop())
    expect(none.stun).toBeUndefined()
  })

  it('a relay on a fixed port whose default STUN port is taken still starts, says why it has no STUN; a port asked for is required', async () => {
    // hold 127.0.0.1:3478 (or find it held already: taken either way)
    const holder = createSocket('udp4')
    await new Promise<void>((resolve) => {
      holder.once('error', () => resolve())
      holder.bind(3478, '127.0.0.1', () => resolve())
    })
    cleanup.add('close holder', () => new Promise<void>((r) => holder.close(() => r())))
    const dir = await tempDir(cleanup, 'baran-relay-')
    const tcp = await freeTcpPort()
    const fixed = await startRelay({ dataDir: join(dir, 'b'), listen: [`/ip4/127.0.0.1/tcp/${tcp}`], dhtListen: ['/ip4/127.0.0.1/tcp/0'] })
    cleanup.add('stop relay', () => fixed.stop())
    expect(fixed.stun).toBeUndefined()
    expect(fixed.stunError).toMatch(/STUN cannot listen on udp 127\.0\.0\.1:3478/)
    await fixed.stop()
    await expect(
      startRelay({ dataDir: join(dir, 'c'), listen: [`/ip4/127.0.0.1/tcp/${tcp}`], dhtListen: ['/ip4/127.0.0.1/tcp/0'], stun: { port: 3478 } }),
    ).rejects.toMatchObject({ name: 'RelayListenError', code: 'listen_failed' })
  })
})

async function freeTcpPort(): Promise<number> {
  const { createServer } = await import('node:net')
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}
