import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeGetReply, decodePeers, decodePut, encodeGetMiss, encodePeers, encodePut, GET_MISS, peerFromMultihash } from '../src/lib/rpc-codec.ts'

const invalidKey = expect.objectContaining({ name: 'InvalidKeyError', code: 'invalid_key' })

describe('rpc payloads', () => {
  it('PUT: key and value come back as they went (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 2000 }), (key, value) => {
        const back = decodePut(encodePut(key, value))
        expect([...back.key]).toEqual([...key])
        expect([...back.value]).toEqual([...value])
      }),
    )
  })

  it('PUT: a payload too short for its key is refused with InvalidKeyError', () => {
    expect(() => decodePut(new Uint8Array([0]))).toThrow(invalidKey)
    expect(() => decodePut(new Uint8Array([0, 9, 1, 2]))).toThrow(invalidKey)
  })

  it('FIND: peers and their addresses come back as they went (property)', () => {
    const peer = fc.record({ id: fc.uint8Array({ minLength: 1, maxLength: 255 }), addrs: fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }) })
    fc.assert(
      fc.property(fc.array(peer, { maxLength: 20 }), (peers) => {
        const back = decodePeers(encodePeers(peers))
        expect(back.map((p) => ({ id: [...p.id], addrs: p.addrs.map((a) => [...a]) }))).toEqual(peers.map((p) => ({ id: [...p.id], addrs: p.addrs.map((a) => [...a]) })))
      }),
    )
  })

  it('FIND: any truncation of a reply is refused with InvalidKeyError, never a crash', () => {
    const bytes = encodePeers([{ id: new Uint8Array(38).fill(1), addrs: [new Uint8Array(12).fill(2), new Uint8Array(20).fill(3)] }])
    for (let n = 1; n < bytes.length; n++) expect(() => decodePeers(bytes.subarray(0, n))).toThrow(invalidKey)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          decodePeers(junk)
        } catch (err) {
          expect(err).toMatchObject({ name: 'InvalidKeyError' })
        }
      }),
    )
  })

  it('GET reply: a record comes back as the value; a miss as the peers it named (property)', () => {
    const peer = fc.record({ id: fc.uint8Array({ minLength: 1, maxLength: 255 }), addrs: fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 8 }) })
    const record = fc.uint8Array({ minLength: 1, maxLength: 500 }).filter((r) => r[0] !== GET_MISS)
    fc.assert(
      fc.property(record, fc.array(peer, { maxLength: 20 }), (value, peers) => {
        expect(decodeGetReply(value)).toEqual({ value })
        const miss = decodeGetReply(encodeGetMiss(encodePeers(peers)))
        expect(miss.value).toBeUndefined()
        expect(miss.peers?.map((p) => ({ id: [...p.id], addrs: p.addrs.map((a) => [...a]) }))).toEqual(peers.map((p) => ({ id: [...p.id], addrs: p.addrs.map((a) => [...a]) })))
      }),
    )
    // An empty reply (a responder that names no peers) is a miss too.
    expect(decodeGetReply(new Uint8Array(0))).toEqual({ peers: [] })
    // A canonical-JSON record never starts with the miss marker.
    expect(new TextEncoder().encode('{"v":1}')[0]).not.toBe(GET_MISS)
  })

  it('GET reply: a truncated miss is refused with InvalidKeyError, never a crash', () => {
    const bytes = encodeGetMiss(encodePeers([{ id: new Uint8Array(38).fill(1), addrs: [new Uint8Array(12).fill(2)] }]))
    for (let n = 2; n < bytes.length; n++) expect(() => decodeGetReply(bytes.subarray(0, n))).toThrow(invalidKey)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          decodeGetReply(Uint8Array.of(GET_MISS, ...junk))
        } catch (err) {
          expect(err).toMatchObject({ name: 'InvalidKeyError' })
        }
      }),
    )
  })

  it('peer IDs: a real one parses back; anything else is undefined', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    expect(peerFromMultihash(peer.toMultihash().bytes)?.equals(peer)).toBe(true)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (junk) => {
        expect(() => peerFromMultihash(junk)).not.toThrow()
      }),
    )
    expect(peerFromMultihash(new Uint8Array([0x55, 2, 1, 2]))).toBeUndefined()
    expect(peerFromMultihash(new Uint8Array([0x00, 5, 1, 2]))).toBeUndefined()
  })
})
