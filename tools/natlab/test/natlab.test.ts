/**
 * The NAT lab with real transport hosts: a relay on the public network, node A in home 1 and
 * node B in home 2, each behind its own NAT. Needs root (network namespaces); skipped with the
 * reason where they cannot be made.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  announcedIn,
  ADDRESSES,
  canCreateNamespaces,
  createNatLab,
  DCUTR_DEBUG,
  type DcutrOutcome,
  diagnoseDcutr,
  type HostEvent,
  LAB_PEER_SCRIPT,
  type LabHost,
  leftovers,
  listLabs,
  type NatLab,
  probeMapping,
  reaches,
  startLabHost,
  storedBy,
  TRANSPORT_HOST_SCRIPT,
  waitUntilReachable,
} from '../src/index.ts'

const check = await canCreateNamespaces()
if (!check.ok) console.warn(`[natlab] NAT-lab test skipped: ${check.reason}`)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

test('a bad tag is refused before anything is made', async () => {
  await expect(createNatLab({ tag: 'Bad!' })).rejects.toMatchObject({ name: 'InvalidTagError', code: 'invalid_tag' })
})

describe.skipIf(!check.ok)(`NAT lab${check.ok ? '' : ` (skipped: ${check.reason})`}`, () => {
  let lab: NatLab | undefined
  let relay: LabHost
  let a: LabHost
  let b: LabHost
  const relayAddr = () => `/ip4/${ADDRESSES.relay}/tcp/4001/p2p/${relay.peerId}`
  const circuitOf = (h: LabHost) => `${relayAddr()}/p2p-circuit/p2p/${h.peerId}`
  const hasAddr = (addr: string) => (e: HostEvent) => announcedIn(e)?.includes(addr) === true

  beforeAll(async () => {
    lab = await createNatLab()
    relay = await startLabHost(lab, 'relay', TRANSPORT_HOST_SCRIPT, ['--relay-server', '--listen', `/ip4/${ADDRESSES.relay}/tcp/4001`])
    // B: a transport host behind NAT 2 with a slot on the relay; A: the lab peer (stays up, sends on command)
    b = await startLabHost(lab, 'b', TRANSPORT_HOST_SCRIPT, ['--listen', `/ip4/${ADDRESSES.b}/tcp/4001`, '--relay', relayAddr()], { debug: DCUTR_DEBUG })
    a = await startLabHost(lab, 'a', LAB_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.a}/tcp/4001`, '--relay', relayAddr()], { debug: DCUTR_DEBUG })
    await b.waitFor(hasAddr(circuitOf(b)), { timeoutMs: 10_000 })
  }, 60_000)

  afterAll(async () => {
    await lab?.teardown()
  }, 30_000)

  test('the NAT routers map a LAN socket to one public port whatever it talks to (endpoint-independent)', async () => {
    for (const home of ['a', 'b'] as const) {
      const probe = await probeMapping(lab!, home)
      console.info(`[natlab] NAT in front of ${home}: ${JSON.stringify(probe)}`)
      const wan = home === 'a' ? ADDRESSES.nat1.wan : ADDRESSES.nat2.wan
      expect(probe.external.every((x) => x.startsWith(`${wan}:`))).toBe(true)
      expect(probe.mapping).toBe('endpoint-independent')
    }
  })

  test('a new lab is up: both homes reach the public network through their routers, and a path that is not there is named', async () => {
    // createNatLab waited for this; the relay's port 9 is closed, so the answer is a reset that came back through the NAT
    for (const home of ['a', 'b'] as const) expect(await reaches(lab!, home, ADDRESSES.relay)).toEqual({ ok: true, outcome: 'refused' })
    // the relay has no route into a home's LAN (private addresses are not routed on the public network)
    const none = await reaches(lab!, 'relay', ADDRESSES.b, { timeoutMs: 500 })
    expect(none.ok).toBe(false)
    await expect(waitUntilReachable(lab!, ['relay'], ADDRESSES.b, 300)).rejects.toThrow(
      expect.objectContaining({ name: 'LabSetupError', message: expect.stringMatching(new RegExp(`do not reach ${ADDRESSES.b.replaceAll('.', '\\.')} within 300 ms \\(relay: `)) }),
    )
  })

  test('run() refuses a node that is not in the lab', () => {
    expect(() => lab!.run('nowhere' as 'a', 'true')).toThrow(expect.objectContaining({ name: 'UnknownNodeError', code: 'unknown_node' }))
  })

  test('(a) no direct reachability: A cannot dial B at its private address nor at its router', async () => {
    const targets = [`/ip4/${ADDRESSES.b}/tcp/4001`, `/ip4/${ADDRESSES.nat2.wan}/tcp/4001`]
    const results = await Promise.all(
      targets.map(async (addr) => {
        const h = await startLabHost(lab!, 'a', TRANSPORT_HOST_SCRIPT, ['--listen', `/ip4/${ADDRESSES.a}/tcp/0`, '--send', b.peerId, '--to', `${addr}/p2p/${b.peerId}`])
        const r = await h.waitFor((e) => e.event === 'sent' || e.event === 'send-failed', { timeoutMs: 20_000 })
        await h.exited
        return r
      }),
    )
    expect(results[0]).toMatchObject({ event: 'send-failed', code: 'unreachable' })
    // the router drops unsolicited packets: the dial fails or times out, it never connects
    expect(results[1]).toMatchObject({ event: 'send-failed' })
    expect(['unreachable', 'timeout']).toContain(results[1]!.code)
    expect(b.events.filter((e) => e.event === 'connection' && e.peerId !== relay.peerId)).toEqual([])
  }, 30_000)

  test('(b) messages with acks through the relay; the relay sees each node at its NAT’s public address', async () => {
    const from = a.events.length
    a.command({ cmd: 'send', peerId: b.peerId, addrs: [circuitOf(b)], count: 5 })
    await a.waitFor((e) => e.event === 'send-done', { from, timeoutMs: 20_000 })
    const sent = a.events.slice(from).filter((e) => e.event === 'sent' || e.event === 'send-failed')
    expect(sent).toHaveLength(5)
    for (const s of sent) expect(s).toMatchObject({ event: 'sent', status: 'stored', connection: 'relayed' })
    // B's stdout can lag behind A's ACK lines on a loaded machine: wait for its lines first
    expect(await storedBy(b, a.peerId, sent.map((s) => String(s.id)))).toEqual(sent.map((s) => String(s.id)))
    const got = b.events.filter((e) => e.event === 'envelope' && e.from === a.peerId)
    expect(got).toHaveLength(5)
    for (const e of got) expect(e.connection).toBe('relayed')
    const opened = (h: LabHost, peer: string) => h.events.find((e) => e.event === 'connection' && e.type === 'open' && e.peerId === peer)
    expect(opened(b, a.peerId)).toMatchObject({ kind: 'relayed', direction: 'inbound' })
    expect(String(opened(relay, a.peerId)?.remoteAddr)).toMatch(new RegExp(`^/ip4/${ADDRESSES.nat1.wan}/tcp/\\d+/`))
    expect(String(opened(relay, b.peerId)?.remoteAddr)).toMatch(new RegExp(`^/ip4/${ADDRESSES.nat2.wan}/tcp/\\d+/`))
  }, 30_000)

  test('(c) DCUtR upgrades the relayed connection to direct, or the precise reason it did not', async ({ annotate }) => {
    let outcome: DcutrOutcome = diagnoseDcutr(a, b)
    for (let i = 0; i < 100 && (outcome.result === 'pending' || outcome.result === 'not-attempted'); i++) {
      await sleep(100)
      outcome = diagnoseDcutr(a, b)
    }
    const record = { result: outcome.result, reason: outcome.reason, observed: outcome.observed }
    console.info(`[natlab] DCUtR outcome: ${JSON.stringify(record)}\n${outcome.log.join('\n')}`)
    await annotate(`DCUtR: ${outcome.result}: ${outcome.reason}`)

    // messages still flow afterwards, over whatever connection DCUtR left
    const from = a.events.length
    a.command({ cmd: 'send', peerId: b.peerId, addrs: [circuitOf(b)], count: 3 })
    await a.waitFor((e) => e.event === 'send-done', { from, timeoutMs: 20_000 })
    const sent = a.events.slice(from).filter((e) => e.event === 'sent')
    expect(sent).toHaveLength(3)

    if (outcome.result === 'upgraded') {
      for (const s of sent) expect(s.connection).toBe('direct')
      return
    }
    // the one failure this lab is known to give (see the README); anything else is unexplained
    expect(outcome.result, outcome.log.join('\n')).toBe('no-dialable-addresses')
    for (const s of sent) expect(s.connection).toBe('relayed')
    expect(outcome.log.some((l) => l.includes('no public addresses, not attempting unilateral connection upgrade'))).toBe(true)
    expect(outcome.log.some((l) => l.includes('B had no dialable multiaddrs'))).toBe(true)
    // identify told A it was seen at NAT 1's public address (the mapping works), but libp2p
    // counts TEST-NET-2 as private and drops observed TCP addresses, so A never announces it
    const seenAt = outcome.observed.a.find((x) => x.startsWith(`/ip4/${ADDRESSES.nat1.wan}/tcp/`))
    expect(seenAt).toBeDefined()
    // …at the port of A's dial to the relay, not its listener's (4001): no port reuse in js TCP dials
    expect(seenAt).not.toMatch(/\/tcp\/4001\//)
    const aAddrs = a.events.flatMap((e) => announcedIn(e) ?? [])
    expect(aAddrs.some((x) => x.startsWith(`/ip4/${ADDRESSES.nat1.wan}/`))).toBe(false)
  }, 30_000)

  test('(d) teardown ends the hosts and leaves no namespace, veth or nft table behind', async () => {
    const l = lab!
    const tables = await l.exec('nat1', 'nft', ['list', 'tables'])
    expect(tables.stdout).toContain(l.names.table)
    const links = (await l.exec('internet', 'ip', ['-o', 'link', 'show'])).stdout
    for (const name of [l.names.links.bridge, l.names.links.relayPort, l.names.links.nat1WanPort, l.names.links.nat2WanPort]) expect(links).toContain(name)
    // while the lab is up, nothing of it is in the real machine's namespace
    const up = await leftovers(l.tag)
    expect(up.namespaces).toHaveLength(6)
    expect([up.links, up.tables]).toEqual([[], []])
    expect(await listLabs()).toContain(l.tag)
    await expect(createNatLab({ tag: l.tag })).rejects.toMatchObject({ name: 'LabSetupError', code: 'setup_failed' })
    await l.teardown()
    expect(await leftovers(l.tag)).toEqual({ namespaces: [], links: [], tables: [] })
    expect(await listLabs()).not.toContain(l.tag)
    for (const h of [relay, a, b]) expect(h.process.exitCode !== null || h.process.signalCode !== null).toBe(true)
  }, 30_000)

  test('natlab down --tag removes a lab left behind, with a process still inside', async () => {
    const left = await createNatLab()
    // a process the lab object does not know of, as a crashed test would leave
    const stray = spawn('ip', ['netns', 'exec', left.namespaces.b, 'sleep', '600'], { stdio: 'ignore' })
    try {
      await sleep(200)
      const down = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, ['--conditions=@baran/source', CLI, 'down', '--tag', left.tag], { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString()
        })
        p.on('exit', (code) => resolve({ code, out }))
      })
      expect(down.code).toBe(0)
      expect(JSON.parse(down.out).removed[left.tag]).toHaveLength(6)
      expect(await leftovers(left.tag)).toEqual({ namespaces: [], links: [], tables: [] })
      await sleep(100)
      expect(stray.exitCode !== null || stray.signalCode !== null).toBe(true)
    } finally {
      stray.kill('SIGKILL')
      await left.teardown().catch(() => {})
    }
  }, 30_000)
})
