import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DiscoveryNode, PresencePublisher, type VerifiedPresence } from '../src/index.ts'
import { makeAccount, makeDevice, presenceBundle, startNetwork, stopAll, waitFor } from './helpers.ts'

const nodes: DiscoveryNode[] = []

beforeAll(async () => {
  await startNetwork(3, {}, nodes)
}, 60_000)

afterAll(async () => {
  await stopAll(nodes)
})

/** A signer like the identity actor's: every call signs a new seq. */
function signer(ttlMs: number, opts: { failFirst?: number } = {}) {
  const device = makeDevice(makeAccount())
  let seq = 0
  let failures = opts.failFirst ?? 0
  const sign = async (addrs: string[]) => {
    if (failures > 0) {
      failures--
      throw new Error('identity actor unavailable')
    }
    return presenceBundle(device, { seq: ++seq, addrs, ttlMs })
  }
  return { device, sign }
}

describe('PresencePublisher', () => {
  it('publishes at start and again when half of the life has passed', async () => {
    const { device, sign } = signer(2_000)
    const published: VerifiedPresence[] = []
    const publisher = new PresencePublisher({
      node: nodes[0] as DiscoveryNode,
      sign,
      addrs: () => ['/ip4/127.0.0.1/tcp/1'],
      onPublished: (p) => published.push(p),
    })
    try {
      await publisher.start()
      expect(published.map((p) => p.seq)).toEqual([1])
      await waitFor(() => published.length >= 3, 10_000, 'two refreshes')
      const found = await (nodes[2] as DiscoveryNode).lookupPresence(device.deviceId)
      expect(found?.seq).toBeGreaterThanOrEqual(2)
    } finally {
      publisher.stop()
    }
    const count = published.length
    await new Promise((r) => setTimeout(r, 1_500))
    expect(published.length).toBe(count) // stopped means stopped
  })

  it('republishes at once when the addresses change, and not when they do not', async () => {
    const { sign } = signer(3600_000)
    let addrs = ['/ip4/127.0.0.1/tcp/1']
    let notify = (): void => {}
    const published: VerifiedPresence[] = []
    const publisher = new PresencePublisher({
      node: nodes[1] as DiscoveryNode,
      sign,
      addrs: () => addrs,
      subscribeAddrs: (cb) => {
        notify = cb
        return () => {
          notify = () => {}
        }
      },
      onPublished: (p) => published.push(p),
    })
    try {
      await publisher.start()
      notify() // same addresses: nothing to do
      await new Promise((r) => setTimeout(r, 300))
      expect(published).toHaveLength(1)
      addrs = ['/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/3']
      notify()
      await waitFor(() => published.length >= 2, 10_000, 'the republish')
      expect(published[1]?.addrs).toEqual(addrs)
      expect(publisher.last?.seq).toBe(2)
    } finally {
      publisher.stop()
    }
  })

  it('retries a failed publish with back-off', async () => {
    const { sign } = signer(3600_000, { failFirst: 1 })
    const published: VerifiedPresence[] = []
    const warnings: unknown[] = []
    const publisher = new PresencePublisher({
      node: nodes[2] as DiscoveryNode,
      sign,
      addrs: () => ['/ip4/127.0.0.1/tcp/1'],
      onPublished: (p) => published.push(p),
      log: { debug() {}, info() {}, error() {}, warn: (o) => warnings.push(o) },
    })
    try {
      await publisher.start()
      expect(published).toHaveLength(0)
      expect(warnings).toHaveLength(1)
      await waitFor(() => published.length >= 1, 10_000, 'the retry')
    } finally {
      publisher.stop()
    }
  })
})
