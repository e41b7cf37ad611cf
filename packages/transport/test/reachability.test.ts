import { describe, expect, it } from 'vitest'
import { reachabilityOf } from '../src/lib/reachability.ts'

const RELAY = '/ip4/198.51.100.10/tcp/4002/p2p/12D3KooWRelay'
const base = { addrs: ['/ip4/10.0.0.2/tcp/4002/p2p/12D3KooWMe'], relays: [], iceServers: [], upnp: undefined, relayServer: false }

describe('reachabilityOf', () => {
  it('a node on a private LAN with nothing configured: not reachable from outside, one reason per missing way in', () => {
    const r = reachabilityOf(base)
    expect(r.fromOutside).toBe(false)
    expect(r.why).toEqual([
      'no relay configured',
      'no public address (only private)',
      'no STUN server (they come from the relays)',
      'UPnP: off (transport.upnp is false)',
    ])
  })

  it('names each relay it holds no reservation on', () => {
    const r = reachabilityOf({ ...base, relays: [{ relay: RELAY, reserved: false }], iceServers: ['stun:198.51.100.10:3478'] })
    expect(r.fromOutside).toBe(false)
    expect(r.why).toContain(`relay ${RELAY} unreachable (no reservation)`)
    expect(r.why.join()).not.toMatch(/no STUN/)
  })

  it('a reservation on a public relay makes it reachable; one on a LAN relay does not', () => {
    const onPublic = reachabilityOf({ ...base, addrs: [...base.addrs, `${RELAY}/p2p-circuit/p2p/12D3KooWMe`], relays: [{ relay: RELAY, reserved: true }] })
    expect(onPublic).toMatchObject({ fromOutside: true, why: [] })
    const lanRelay = '/ip4/10.0.0.1/tcp/4002/p2p/12D3KooWLan'
    const onLan = reachabilityOf({ ...base, relays: [{ relay: lanRelay, reserved: true }] })
    expect(onLan.fromOutside).toBe(false)
    expect(onLan.why).toContain(`relay ${lanRelay} is not public (private address)`)
  })

  it('a public address is enough, and is listed', () => {
    const r = reachabilityOf({ ...base, addrs: ['/ip4/203.0.113.7/tcp/4002', '/ip4/10.0.0.2/tcp/4002'], upnp: { state: 'no-gateway', reason: 'no gateway answered' } })
    expect(r).toMatchObject({ fromOutside: true, publicAddrs: ['/ip4/203.0.113.7/tcp/4002'], why: [] })
  })

  it('the local network owner (a relay for others) and a node on loopback say so', () => {
    const r = reachabilityOf({ ...base, addrs: ['/ip4/127.0.0.1/tcp/1'], relayServer: true, upnp: { state: 'no-gateway', reason: 'no gateway answered' } })
    expect(r.why).toEqual([
      'no relay configured (this node is the relay of its local network)',
      'no public address (only loopback)',
      'no STUN server (they come from the relays)',
      'UPnP: no-gateway (no gateway answered)',
    ])
  })
})
