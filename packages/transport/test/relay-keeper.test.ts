/**
 * Relay reservations that come back (issue 14, defect 7): a relay that is down when the host starts gets the
 * reservation once it is up, and a relay that restarts gets it again; also a relay named later by relaysSource.
 */
import { createServer } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { createTransportHost, generateHostKey, peerIdOf } from '../src/index.ts'
import { HostPool, waitUntil } from './fixtures.ts'

const pool = new HostPool()
afterEach(() => pool.stopAll())

/** A port nothing listens on now (bound and closed at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** A relay's key and the address it will listen on, before it runs. */
async function plannedRelay() {
  const key = await generateHostKey()
  const port = await freePort()
  const addr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdOf(key)}`
  const start = () => createTransportHost({ privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`], relayServer: { limits: false } })
  return { key, port, addr, id: peerIdOf(key), start }
}

const reservedOn = (addrs: string[], relayId: string) => addrs.some((a) => a.includes(`/p2p/${relayId}/p2p-circuit`))

describe('relay reservations', () => {
  test('a relay down at start: the reservation is made once it is up, and again after it restarts', async () => {
    const relay = await plannedRelay()
    const host = await pool.host({ relays: [relay.addr] })
    const seen: string[][] = []
    host.onAddresses((addrs) => seen.push(addrs))
    expect(reservedOn(host.multiaddrs(), relay.id)).toBe(false)

    let server = pool.track(await relay.start())
    await waitUntil(() => reservedOn(host.multiaddrs(), relay.id), 30_000, 'reservation after the relay came up')
    // The node's address listeners heard of it (discovery publishes them in the presence).
    expect(seen.some((addrs) => reservedOn(addrs, relay.id))).toBe(true)

    await server.stop()
    await waitUntil(() => !reservedOn(host.multiaddrs(), relay.id), 15_000, 'reservation gone with the relay')
    server = pool.track(await relay.start())
    await waitUntil(() => reservedOn(host.multiaddrs(), relay.id), 30_000, 'reservation after the relay restarted')
  }, 90_000)

  test('a relay named later by relaysSource is reserved on too', async () => {
    const relay = await plannedRelay()
    pool.track(await relay.start())
    let named: string[] = []
    const host = await pool.host({ relaysSource: async () => named })
    await new Promise((r) => setTimeout(r, 500))
    expect(reservedOn(host.multiaddrs(), relay.id)).toBe(false)
    named = [relay.addr]
    await waitUntil(() => reservedOn(host.multiaddrs(), relay.id), 30_000, 'reservation on the sourced relay')
  }, 60_000)
})
