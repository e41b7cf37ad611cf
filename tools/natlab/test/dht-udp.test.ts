/**
 * The DHT's rpc in UDP datagrams across the lab's routers: a discovery node on the public network, one in home 1
 * (behind its router) and one in home 2 (behind its router and a carrier-grade NAT, 100.64.0.0/10). The homes dial
 * out, so their requests to the public node go by datagram through both NATs (the public node takes them: they come
 * from the address the home's TCP connection comes from). The public node's own link to a home gets datagrams only
 * once the home's datagrams opened its router (it lets in only replies): its first offer fails, and a later one
 * (the rpc offers again after a failed one) goes through.
 * Needs root; skipped with the reason otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADDRESSES, canCreateNamespaces, createNatLab, DHT_PEER_SCRIPT, type HostEvent, type LabHost, type NatLab, startLabHost } from '../src/index.ts'

const check = await canCreateNamespaces()
if (!check.ok) console.warn(`[natlab] DHT datagram test skipped: ${check.reason}`)

interface Udp {
  sent: number
  received: number
  links: number
  dropped: Record<string, number>
}

describe.skipIf(!check.ok)(`DHT rpc in datagrams through NATs${check.ok ? '' : ` (skipped: ${check.reason})`}`, () => {
  let lab: NatLab | undefined
  let pub: LabHost
  let a: LabHost
  let b: LabHost

  /** Send a command and wait for its answer line (the next `event` line after those already printed). */
  async function ask(h: LabHost, cmd: object, event: string): Promise<HostEvent> {
    const from = h.events.length
    h.command(cmd)
    const e = await h.waitFor((x) => x.event === event || x.event === 'error', { from, timeoutMs: 20_000 })
    if (e.event === 'error') throw new Error(`${JSON.stringify(cmd)}: ${String(e.message)}`)
    return e
  }
  const udp = async (h: LabHost) => (await ask(h, { cmd: 'stats' }, 'stats')).udp as Udp

  beforeAll(async () => {
    lab = await createNatLab({ nats: { cgnat: true } })
    // The public node offers its links a new session a second after one failed (30 s by default).
    pub = await startLabHost(lab, 'relay', DHT_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.relay}/tcp/4101`, '--udp-retry-ms', '1000'])
    const boot = `/ip4/${ADDRESSES.relay}/tcp/4101/p2p/${pub.peerId}`
    a = await startLabHost(lab, 'a', DHT_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.a}/tcp/4101`, '--bootstrap', boot])
    b = await startLabHost(lab, 'b', DHT_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.b}/tcp/4101`, '--bootstrap', boot])
  }, 90_000)

  afterAll(async () => {
    await lab?.teardown()
  }, 30_000)

  test('homes behind a NAT and behind two reach the public node in datagrams; a put from one is got by the other', async () => {
    for (const h of [a, b]) await expect.poll(async () => (await udp(h)).links, { timeout: 20_000, interval: 250 }).toBe(1)
    const id = 'ab'.repeat(20)
    const before = { a: await udp(a), b: await udp(b) }
    expect((await ask(a, { cmd: 'put', id, value: 'through two NATs' }, 'put')).stored).toBeGreaterThanOrEqual(1)
    expect((await ask(b, { cmd: 'get', id }, 'get')).value).toBe('through two NATs')
    const after = { a: await udp(a), b: await udp(b) }
    expect(after.a.sent).toBeGreaterThan(before.a.sent)
    expect(after.a.received).toBeGreaterThan(before.a.received)
    expect(after.b.sent).toBeGreaterThan(before.b.sent)
    expect(after.b.received).toBeGreaterThan(before.b.received)
    const p = await udp(pub)
    // Every datagram the public node got came from its peer's address and opened.
    expect(p.dropped).toEqual({ short: 0, session: 0, address: 0, auth: 0, replay: 0 })
    expect(p.received).toBeGreaterThan(0)
  }, 60_000)

  test("the public node's own links to the homes go by datagram too once the homes' datagrams opened their routers", async () => {
    // Its first offer's ping was dropped by each router (nothing had gone out to it yet); offered again, the ping comes
    // back through the mapping the home's own session keeps open (its router preserves the UDP port).
    await expect.poll(async () => (await udp(pub)).links, { timeout: 40_000, interval: 500 }).toBe(2)
    const before = await udp(pub)
    expect((await ask(pub, { cmd: 'get', id: 'ab'.repeat(20) }, 'get')).value).toBe('through two NATs')
    const after = await udp(pub)
    expect(after.sent).toBeGreaterThan(before.sent)
    expect(after.received).toBeGreaterThan(before.received)
  }, 60_000)
})
