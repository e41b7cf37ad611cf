import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readAddressList, stableListen } from '../src/index.ts'

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

  it('first run: listens as configured, then saves the ports each /tcp/0 address got', async () => {
    const file = join(await dir(), 'd', 'ports.json')
    const first = await stableListen(file, configured, log)
    expect(first).toMatchObject({ listen: configured, reused: false })
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
    expect(again.reused).toBe(true)
    expect(again.configured).toEqual(configured)
  })

  it('a saved port that is taken now: a new one for that address, with a log line that says so', async () => {
    const { port } = await listening()
    const file = join(await dir(), 'ports.json')
    await writeFile(file, JSON.stringify({ ports: { '/ip4/127.0.0.1/tcp/0': port } }))
    warnings.length = 0
    const r = await stableListen(file, ['/ip4/127.0.0.1/tcp/0'], log)
    expect(r).toMatchObject({ listen: ['/ip4/127.0.0.1/tcp/0'], reused: false })
    expect(warnings.join('\n')).toMatch(new RegExp(`port ${port} .* is taken: listening on a new port`))
  })

  it('a corrupt ports file is a first run, not an error', async () => {
    const file = join(await dir(), 'ports.json')
    await writeFile(file, '{not json')
    expect((await stableListen(file, configured)).listen).toEqual(configured)
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
