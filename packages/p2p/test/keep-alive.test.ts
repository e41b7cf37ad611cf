import { Cleanup } from '@baran/testkit'
import type { Libp2p } from '@libp2p/interface'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import { connectionMonitorOf, keepAlivePing, noiseOneWrite, PING_STREAMS, yamuxCoalesced } from '../src/index.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

/** A real TCP host with the given ping service and libp2p's connection monitor off (the test opens the pings). */
async function host(pingService: ReturnType<typeof ping>): Promise<Libp2p<{ ping: Ping }>> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noiseOneWrite()],
    streamMuxers: [yamuxCoalesced()],
    connectionMonitor: { enabled: false },
    services: { ping: pingService },
  })
  cleanup.add('stop host', () => node.stop())
  return node
}

/** What the connection monitor does each interval: a new ping stream on the connection (no service call). */
async function monitorPing(from: Libp2p<{ ping: Ping }>, to: Libp2p<{ ping: Ping }>): Promise<string> {
  const conn = from.getConnections(to.peerId)[0]
  if (!conn) throw new Error('not connected')
  try {
    const stream = await conn.newStream('/ipfs/ping/1.0.0', { signal: AbortSignal.timeout(5_000), runOnLimitedConnection: true })
    stream.abort(new Error('done'))
    return 'opened'
  } catch (e) {
    return (e as Error).name
  }
}

describe('keepAlivePing', () => {
  it("lets the monitor's ping and a DHT's ping share a connection; libp2p's default ping refuses the second", async () => {
    const run = async (service: ReturnType<typeof ping>) => {
      const [a, b] = [await host(service), await host(service)]
      await a.dial(b.getMultiaddrs()[0]!)
      // a ping that is still running (a slow answer), then the monitor's next one on the same connection
      const conn = a.getConnections(b.peerId)[0]!
      const running = await conn.newStream('/ipfs/ping/1.0.0', { signal: AbortSignal.timeout(5_000) })
      const next = await monitorPing(a, b)
      const rtt = await a.services.ping.ping(b.peerId).then(
        () => 'answered',
        (e: Error) => e.name,
      )
      running.abort(new Error('done'))
      return { next, rtt, open: a.getConnections(b.peerId).length }
    }
    expect(await run(ping())).toMatchObject({ next: 'TooManyOutboundProtocolStreamsError' })
    expect(await run(keepAlivePing())).toEqual({ next: 'opened', rtt: 'answered', open: 1 })
    expect(PING_STREAMS.maxInboundStreams).toBeGreaterThanOrEqual(PING_STREAMS.maxOutboundStreams)
  })

  it('connectionMonitorOf maps keep-alive options onto libp2p’s', () => {
    expect(connectionMonitorOf(undefined)).toBeUndefined()
    expect(connectionMonitorOf(false)).toEqual({ enabled: false })
    expect(connectionMonitorOf({ intervalMs: 5_000, closeOnFailure: false })).toEqual({ pingInterval: 5_000, abortConnectionOnPingFailure: false })
    expect(connectionMonitorOf({})).toEqual({})
  })
})
