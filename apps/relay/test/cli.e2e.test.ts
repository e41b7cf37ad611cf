/**
 * The relay as a user runs it: `baran relay` (and `npm run relay`'s main.ts) as real processes, and two real
 * Baran nodes that know nothing but the relay's addresses finding each other through its DHT and delivering
 * a message with `baran send`.
 */
import { discoveryLookup, identityStatus, outboxInbox, transportInfo } from '@baran/bus'
import { Cleanup, type SpawnedProcess, spawnProcess, tempDir, waitUntil } from '@baran/testkit'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI, cli, startNode, type TestNode } from '../../node/test/helpers.ts'
import { RELAY_INFO_FILE } from '../src/index.ts'

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))
const cleanup = new Cleanup()
afterAll(() => cleanup.run())

interface Printed {
  relay: string[]
  dht: string[]
}

/** Starts a relay process and waits for its address lines (`relay <ma>`, `dht <ma>`). */
async function runRelay(entry: string, args: string[]): Promise<{ proc: SpawnedProcess; addrs: Printed }> {
  const proc = spawnProcess(entry, { cleanup, args })
  const addrs = await waitUntil(
    () => {
      if (proc.child.exitCode !== null) throw new Error(`the relay exited: ${proc.output.join('\n')}`)
      if (!proc.output.some((l) => l.startsWith('relay ready'))) return undefined
      const pick = (role: string) => proc.output.filter((l) => l.startsWith(`${role} /`)).map((l) => l.slice(role.length + 1))
      return { relay: pick('relay'), dht: pick('dht') }
    },
    { timeoutMs: 30_000, what: 'relay address lines' },
  )
  return { proc, addrs }
}

describe('baran relay', () => {
  it('prints each full multiaddr on its own line once ready, and stops cleanly on SIGTERM', async () => {
    const dir = join(await tempDir(cleanup, 'baran-relay-'), 'r')
    const { proc, addrs } = await runRelay(CLI, ['relay', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect(addrs.relay).toHaveLength(1)
    expect(addrs.dht).toHaveLength(1)
    expect(addrs.relay[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo\w+$/)
    expect(addrs.dht[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo\w+$/)
    const info = JSON.parse(await readFile(join(dir, RELAY_INFO_FILE), 'utf8')) as { pid: number; relay: string[]; dht: string[] }
    expect(info).toMatchObject({ pid: proc.pid, relay: addrs.relay, dht: addrs.dht })

    // a second relay on the same data dir would share its PeerIds: refused
    const twin = await cli(cleanup, ['relay', '--data-dir', dir])
    expect(twin.code).toBe(1)
    expect(twin.out).toMatch(/already runs on/)

    expect(await proc.stop('SIGTERM', 15_000)).toEqual({ code: 0, signal: null })
    await expect(stat(join(dir, RELAY_INFO_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readFile(join(dir, 'relay.log'), 'utf8')).toMatch(/"msg":"relay stopped"/)
  }, 60_000)

  it('runs on its own as `npm run relay` (main.ts), with --json, and keeps its PeerIds', async () => {
    const dir = join(await tempDir(cleanup, 'baran-relay-'), 'r')
    const first = spawnProcess(MAIN, { cleanup, args: ['--data-dir', dir, '--json'] })
    const line = await waitUntil(() => first.output.find((l) => l.startsWith('{')), { timeoutMs: 30_000, what: 'JSON line' })
    const info = JSON.parse(line) as { peerIds: { relay: string; dht: string }; relay: string[]; dht: string[] }
    expect(info.relay.every((a) => a.endsWith(`/p2p/${info.peerIds.relay}`))).toBe(true)
    expect(info.dht.every((a) => a.endsWith(`/p2p/${info.peerIds.dht}`))).toBe(true)
    expect((await first.stop('SIGINT', 15_000)).code).toBe(0)
    const second = await runRelay(MAIN, ['--data-dir', dir])
    expect(second.addrs.relay.every((a) => a.endsWith(`/p2p/${info.peerIds.relay}`))).toBe(true)
    await second.proc.stop('SIGTERM', 15_000)
  }, 60_000)

  it('refuses bad flags with a usage error (exit 2) that names the flag', async () => {
    const cases: Array<{ args: string[]; says: RegExp }> = [
      { args: ['relay', '--listen', 'localhost:4001'], says: /--listen: "localhost:4001" is not a listen multiaddr/ },
      { args: ['relay', '--max-reservations', 'lots'], says: /--max-reservations/ },
      { args: ['relay', '--data-limit', '1.5 parsecs'], says: /--data-limit/ },
      { args: ['relay', '--name-server'], says: /--name-server needs --rpc-url and --registry/ },
      { args: ['relay', '--registry', '0x00'], says: /go with --name-server/ },
      { args: ['relay', '--bogus'], says: /unknown option '--bogus'/ },
    ]
    const dir = await tempDir(cleanup, 'baran-relay-')
    for (const c of cases) {
      const r = await cli(cleanup, [...c.args, '--data-dir', join(dir, 'x')])
      expect(r.code, `${c.args.join(' ')}: ${r.out}`).toBe(2)
      expect(r.out).toMatch(c.says)
    }
    const own = spawnProcess(MAIN, { cleanup, args: ['--bogus'] })
    expect((await own.exited).code).toBe(2)
    expect(own.output.join('\n')).toMatch(/Unknown option '--bogus'/)
  }, 60_000)
})

describe('two nodes that know only the relay', () => {
  it('find each other through its DHT and deliver a message (baran send to the account ID)', async () => {
    const { addrs } = await runRelay(CLI, ['relay', '--data-dir', join(await tempDir(cleanup, 'baran-relay-'), 'r')])
    const relayPeer = addrs.relay[0]!.split('/p2p/')[1]!
    const config = { discovery: { bootstrap: addrs.dht }, transport: { relays: [addrs.relay[0]!] } }
    const a = await startNode(cleanup, config, { name: 'alice', args: ['--create-account'] })
    const b = await startNode(cleanup, config, { name: 'bob', home: a.home, args: ['--create-account'] })
    cleanup.add('stop nodes', async () => {
      for (const n of [b, a]) await n.proc.stop('SIGTERM', 20_000)
    })
    const accountOf = (n: TestNode) =>
      waitUntil(async () => (await n.bus.request(identityStatus, {})).account?.accountId, { timeoutMs: 30_000, what: `${n.node}'s account` })
    const bob = await accountOf(b)
    await accountOf(a)
    // both hold a reservation on the relay (their presence carries the circuit address)
    for (const n of [a, b]) {
      await waitUntil(async () => (await n.bus.request(transportInfo, {})).relayAddrs.some((x) => x.includes(`/p2p/${relayPeer}/p2p-circuit`)), {
        timeoutMs: 30_000,
        what: `${n.node}'s reservation`,
      })
    }
    // Alice finds Bob's devices and addresses on the DHT she joined through the relay
    const found = await waitUntil(
      async () => {
        const r = await a.bus.request(discoveryLookup, { accountId: bob, fresh: true })
        return r.devices.some((d) => d.addrs.some((x) => x.includes('/p2p-circuit'))) ? r : undefined
      },
      { timeoutMs: 45_000, what: "bob's presence on alice's DHT" },
    )
    expect(found.accountId).toBe(bob)

    const sent = await cli(cleanup, ['send', bob, 'hello through the relay’s DHT', '--data-dir', a.dataDir])
    expect(sent.code, sent.out).toBe(0)
    const id = sent.out.trim().split('\n').at(-1)!
    const got = await waitUntil(
      async () => (await b.bus.request(outboxInbox, { limit: 100 })).messages.find((m) => m.id === id),
      { timeoutMs: 45_000, what: 'the message in bob’s inbox' },
    )
    expect(got).toMatchObject({ body: 'hello through the relay’s DHT' })
  }, 180_000)
})
