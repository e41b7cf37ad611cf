import { Cleanup } from '@baran/testkit'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import { hostLogger, noiseOneWrite, SILENT_COMPONENT_LOGGER, yamuxCoalesced } from '../src/index.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('hostLogger', () => {
  it('is a logger that does nothing while DEBUG is unset, and libp2p’s own (undefined) once DEBUG names anything', () => {
    expect(hostLogger({})).toBe(SILENT_COMPONENT_LOGGER)
    expect(hostLogger({ DEBUG: '' })).toBe(SILENT_COMPONENT_LOGGER)
    expect(hostLogger({ DEBUG: 'libp2p:dcutr*' })).toBeUndefined()
  })

  it('gives every component and scope a disabled logger whose calls return nothing', () => {
    const log = SILENT_COMPONENT_LOGGER.forComponent('libp2p:yamux')
    const scoped = log.newScope('outbound').newScope('7')
    for (const l of [log, scoped]) {
      expect(l.enabled).toBe(false)
      expect(l('frame %d', 1)).toBeUndefined()
      expect(l.error(new Error('x'))).toBeUndefined()
      expect(l.trace('t')).toBeUndefined()
    }
  })

  it('runs two real hosts with it: they connect and ping over noise and yamux', async () => {
    const host = async () => {
      const node = await createLibp2p({
        logger: SILENT_COMPONENT_LOGGER,
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noiseOneWrite()],
        streamMuxers: [yamuxCoalesced()],
        connectionMonitor: { enabled: false },
        services: { ping: ping() },
      })
      cleanup.add('stop host', () => node.stop())
      return node
    }
    const [a, b] = [await host(), await host()]
    const rtts = []
    for (let i = 0; i < 3; i++) rtts.push(await a.services.ping.ping(b.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) }))
    expect(rtts.every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true)
  })
})
