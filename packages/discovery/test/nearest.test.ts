import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { xor } from 'uint8arrays/xor'
import { xorCompare } from 'uint8arrays/xor-compare'
import { describe, expect, it } from 'vitest'
import { sha256 } from '../src/lib/bytes.ts'
import { compareDistance, NearestPeers, type RoutingTableView } from '../src/lib/nearest.ts'

const id32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const sign = (n: number): number => Math.sign(n)

/** A routing table as kad-dht's: a peer list, closestPeers by XOR, and add/remove events. */
class FakeTable implements RoutingTableView {
  peers: PeerId[] = []
  calls = 0
  readonly #listeners = new Map<string, Array<() => void>>()
  get size(): number {
    return this.peers.length
  }
  closestPeers(kadId: Uint8Array, options: { count?: number } = {}): PeerId[] {
    this.calls++
    const d = (p: PeerId) => xor(sha256(p.toMultihash().bytes), kadId)
    return [...this.peers].sort((a, b) => xorCompare(d(a), d(b))).slice(0, options.count ?? 20)
  }
  addEventListener(type: 'peer:add' | 'peer:remove', listener: () => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener])
  }
  emit(type: 'peer:add' | 'peer:remove'): void {
    for (const l of this.#listeners.get(type) ?? []) l()
  }
}

const newPeers = (n: number): Promise<PeerId[]> => Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))

describe('compareDistance', () => {
  it('orders as comparing the XOR distances does (property)', () => {
    fc.assert(
      fc.property(id32, id32, id32, (a, b, t) => {
        expect(sign(compareDistance(a, b, t))).toBe(sign(xorCompare(xor(a, t), xor(b, t))))
      }),
    )
  })
})

describe('NearestPeers', () => {
  it('gives the same peers, in the same order, as the routing table', async () => {
    const table = new FakeTable()
    table.peers = await newPeers(30)
    const nearest = new NearestPeers(table, (p) => sha256(p.toMultihash().bytes))
    fc.assert(
      fc.property(id32, fc.integer({ min: 1, max: 40 }), (key, count) => {
        expect(nearest.closest(key, count).map(String)).toEqual(table.closestPeers(key, { count }).map(String))
      }),
      { numRuns: 50 },
    )
  })

  it('copies the table once, and again after a peer is added or removed', async () => {
    const table = new FakeTable()
    const [a, b, c] = (await newPeers(3)) as [PeerId, PeerId, PeerId]
    table.peers = [a, b]
    const nearest = new NearestPeers(table, (p) => sha256(p.toMultihash().bytes))
    const key = sha256(new Uint8Array([1]))
    expect(nearest.closest(key, 8)).toHaveLength(2)
    nearest.closest(key, 8)
    expect(table.calls).toBe(1)
    table.peers = [a, c] // same size: only the event tells
    table.emit('peer:remove')
    expect(nearest.closest(key, 8).map(String).sort()).toEqual([a, c].map(String).sort())
    table.peers = [a, b, c] // a change seen before its event: the size tells
    expect(nearest.closest(key, 8)).toHaveLength(3)
    table.peers = []
    table.emit('peer:remove')
    expect(nearest.closest(key, 8)).toEqual([])
  })
})
