import { Cleanup, tempDir } from '@baran/testkit'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultRelayDataDir, RELAY_INFO_FILE, RelayExit, relayCommand, relayInitFrom } from '../src/index.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const PEER = '12D3KooWLBdzDQfHPL2qsdm29f2UNJKknNqrY7TYLFnaVc2ZWLrd'
const REGISTRY = `0x${'ab'.repeat(20)}`

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (d: Buffer) => {
    text += d.toString()
  })
  return { stream, text: () => text }
}

describe('relayInitFrom', () => {
  it('defaults to $BARAN_HOME/relay and the library defaults', async () => {
    expect(defaultRelayDataDir({ BARAN_HOME: '/srv/baran' })).toBe('/srv/baran/relay')
    expect(await relayInitFrom({}, { BARAN_HOME: '/srv/baran' })).toEqual({ dataDir: '/srv/baran/relay' })
  })

  it('maps every flag', async () => {
    const dir = await tempDir(cleanup)
    const keyFile = join(dir, 'key')
    await writeFile(keyFile, `${'11'.repeat(32)}\n`)
    const init = await relayInitFrom({
      dataDir: 'rel/dir',
      listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4003/ws'],
      dhtListen: ['/ip4/0.0.0.0/tcp/4002'],
      bootstrap: [`/ip4/10.0.0.1/tcp/4002/p2p/${PEER}`],
      maxReservations: '64',
      dataLimit: '16MiB',
      durationLimit: '10m',
      nameServer: true,
      rpcUrl: 'http://127.0.0.1:8545',
      registry: REGISTRY,
      keyFile,
      nameServerHost: '0.0.0.0',
      nameServerPort: '8080',
    })
    expect(init).toEqual({
      dataDir: join(process.cwd(), 'rel/dir'),
      listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4003/ws'],
      dhtListen: ['/ip4/0.0.0.0/tcp/4002'],
      bootstrap: [`/ip4/10.0.0.1/tcp/4002/p2p/${PEER}`],
      maxReservations: 64,
      limits: { dataBytes: 16 * 1024 * 1024, durationMs: 600_000 },
      nameServer: { rpcUrl: 'http://127.0.0.1:8545', registry: REGISTRY, host: '0.0.0.0', port: 8080, privateKey: `0x${'11'.repeat(32)}` },
    })
    expect((await relayInitFrom({ unlimited: true })).limits).toBe(false)
  })

  it('refuses contradictions and bad values with a typed error naming the flag', async () => {
    const dir = await tempDir(cleanup)
    await writeFile(join(dir, 'bad-key'), 'hunter2')
    const cases: Array<[object, RegExp]> = [
      [{ unlimited: true, dataLimit: '1MiB' }, /--unlimited/],
      [{ registry: REGISTRY }, /go with --name-server/],
      [{ nameServer: true, rpcUrl: 'http://x' }, /needs --rpc-url and --registry/],
      [{ nameServer: true, rpcUrl: 'ftp://x', registry: REGISTRY }, /--rpc-url/],
      [{ nameServer: true, rpcUrl: 'http://x', registry: '0x12' }, /--registry/],
      [{ nameServer: true, rpcUrl: 'http://x', registry: REGISTRY, keyFile: join(dir, 'none') }, /--key-file: cannot read/],
      [{ nameServer: true, rpcUrl: 'http://x', registry: REGISTRY, keyFile: join(dir, 'bad-key') }, /does not hold a hex private key/],
      [{ nameServer: true, rpcUrl: 'http://x', registry: REGISTRY, nameServerPort: '70000' }, /--name-server-port/],
      [{ listen: ['nope'] }, /--listen/],
      [{ dhtListen: ['/ip4/1.2.3.4/udp/1'] }, /--dht-listen/],
      [{ bootstrap: ['/ip4/1.2.3.4/tcp/1'] }, /--bootstrap/],
      [{ maxReservations: '0' }, /--max-reservations/],
    ]
    for (const [opts, says] of cases) {
      const e = await relayInitFrom(opts).catch((err: unknown) => err)
      expect(e, JSON.stringify(opts)).toMatchObject({ name: 'InvalidRelayOptionError', code: 'invalid_option' })
      expect((e as Error).message).toMatch(says)
    }
  })
})

describe('relayCommand', () => {
  it('prints one line per address once ready, writes relay.json while it runs, and stops when told', async () => {
    const dataDir = join(await tempDir(cleanup), 'relay')
    const out = sink()
    const err = sink()
    let stop!: () => void
    const until = new Promise<void>((r) => {
      stop = r
    })
    const running = relayCommand({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'] }, { stdout: out.stream, stderr: err.stream, until })
    const info = await (async () => {
      for (let i = 0; i < 200; i++) {
        const text = await readFile(join(dataDir, RELAY_INFO_FILE), 'utf8').catch(() => '')
        if (text) return JSON.parse(text) as { pid: number; relay: string[]; dht: string[]; stun: string }
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error('no relay.json')
    })()
    expect(info.pid).toBe(process.pid)
    expect(info.stun).toMatch(/^stun:127\.0\.0\.1:\d+$/)
    expect(out.text().trim().split('\n')).toEqual([...info.relay.map((a) => `relay ${a}`), ...info.dht.map((a) => `dht ${a}`), `stun ${info.stun}`])
    expect(err.text()).toMatch(/relay ready: up to 256 reservations, 64 MiB and 30 min per relayed connection/)
    stop()
    expect(await running).toBe(RelayExit.Ok)
    await expect(stat(join(dataDir, RELAY_INFO_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readFile(join(dataDir, 'relay.log'), 'utf8')).toMatch(/"msg":"relay ready"[\s\S]*"msg":"relay stopped"/)
  })

  it('returns 2 for a usage error and 1 when it cannot start, with what to do next', async () => {
    const dir = await tempDir(cleanup)
    const err = sink()
    expect(await relayCommand({ dataDir: dir, dataLimit: 'huge' }, { stderr: err.stream, until: Promise.resolve() })).toBe(RelayExit.Usage)
    expect(err.text()).toMatch(/error: --data-limit: "huge" is not[\s\S]*hint: see `baran relay --help`/)
    const err2 = sink()
    await writeFile(join(dir, 'relay.key'), 'garbage')
    expect(await relayCommand({ dataDir: dir }, { stderr: err2.stream, until: Promise.resolve() })).toBe(RelayExit.Error)
    expect(err2.text()).toMatch(/relay\.key does not hold a libp2p private key/)
  })
})
