/**
 * Two machines on one LAN, each a network namespace on one bridge, each running `baran start --create-account` with
 * its own BARAN_HOME and no configuration at all (no bootstrap, no relay, no STUN: nothing public, nothing named).
 * They listen on every interface, meet by mDNS (the only way they can: each is alone in its local network), and a
 * message goes from one to the other over a direct TCP connection on the LAN. The second host has IPv6 turned off:
 * the node says so and runs on IPv4. Each says why it is not reachable from outside; a node whose relay cannot be
 * reached still works on its LAN and names that relay. The bus (nats-server) listens on loopback only.
 */
import { Cleanup, tempDir } from '@baran/testkit'
import { canCreateNamespaces } from '@baran/natlab'
import { peerIdOf, generateHostKey } from '@baran/transport'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { actorLog } from './helpers.ts'
import { accountOf, cliIn, createLan, type Lan, type LanHost, type LanNode, startNodeIn, statusOf, transportPeerOf, waitForMessage } from './lan-lab.ts'

const check = await canCreateNamespaces()
const cleanup = new Cleanup()
afterAll(() => cleanup.run())

/** True when a TCP connection to host:port is accepted from inside `from`'s namespace. */
async function tcpOpen(lan: Lan, from: LanHost, host: string, port: number): Promise<boolean> {
  const script = `const s=require('node:net').connect({host:'${host}',port:${port},timeout:3000});s.on('connect',()=>{console.log('open');s.destroy()});s.on('error',()=>console.log('closed'));s.on('timeout',()=>{console.log('closed');s.destroy()})`
  return (await lan.exec(from, process.execPath, ['-e', script])).trim() === 'open'
}

describe.skipIf(!check.ok)(`a LAN of two namespaces${check.ok ? '' : ` (skipped: ${check.reason})`}`, () => {
  let lan: Lan
  let a: LanNode
  let b: LanNode

  it('two nodes with no configuration meet by mDNS and exchange a message over a direct TCP connection', async () => {
    lan = await createLan(cleanup, [{}, { ipv6: false }])
    const [hostA, hostB] = lan.hosts as [LanHost, LanHost]
    // One after the other: two nodes (14 processes and two chains) starting at once on a busy 2-core machine can
    // outlast the supervisor's 60 s start budget.
    a = await startNodeIn(cleanup, hostA, await tempDir(cleanup, 'baran-lan-a-'))
    b = await startNodeIn(cleanup, hostB, await tempDir(cleanup, 'baran-lan-b-'))
    const bob = await accountOf(cleanup, b)
    const alice = await accountOf(cleanup, a)

    const sent = await cliIn(cleanup, hostA, ['send', bob, 'salam over the LAN'], a.env)
    expect(sent.code, sent.out).toBe(0)
    await waitForMessage(cleanup, b, 'salam over the LAN')
    const back = await cliIn(cleanup, hostB, ['send', alice, 'salam back'], b.env)
    expect(back.code, back.out).toBe(0)
    await waitForMessage(cleanup, a, 'salam back')

    // They met by mDNS: neither has a bootstrap peer (each owns its own local network), and the one that heard of the
    // other first (the later one, answered by the earlier one) says so; the other was dialled before its next query.
    const heard = await Promise.all([a, b].map(async (n) => (await actorLog(n, 'discovery')).some((l) => l.msg === 'peer found by mDNS: dialling it')))
    expect(heard).toContain(true)
    for (const n of [a, b]) expect((await actorLog(n, 'discovery')).findLast((l) => l.msg === 'DHT node up')).toMatchObject({ bootstrap: 0, mdns: true })
    // Direct TCP between the two LAN addresses, not through a relay.
    const bobPeer = await transportPeerOf(b)
    const toBob = (await statusOf(cleanup, a)).connections.list.filter((c) => c.peerId === bobPeer)
    expect(toBob.length).toBeGreaterThan(0)
    for (const c of toBob) {
      expect(c).toMatchObject({ kind: 'direct', path: 'tcp' })
      expect(c.remoteAddr).toContain(`/ip4/${hostB.addr}/tcp/`)
    }

    // Listening on every interface, announcing only what others can use: the LAN address, never loopback or link-local.
    const up = (await actorLog(a, 'transport')).findLast((l) => l.msg === 'libp2p host listening')
    const addrs = (up?.addrs ?? []) as string[]
    expect(addrs.some((x) => x.startsWith(`/ip4/${hostA.addr}/tcp/`))).toBe(true)
    expect(addrs.filter((x) => /\/ip4\/127\.|\/ip6\/::1\/|\/ip6\/fe80/.test(x))).toEqual([])
    // The listen ports are kept in the data dir.
    const ports = JSON.parse(await readFile(join(a.dataDir, 'transport', 'ports.json'), 'utf8')) as { ports: Record<string, number> }
    expect(Object.keys(ports.ports)).toContain('/ip4/0.0.0.0/tcp/0')
    // No IPv6 on B's host (turned off by sysctl): a log line, and the node runs on IPv4.
    const ipv6Lines = ['IPv6 is not available on this machine: listening on IPv4 only', 'no IPv6 address on this machine: reachable on IPv4 only for now']
    for (const actor of ['transport', 'discovery']) expect((await actorLog(b, actor)).some((l) => ipv6Lines.includes(String(l.msg)))).toBe(true)
    expect((await actorLog(a, 'transport')).some((l) => ipv6Lines.includes(String(l.msg)))).toBe(false)
  }, 420_000)

  it('says why it is not reachable from outside: no relay, no public address, no STUN server, no UPnP', async () => {
    const s = await statusOf(cleanup, a)
    expect(s.connections.reachability).toMatchObject({ fromOutside: false, publicAddrs: [] })
    const why = s.connections.reachability?.why.join('; ') ?? ''
    expect(why).toMatch(/no relay configured/)
    expect(why).toMatch(/no public address \(only private\)/)
    expect(why).toMatch(/no STUN server/)
    expect(why).toMatch(/UPnP: /)
    const plain = await cliIn(cleanup, a.host, ['status'], a.env)
    expect(plain.out).toMatch(/not reachable from outside: no relay configured.*no public address/)
  }, 60_000)

  it('the bus listens on loopback only: nats-server is not reachable from the LAN', async () => {
    for (const n of [a, b]) {
      const info = JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busUrl: string; busPid: number }
      const port = Number(new URL(info.busUrl).port)
      expect(new URL(info.busUrl).hostname).toBe('127.0.0.1')
      // every listening socket of nats-server in that namespace is on 127.0.0.1
      const ss = await lan.exec(n.host, 'ss', ['-Hltnp'])
      const nats = ss.split('\n').filter((l) => l.includes(`pid=${info.busPid},`))
      expect(nats.length).toBeGreaterThan(0)
      for (const line of nats) expect(line).toMatch(/\s127\.0\.0\.1:\d+\s/)
      const other = n === a ? b : a
      expect(await tcpOpen(lan, other.host, n.host.addr, port)).toBe(false)
      expect(await tcpOpen(lan, n.host, '127.0.0.1', port)).toBe(true)
    }
  }, 60_000)

  it('a node whose relay cannot be reached still works on its LAN and names that relay in its status', async () => {
    await b.stop()
    // a relay nobody runs, on an address of the LAN that no host has
    const relay = `/ip4/10.77.0.250/tcp/4002/p2p/${peerIdOf(await generateHostKey())}`
    b = await startNodeIn(cleanup, b.host, b.home, { BARAN_TRANSPORT_RELAYS: relay })
    const s = await statusOf(cleanup, b)
    expect(s.connections.reachability).toMatchObject({ fromOutside: false, relays: [{ relay, reserved: false }] })
    expect(s.connections.reachability?.why.join('; ')).toContain(`relay ${relay} unreachable`)
    const json = await cliIn(cleanup, b.host, ['status'], b.env)
    expect(json.out).toContain(`not reachable from outside: relay ${relay} unreachable`)

    await cliIn(cleanup, a.host, ['send', await accountOf(cleanup, b), 'still here on the LAN'], a.env)
    await waitForMessage(cleanup, b, 'still here on the LAN')
  }, 240_000)
})
