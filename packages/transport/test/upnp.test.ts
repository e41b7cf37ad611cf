/**
 * UPnP's safe default, without a gateway (the lab's real IGD is in tools/natlab/test/upnp.test.ts):
 * only a private LAN TCP listen address is ever mapped, and a host on loopback (every test's
 * default) does nothing at all: no search, so no delay.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createTransportHost, mappableAddresses, type TransportHost } from '../src/index.ts'

const hosts: TransportHost[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()))
})

const transport = (ma: string) => ({ multiaddr: ma, type: 'transport' })

describe('upnp', () => {
  test('maps only TCP listen addresses on private, non-loopback, non-link-local IPv4', () => {
    const got = mappableAddresses([
      transport('/ip4/10.0.1.2/tcp/4001'),
      transport('/ip4/192.168.1.20/tcp/4002'),
      transport('/ip4/127.0.0.1/tcp/4003'),
      transport('/ip4/169.254.1.1/tcp/4004'),
      transport('/ip4/11.0.100.11/tcp/4005'), // public: nothing to map
      transport('/ip4/10.0.1.2/tcp/4006/ws'), // not the TCP listener
      transport('/ip4/10.0.1.2/udp/4007/webrtc-direct'),
      transport('/ip6/fd00::1/tcp/4008'),
      { multiaddr: '/ip4/10.0.1.2/tcp/4009', type: 'observed' },
    ])
    expect(got).toEqual([
      { host: '10.0.1.2', port: 4001 },
      { host: '192.168.1.20', port: 4002 },
    ])
  })

  test('on by default; a host on loopback has nothing to map and does not search', async () => {
    const host = await createTransportHost()
    hosts.push(host)
    await new Promise((r) => setTimeout(r, 50))
    // 'searching' or 'no-gateway' would mean it had sent SSDP M-SEARCH
    expect(host.upnp()).toMatchObject({ state: 'idle', reason: expect.stringContaining('nothing to map') })
  })

  test('upnp: false turns it off (no status)', async () => {
    const host = await createTransportHost({ upnp: false })
    hosts.push(host)
    expect(host.upnp()).toBeUndefined()
  })
})
