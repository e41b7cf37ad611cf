/**
 * A host listening on every interface announces only addresses others can use: the machine's other interfaces'
 * addresses, not loopback (unless the machine has nothing else), never link-local.
 */
import { networkInterfaces } from 'node:os'
import { afterEach, expect, it } from 'vitest'
import { createTransportHost, type TransportHost } from '../src/index.ts'

let host: TransportHost | undefined
afterEach(async () => {
  await host?.stop()
  host = undefined
})

const others = Object.values(networkInterfaces())
  .flat()
  .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'))
  .map((a) => a?.address)

it('a host on 0.0.0.0 announces its interface addresses and no loopback while it has any other', async () => {
  host = await createTransportHost({ listen: ['/ip4/0.0.0.0/tcp/0'], autonat: false, webrtc: false })
  const addrs = host.multiaddrs()
  if (others.length === 0) {
    expect(addrs.some((a) => a.startsWith('/ip4/127.0.0.1/'))).toBe(true)
    return
  }
  for (const ip of others) expect(addrs.some((a) => a.startsWith(`/ip4/${ip}/tcp/`))).toBe(true)
  expect(addrs.filter((a) => a.startsWith('/ip4/127.'))).toEqual([])
})

it('a host on loopback only still announces its loopback address (a local network on one machine)', async () => {
  host = await createTransportHost({ listen: ['/ip4/127.0.0.1/tcp/0'], autonat: false, webrtc: false })
  expect(host.multiaddrs().some((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
})
