import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readAddressList, stableListen } from '../src/index.ts'
import { ephemeralPortsFrom, freeOwnPort, OWN_PORTS_FROM } from '../src/lib/stable-ports.ts'

const dirs: string[] = []
const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})
async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'baran-ports-'))
  dirs.push(d)
  return d
}
/** A server listening on a random loopback port (what a host bound). */
function listening(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer()
    servers.push(server)
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve({ server, port: (server.address() as { port: number }).port }))
  })
}
const warnings: string[] = []
const log = { info() {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') }

describe('stableListen', () => {
  const configured = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/tcp/4999']

  it('first run: each /tcp/0 address gets a free port of its own below the ephemeral range, then the ports it got are saved', async () => {
    const file = join(await dir(), 'd', 'ports.json')
    const first = await stableListen(file, configured, log)
    expect(first.ownPorts).toBe(true)
    expect(first.saved).toEqual([])
    expect(first.configured).toEqual(configured)
    const ports = first.listen.slice(0, 2).map((a) => Number(/\/tcp\/(\d+)/.exec(a)?.[1]))
    expect(first.listen).toEqual([`/ip4/127.0.0.1/tcp/${ports[0]}`, `/ip4/127.0.0.1/tcp/${ports[1]}/ws`, '/ip4/127.0.0.1/tcp/4999'])
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(OWN_PORTS_FROM)
      expect(p).toBeLessThan(ephemeralPortsFrom())
    }
    expect(ports[0]).not.toBe(ports[1])
    await first.save(['/ip4/127.0.0.1/tcp/40001/p2p/12D3KooWabc', '/ip4/127.0.0.1/tcp/40002/ws/p2p/12D3KooWabc', '/ip4/127.0.0.1/tcp/4999/p2p/x', '/ip4/127.0.0.1/tcp/9/p2p/R/p2p-circuit/p2p/x'])
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ ports: { '/ip4/127.0.0.1/tcp/0': 40001, '/ip4/127.0.0.1/tcp/0/ws': 40002 } })
  })

  it('next run: asks for the saved ports again, each in its own address', async () => {
    // Two ports that were in use and are free again (the actor was killed).
    const [a, b] = [await listening(), await listening()]
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
    const file = join(await dir(), 'ports.json')
    await writeFile(file, JSON.stringify({ ports: { '/ip4/127.0.0.1/tcp/0': a.port, '/ip4/127.0.0.1/tcp/0/ws': b.port } }))
    const again = await stableListen(file, configured, log)
    expect(again.listen).toEqual([`/ip4/127.0.0.1/tcp/${a.port}`, `/ip4/127.0.0.1/tcp/${b.port}/ws`, '/ip4/127.0.0.1/tcp/4999'])
    expect(again.ownPorts).toBe(true)
    expect(again.saved).toEqual([`/ip4/127.0.0.1/tcp/${a.port}`, `/ip4/127.0.0.1/tcp/${b.port}/ws`])
    expect(again.configured).toEqual(configured)
  })

  it('a saved port that is taken now: a new one for that address, with a log line that says so', async () => {
    const { port } = await listening()
    const file = join(await dir(), 'ports.json')
    await writeFile(file, JSON.stringify({ ports: { '/ip4/127.0.0.1/tcp/0': port } }))
    warnings.length = 0
    const r = await stableListen(file, ['/ip4/127.0.0.1/tcp/0'], log)
    expect(r.listen).toHaveLength(1)
    expect(r.listen[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(r.listen[0]).not.toBe(`/ip4/127.0.0.1/tcp/${port}`)
    expect(r.saved).toEqual([])
    expect(warnings.join('\n')).toMatch(new RegExp(`port ${port} .* is taken: listening on a new port`))
  })

  it('a port of its own: below the kernel’s ephemeral range, never one this start asked for or one in use; none found, none given', async () => {
    const dirPath = await dir()
    const range = join(dirPath, 'range')
    await writeFile(range, '20000\t60999\n')
    expect(ephemeralPortsFrom(range)).toBe(20_000)
    await writeFile(range, 'junk')
    expect(ephemeralPortsFrom(range)).toBe(32_768)
    expect(ephemeralPortsFrom(join(dirPath, 'missing'))).toBe(32_768)
    // draws in order: the port in use and the one to avoid are refused, the third (free again) is taken
    const { port: busy } = await listening()
    const [avoided, free] = [await listening(), await listening()]
    for (const s of [avoided.server, free.server]) await new Promise((r) => s.close(r))
    const draws = [busy, avoided.port, free.port]
    const below = 65_536
    const drawing = (port: number) => (port - OWN_PORTS_FROM + 0.5) / (below - OWN_PORTS_FROM)
    let i = 0
    expect(await freeOwnPort('127.0.0.1', new Set([avoided.port]), () => drawing(draws[Math.min(i++, 2)] as number), below)).toBe(free.port)
    // no room below the range, or every try taken
    expect(await freeOwnPort('127.0.0.1', new Set(), Math.random, OWN_PORTS_FROM)).toBeUndefined()
    expect(await freeOwnPort('127.0.0.1', new Set(), () => drawing(busy), below)).toBeUndefined()
  })

  it('a corrupt ports file is a first run, not an error', async () => {
    const file = join(await dir(), 'ports.json')
    await writeFile(file, '{not json')
    const r = await stableListen(file, configured)
    expect(r.listen).toHaveLength(3)
    expect(r.listen[2]).toBe('/ip4/127.0.0.1/tcp/4999')
    expect(r.listen.slice(0, 2).every((a) => !a.includes('/tcp/0'))).toBe(true)
  })

  it('0.0.0.0 takes the port bound on any interface of the same family and kind', async () => {
    const file = join(await dir(), 'ports.json')
    const r = await stableListen(file, ['/ip4/0.0.0.0/tcp/0'])
    await r.save(['/ip4/10.0.0.5/tcp/40021/p2p/x', '/ip4/127.0.0.1/tcp/40021/p2p/x'])
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ ports: { '/ip4/0.0.0.0/tcp/0': 40021 } })
  })
})

describe('readAddressList', () => {
  it('reads a key of a JSON file; a missing file is empty; strings that are not multiaddrs are left out', async () => {
    const file = join(await dir(), 'localnet.json')
    expect(await readAddressList(file, 'bootstrap')).toEqual([])
    await writeFile(file, JSON.stringify({ bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/x', 'nope', 7], relays: [] }))
    expect(await readAddressList(file, 'bootstrap')).toEqual(['/ip4/127.0.0.1/tcp/1/p2p/x'])
    expect(await readAddressList(file, 'relays')).toEqual([])
    expect(await readAddressList(file, 'other')).toEqual([])
    await writeFile(file, '{broken')
    await expect(readAddressList(file, 'bootstrap')).rejects.toThrow(SyntaxError)
  })
})
