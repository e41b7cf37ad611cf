import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { createLanNode, decodeLanFrame, encodeLanFrame, type LanNode, valueKey } from '../src/index.ts'
import { chunkRecords } from '../src/lib/lan-frames.ts'
import { deviceListBundle, makeAccount, makeDevice, presenceBundle, waitFor } from './helpers.ts'

const nodes: LanNode[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop()
})

/** LAN nodes on loopback, mDNS off (no multicast leaves this machine); each lists the ones before it as peers. */
async function lan(count: number, opts: { chain?: boolean } = {}): Promise<LanNode[]> {
  const made: LanNode[] = []
  for (let i = 0; i < count; i++) {
    const before = opts.chain ? made.slice(-1) : made
    const n = await createLanNode({ mdns: false, peers: before.flatMap((m) => m.multiaddrs()), redialMs: 200 })
    nodes.push(n)
    made.push(n)
  }
  return made
}

describe('LanNode', () => {
  it("bounds what it keeps from a peer: a peer pushing past its share is refused, the node's own records are not", async () => {
    const KiB = 1024
    const a = await createLanNode({ mdns: false, storeLimits: { maxBytes: 512 * KiB, maxBytesPerPeer: 128 * KiB } })
    nodes.push(a)
    const b = await createLanNode({ mdns: false, peers: a.multiaddrs(), redialMs: 200 })
    nodes.push(b)
    await waitFor(() => a.stats().peers === 1 && b.stats().peers === 1, 10_000, 'the two LAN nodes to meet')
    // b publishes 40 values of 8 KiB: it keeps them all (its own), and pushes each to a.
    for (let i = 0; i < 40; i++) b.putValue(valueKey(randomBytes(20).toString('hex')), randomBytes(8 * KiB))
    await waitFor(() => a.stats().store.refusals.peerQuota + a.stats().store.items >= 40, 10_000, 'a to take or refuse every push')
    const store = a.stats().store
    expect(store.bytes).toBeLessThanOrEqual(128 * KiB)
    expect(store.items).toBeLessThan(40)
    expect(store).toMatchObject({ uploaders: 1, peersOverQuota: 1 })
    expect(b.stats().store.items).toBe(40)
    // a's own puts do not count against anyone's share.
    const own = valueKey(randomBytes(20).toString('hex'))
    a.putValue(own, randomBytes(8 * KiB))
    expect((await a.getValue(own))?.data.length).toBe(8 * KiB)
  })

  it('a record published before a peer connects reaches it on connect (gossip), verified', async () => {
    const [a] = await lan(1)
    const acct = makeAccount()
    const dev = makeDevice(acct)
    a!.publishPresence(presenceBundle(dev, { addrs: ['/ip4/127.0.0.1/tcp/4100'] }))
    a!.publishDeviceList(deviceListBundle(acct, [dev]))
    const b = await createLanNode({ mdns: false, peers: a!.multiaddrs() })
    nodes.push(b)
    await waitFor(() => b.stats().storedRecords === 2, 10_000, 'gossip on connect')
    const found = await b.lookupAccount(acct.accountId)
    expect(found?.devices).toEqual([expect.objectContaining({ deviceId: dev.deviceId, presence: expect.objectContaining({ addrs: ['/ip4/127.0.0.1/tcp/4100'] }) })])
  })

  it('records flood along a chain of peers (a - b - c), and a newer presence replaces the older one', async () => {
    const [a, , c] = await lan(3, { chain: true })
    await waitFor(() => a!.stats().peers === 1 && c!.stats().peers === 1, 10_000, 'chain connected')
    const acct = makeAccount()
    const dev = makeDevice(acct)
    const seen: number[] = []
    c!.onRecord((r) => r.entry.kind === 'presence' && seen.push(r.entry.seq))
    a!.publishPresence(presenceBundle(dev, { seq: 1 }))
    await waitFor(() => seen.includes(1), 10_000, 'seq 1 at c')
    a!.publishPresence(presenceBundle(dev, { seq: 2, addrs: ['/ip4/127.0.0.1/tcp/4200'] }))
    await waitFor(() => seen.includes(2), 10_000, 'seq 2 at c')
    expect((await c!.lookupPresence(dev.deviceId))?.addrs).toEqual(['/ip4/127.0.0.1/tcp/4200'])
    // A replay of the older record is refused where a newer one is held.
    expect(() => a!.publishPresence(presenceBundle(dev, { seq: 1 }))).toThrow(expect.objectContaining({ name: 'ReplayedRecordError' }))
  })

  it('a list refused for holding another with the same seq (two devices changed it at once) is reported as a rival', async () => {
    const [a, b] = await lan(2)
    const acct = makeAccount()
    const [laptop, phone, tablet] = [makeDevice(acct, 'laptop'), makeDevice(acct, 'phone'), makeDevice(acct, 'tablet')]
    await waitFor(() => a!.stats().peers === 1 && b!.stats().peers === 1, 10_000, 'the two LAN nodes to meet')
    const rivals: string[][] = []
    a!.onRival((r) => r.entry.kind === 'device-list' && rivals.push(r.entry.deviceList.devices.map((d) => d.name).sort()))
    // Each holds its own seq 1 first (a refuses b's, b refuses a's): both stay, and a reports b's.
    a!.publishDeviceList(deviceListBundle(acct, [laptop, phone]))
    b!.publishDeviceList(deviceListBundle(acct, [laptop, tablet]))
    await waitFor(() => rivals.length >= 1, 10_000, "b's list reported to a")
    expect(rivals[0]).toEqual(['laptop', 'tablet'])
    // The same bytes again, or an older list, are no rival: only a refusal at the held seq with other content.
    const before = rivals.length
    a!.publishDeviceList(deviceListBundle(acct, [laptop, phone, tablet], { seq: 2 }))
    await waitFor(async () => (await b!.lookupAccount(acct.accountId))?.devices.length === 3, 10_000, 'the merged list on b')
    expect(() => a!.publishDeviceList(deviceListBundle(acct, [tablet], { seq: 1 }))).toThrow()
    expect(rivals).toHaveLength(before)
  })

  it('forged records are refused: they neither store nor spread', async () => {
    const [a, b] = await lan(2)
    await waitFor(() => a!.stats().peers === 1, 10_000, 'connected')
    const acct = makeAccount()
    const dev = makeDevice(acct)
    const bundle = presenceBundle(dev)
    const forged = { ...bundle, presence: { ...bundle.presence, body: { ...bundle.presence.body, addrs: ['/ip4/127.0.0.1/tcp/6666'] } } }
    expect(() => a!.publishPresence(forged)).toThrow()
    expect(a!.stats().storedRecords).toBe(0)
    expect(await b!.lookupPresence(dev.deviceId)).toBeUndefined()
  })

  it('a lookup asks the connected peers when it holds nothing; opaque values put, get and delete across nodes', async () => {
    const [a, b] = await lan(2)
    await waitFor(() => a!.stats().peers === 1 && b!.stats().peers === 1, 10_000, 'connected')
    const key = valueKey(randomBytes(20).toString('hex'))
    const put = a!.putValue(key, new Uint8Array([1, 2, 3]), { ttlMs: 60_000 })
    await waitFor(async () => (await b!.getValue(key)) !== undefined, 10_000, 'value at b')
    expect((await b!.getValue(key))?.data).toEqual(new Uint8Array([1, 2, 3]))
    // First writer wins while it lives; only its token deletes it.
    expect(() => b!.putValue(key, new Uint8Array([9]), { ttlMs: 60_000 })).toThrow(expect.objectContaining({ name: 'ValueOccupiedError' }))
    expect(() => b!.deleteValue(key, new Uint8Array(32))).toThrow(expect.objectContaining({ name: 'BadDeleteTokenError' }))
    b!.deleteValue(key, put.deleteToken)
    await waitFor(async () => (await a!.getValue(key)) === undefined, 10_000, 'deleted at a')
  })

  it('bad options and keys are typed errors', async () => {
    await expect(createLanNode({ peers: ['/ip4/127.0.0.1/tcp/1'] })).rejects.toMatchObject({ name: 'InvalidConfigError', code: 'invalid_config' })
    await expect(createLanNode({ redialMs: 0 })).rejects.toMatchObject({ code: 'invalid_config' })
    const [a] = await lan(1)
    await expect(a!.getValue(`/baran-presence/${'a'.repeat(40)}`)).rejects.toMatchObject({ name: 'InvalidKeyError' })
    await expect(a!.lookupPresence('nothex')).rejects.toMatchObject({ name: 'InvalidKeyError' })
  })

  it('frames: junk bytes are MalformedFrameError, never a crash; frames round-trip; chunks fit the limits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeLanFrame(bytes)
        } catch (e) {
          expect((e as Error).name).toBe('MalformedFrameError')
        }
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          decodeLanFrame(new TextEncoder().encode(JSON.stringify(v)))
        } catch (e) {
          expect((e as Error).name).toBe('MalformedFrameError')
        }
      }),
      { numRuns: 300 },
    )
    const frame = { t: 'push' as const, records: [{ key: valueKey('ab'.repeat(20)), value: 'AQID' }] }
    expect(decodeLanFrame(encodeLanFrame(frame))).toEqual(frame)
    const many = Array.from({ length: 600 }, (_, i) => ({ key: `/k/${i}`, value: 'x'.repeat(4000) }))
    const chunks = chunkRecords(many)
    expect(chunks.flat()).toHaveLength(600)
    for (const c of chunks) expect(() => encodeLanFrame({ t: 'push', records: c })).not.toThrow()
  })
})
