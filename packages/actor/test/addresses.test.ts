import { describe, expect, it } from 'vitest'
import { addressScope, announceable, ipv6Available, listenableAddrs, listensBeyondLoopback } from '../src/lib/addresses.ts'

describe('addressScope', () => {
  it.each([
    ['/ip4/127.0.0.1/tcp/1', 'loopback'],
    ['/ip4/127.8.9.1/tcp/1', 'loopback'],
    ['/ip6/::1/tcp/1', 'loopback'],
    ['/ip6/0:0:0:0:0:0:0:1/tcp/1', 'loopback'],
    ['/dns4/localhost/tcp/1', 'loopback'],
    ['/ip4/169.254.3.4/tcp/1', 'link-local'],
    ['/ip6/fe80::fc:ff:fe00:1/tcp/1', 'link-local'],
    ['/ip4/0.0.0.0/tcp/0', 'unspecified'],
    ['/ip6/::/tcp/0', 'unspecified'],
    ['/ip4/10.77.0.2/tcp/1', 'private'],
    ['/ip4/172.16.0.1/tcp/1', 'private'],
    ['/ip4/172.32.0.1/tcp/1', 'public'],
    ['/ip4/192.168.1.9/tcp/1', 'private'],
    ['/ip4/100.64.0.1/tcp/1', 'private'],
    ['/ip6/fd00::2/tcp/1', 'private'],
    ['/ip6/::ffff:10.0.0.1/tcp/1', 'private'],
    ['/ip4/198.51.100.10/tcp/1', 'public'],
    ['/ip6/2001:db8::1/tcp/1', 'public'],
    ['/dns4/relay.example.org/tcp/443/wss', 'public'],
    // a circuit address is as far-reaching as its relay
    ['/ip4/127.0.0.1/tcp/4/p2p/12D3KooWA/p2p-circuit/p2p/12D3KooWB', 'loopback'],
  ])('%s is %s', (addr, scope) => {
    expect(addressScope(addr)).toBe(scope)
  })
})

describe('announceable', () => {
  it('drops link-local and unspecified addresses, and loopback ones while others remain', () => {
    const addrs = ['/ip4/127.0.0.1/tcp/1', '/ip4/10.0.0.2/tcp/1', '/ip6/::1/tcp/2', '/ip6/fe80::1/tcp/2', '/ip4/0.0.0.0/tcp/1', '/ip6/fd00::2/tcp/2']
    expect(announceable(addrs)).toEqual(['/ip4/10.0.0.2/tcp/1', '/ip6/fd00::2/tcp/2'])
  })

  it('keeps loopback addresses when there is nothing else: every peer that can reach the node is on this machine', () => {
    const addrs = ['/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/2', '/ip6/fe80::1/tcp/2', '/ip4/127.0.0.1/tcp/3/p2p/R/p2p-circuit']
    expect(announceable(addrs)).toEqual(['/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/2', '/ip4/127.0.0.1/tcp/3/p2p/R/p2p-circuit'])
  })

  it('keeps a relayed address through a relay on loopback beside LAN addresses: the nodes of this machine reach the node through it', () => {
    const addrs = ['/ip4/127.0.0.1/tcp/1', '/ip4/10.0.0.2/tcp/1', '/ip4/127.0.0.1/tcp/3/p2p/R/p2p-circuit', '/ip6/fe80::1/tcp/4/p2p/R/p2p-circuit']
    expect(announceable(addrs)).toEqual(['/ip4/10.0.0.2/tcp/1', '/ip4/127.0.0.1/tcp/3/p2p/R/p2p-circuit'])
  })

  it('works on objects that print as multiaddrs (libp2p Multiaddr) and keeps them as they are', () => {
    const a = { toString: () => '/ip4/10.1.2.3/tcp/9' }
    const b = { toString: () => '/ip4/127.0.0.1/tcp/9' }
    expect(announceable([b, a])).toEqual([a])
  })
})

describe('listen defaults', () => {
  it('mDNS is worth it only when some listen address reaches past loopback', () => {
    expect(listensBeyondLoopback(['/ip4/127.0.0.1/tcp/0'])).toBe(false)
    expect(listensBeyondLoopback(['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'])).toBe(false)
    expect(listensBeyondLoopback(['/ip4/0.0.0.0/tcp/0'])).toBe(true)
    expect(listensBeyondLoopback(['/ip4/10.0.0.2/tcp/0'])).toBe(true)
  })

  it('keeps /ip6/ listen addresses when this machine has IPv6, and drops them with a log line when it has not', async () => {
    const lines: string[] = []
    const log = { info: (_o: object, msg?: string) => lines.push(msg ?? '') }
    const both = ['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/0']
    const got = await listenableAddrs(both, log)
    if (await ipv6Available()) {
      expect(got).toEqual(both)
      expect(lines.filter((l) => !l.startsWith('no IPv6 address'))).toEqual([])
    } else {
      expect(got).toEqual(['/ip4/0.0.0.0/tcp/0'])
      expect(lines.join('\n')).toMatch(/IPv6 is not available/)
    }
    // only IPv6 asked for: left as is (listening fails loudly rather than silently on nothing)
    expect(await listenableAddrs(['/ip6/::/tcp/0'], log)).toEqual(['/ip6/::/tcp/0'])
  })
})
