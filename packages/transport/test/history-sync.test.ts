/**
 * `/baran/history-sync/1.0.0` between real libp2p hosts: only another device of the same account, not revoked, gets
 * an answer; every other opener, and every malformed or oversized frame, reads a REFUSED frame that says why (and the
 * outbox's handler never runs); the host still serves good requests afterwards.
 */
import type { SyncAnswer, SyncRequest } from '@baran/bus'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import type { SyncPeer, TransportHost } from '../src/index.ts'
import { DEFAULT_MAX_FRAME_BYTES } from '../src/lib/constants.ts'
import { helloFrameOf } from '../src/lib/handshake.ts'
import { SYNC_PROTOCOL } from '../src/lib/sync-channel.ts'
import { decodeSyncFrame, encodeSyncRequest, MAX_SYNC_FRAME_BYTES, syncHelloOf } from '../src/lib/sync-frames.ts'
import { encodeVarint } from '../src/lib/varint.ts'
import { credentialsFor, type Device, directAddrs, failure, HostPool, makeDevice, sibling as siblingOf } from './fixtures.ts'

const pool = new HostPool()
afterEach(() => pool.stopAll())
afterAll(() => pool.stopAll())

const PEER = 'ab'.repeat(20)
const ask: SyncRequest = { op: 'conversations' }
const answer: SyncAnswer = { op: 'conversations', conversations: [{ peer: PEER, count: 3, digest: '0f'.repeat(16) }], more: false }


const sibling = (of: Device) => siblingOf(pool, of)

/** A serving host that records who it answered. */
async function server(): Promise<TransportHost & { device: Device; served: SyncPeer[] }> {
  const a = await pool.host()
  const served: SyncPeer[] = []
  a.onSyncRequest(async (req, from) => {
    served.push(from)
    expect(req).toEqual(ask)
    return answer
  })
  return Object.assign(a, { served })
}

const target = (h: TransportHost & { device: Device }) => ({ peerId: h.peerId, addrs: directAddrs(h), deviceId: h.device.device.id })

/** A raw stream to `to`'s sync protocol from `from`: what a misbehaving peer can send. */
async function raw(from: TransportHost, to: TransportHost) {
  const stream = await from.libp2p.dialProtocol(multiaddr(directAddrs(to)[0]!), SYNC_PROTOCOL)
  return { stream, lp: lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES }) }
}

describe('history sync channel', () => {
  test('another device of the same account gets the answer; the server learns which device asked', async () => {
    const a = await server()
    const b = await sibling(a.device)
    await expect(b.syncRequest(target(a), ask)).resolves.toEqual(answer)
    expect(a.served).toEqual([{ accountId: a.device.account.id, deviceId: b.device.device.id, peerId: b.peerId }])
  })

  test('requests at once over one connection are each answered; a device that does not speak the protocol fails them fast', async () => {
    const a = await server()
    const b = await sibling(a.device)
    const answers = await Promise.all(Array.from({ length: 5 }, () => b.syncRequest(target(a), ask)))
    expect(answers).toEqual(Array.from({ length: 5 }, () => answer))
    expect(a.served).toHaveLength(5)
    expect(b.libp2p.getConnections(a.libp2p.peerId)).toHaveLength(1)
    // an older version without the protocol: the opener writes with the protocol's name (no round trip first), so
    // the refusal comes with the first read (unreachable), not as the timeout
    await a.libp2p.unhandle(SYNC_PROTOCOL)
    const refused = await failure(b.syncRequest(target(a), ask, { timeoutMs: 20_000 }))
    expect(refused.code).toBe('unreachable')
    expect(a.served).toHaveLength(5)
  })

  test('a device of another account is refused (not_own_device), both ways, and nothing is served', async () => {
    const a = await server()
    const stranger = await pool.host()
    stranger.onSyncRequest(async () => answer)
    const refused = await failure(stranger.syncRequest({ peerId: a.peerId, addrs: directAddrs(a), deviceId: a.device.device.id }, ask))
    expect(refused.name).toBe('NotOwnDeviceError')
    expect(refused.code).toBe('not_own_device')
    expect(refused.remote).toBe(true)
    // the opener checks the answering device as well: it is not what it asked for
    const b = await sibling(a.device)
    const wrong = await failure(b.syncRequest({ peerId: a.peerId, addrs: directAddrs(a), deviceId: 'cd'.repeat(20) }, ask))
    expect(wrong.code).toBe('not_own_device')
    expect(wrong.remote).toBe(false)
    expect(a.served).toHaveLength(1) // b's request was served; the stranger's never reached the handler
    expect(a.served[0]?.deviceId).toBe(b.device.device.id)
  })

  test('a device its account revoked is refused with revoked', async () => {
    const a = await server()
    const b = await sibling(a.device)
    a.revokeDevice(a.device.account.id, b.device.device.id)
    const refused = await failure(b.syncRequest(target(a), ask))
    expect(refused.name).toBe('RevokedError')
    expect(refused.code).toBe('revoked')
    expect(refused.remote).toBe(true)
    expect(a.served).toEqual([])
  })

  test('garbage, an unproved request and an oversized frame are refused with the reason; good requests still work', async () => {
    const a = await server()
    const b = await sibling(a.device)
    const refusal = async (frames: Uint8Array[]) => {
      const { stream, lp } = await raw(b, a)
      for (const f of frames) await lp.write(f)
      const reply = decodeSyncFrame((await lp.read()).subarray())
      await stream.close().catch(() => undefined)
      return reply
    }
    expect(await refusal([Uint8Array.of(0x99, 1, 2, 3)])).toMatchObject({ type: 'refused', code: 'malformed_frame', reason: expect.stringMatching(/unknown history sync frame type 0x99/) })
    // a request before any HELLO proves nothing
    expect(await refusal([encodeSyncRequest(ask)])).toMatchObject({ type: 'refused', code: 'handshake_failed' })
    const hello = syncHelloOf(helloFrameOf(credentialsFor(b.device, b.peerId), DEFAULT_MAX_FRAME_BYTES))
    const bad = new TextEncoder().encode(JSON.stringify({ op: 'fetch', peer: PEER, ids: Array.from({ length: 201 }, () => '01ARZ3NDEKTSV4RRFFQ69G5FAV') }))
    expect(await refusal([hello, Uint8Array.of(0x10, ...bad)])).toMatchObject({ type: 'refused', code: 'malformed_frame', reason: expect.stringMatching(/invalid request: ids/) })
    expect(await refusal([hello, Uint8Array.of(0x10, ...new TextEncoder().encode('{not json'))])).toMatchObject({ type: 'refused', code: 'malformed_frame', reason: expect.stringMatching(/not JSON/) })
    // a HELLO of another device's credentials (not bound to this PeerId)
    const forged = syncHelloOf(helloFrameOf(credentialsFor(makeDevice({ account: a.device.account }), a.peerId), DEFAULT_MAX_FRAME_BYTES))
    expect(await refusal([forged, encodeSyncRequest(ask)])).toMatchObject({ type: 'refused', code: 'handshake_failed' })

    // a length prefix above the bound: refused before any of it is buffered
    const { stream, lp } = await raw(b, a)
    stream.send(encodeVarint(MAX_SYNC_FRAME_BYTES + 1))
    expect(decodeSyncFrame((await lp.read()).subarray())).toMatchObject({ type: 'refused', code: 'frame_too_large' })
    await stream.close().catch(() => undefined)

    expect(a.served).toEqual([])
    await expect(b.syncRequest(target(a), ask)).resolves.toEqual(answer)
    expect(a.served).toHaveLength(1)
  })

  test('an answer that does not match its schema fails the request with malformed_frame', async () => {
    const a = await pool.host()
    a.onSyncRequest(async () => ({ op: 'conversations', conversations: [{ peer: 'not an id', count: -1, digest: 'x' }], more: false }) as unknown as SyncAnswer)
    const b = await sibling(a.device)
    const err = await failure(b.syncRequest({ peerId: a.peerId, addrs: directAddrs(a), deviceId: a.device.device.id }, ask))
    expect(err.code).toBe('malformed_frame')
    expect(err.message).toMatch(/invalid answer/)
  })
})
