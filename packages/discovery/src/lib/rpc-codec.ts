import { concatBytes } from '@baran/trust'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { InvalidKeyError } from './errors.ts'

/**
 * Payloads of the methods of `/baran/rpc/1.0.0` (rpc.ts carries them): bytes in, bytes out.
 * A payload that does not parse throws InvalidKeyError; the rpc layer answers it as an error.
 */

/** Methods of `/baran/rpc/1.0.0`. */
export const RPC_GET = 1
export const RPC_PUT = 2
export const RPC_WATCH = 3
export const RPC_PUSH = 4
export const RPC_FIND = 5

/** PUT and PUSH payload: u16 key length, key, value. */
export function encodePut(key: Uint8Array, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + key.length + value.length)
  out[0] = key.length >>> 8
  out[1] = key.length
  out.set(key, 2)
  out.set(value, 2 + key.length)
  return out
}

export function decodePut(payload: Uint8Array): { key: Uint8Array; value: Uint8Array } {
  if (payload.length < 2) throw new InvalidKeyError('put without a key')
  const n = ((payload[0] as number) << 8) | (payload[1] as number)
  if (payload.length < 2 + n) throw new InvalidKeyError('put key runs past the payload')
  return { key: payload.subarray(2, 2 + n), value: payload.subarray(2 + n) }
}

/** A peer a FIND reply names: its multihash bytes and the addresses the responder knows. */
export interface NamedPeer {
  id: Uint8Array
  addrs: Uint8Array[]
}

/**
 * FIND reply, and PUT reply: the responder's closest peers to the key; per peer, u8 id length, multihash, u8 address
 * count, then u16 length + bytes each. A PUT reply names them so the putter's lookup needs no FIND round on a warm
 * table; an empty one names nobody (nodes before that replied with nothing).
 */
export function encodePeers(peers: NamedPeer[]): Uint8Array {
  const ok = peers.filter((p) => p.id.length < 256).map((p) => ({ id: p.id, addrs: p.addrs.filter((a) => a.length < 65_536).slice(0, 8) }))
  const out = new Uint8Array(ok.reduce((n, p) => n + 2 + p.id.length + p.addrs.reduce((m, a) => m + 2 + a.length, 0), 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const p of ok) {
    out[at] = p.id.length
    out.set(p.id, at + 1)
    at += 1 + p.id.length
    out[at++] = p.addrs.length
    for (const a of p.addrs) {
      view.setUint16(at, a.length)
      out.set(a, at + 2)
      at += 2 + a.length
    }
  }
  return out
}

export function decodePeers(bytes: Uint8Array): NamedPeer[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const need = (at: number, n: number): void => {
    if (at + n > bytes.length) throw new InvalidKeyError('truncated peer list')
  }
  const out: NamedPeer[] = []
  for (let at = 0; at < bytes.length; ) {
    need(at, 1)
    const n = bytes[at] as number
    need(at + 1, n + 1)
    const id = bytes.subarray(at + 1, at + 1 + n)
    at += 1 + n
    const count = bytes[at++] as number
    const addrs: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      need(at, 2)
      const len = view.getUint16(at)
      need(at + 2, len)
      addrs.push(bytes.subarray(at + 2, at + 2 + len))
      at += 2 + len
    }
    out.push({ id, addrs })
  }
  return out
}

/**
 * GET reply: the record's bytes; for a miss, GET_MISS then the responder's closest peers to the
 * key (encodePeers), so the asker learns in the same round trip whether closer peers exist (no
 * FIND round after a miss). Empty: a miss that names no peers. A record is canonical JSON, so it
 * never starts with GET_MISS (0x00).
 */
export const GET_MISS = 0x00

/** A miss naming the peers `list` encodes (encodePeers' bytes). */
export function encodeGetMiss(list: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(GET_MISS), list)
}

/** A GET reply: `value` (not yet verified), or `peers` for a miss. Throws InvalidKeyError for a malformed peer list. */
export function decodeGetReply(bytes: Uint8Array): { value: Uint8Array; peers?: undefined } | { value?: undefined; peers: NamedPeer[] } {
  if (bytes.length === 0) return { peers: [] }
  if (bytes[0] === GET_MISS) return { peers: decodePeers(bytes.subarray(1)) }
  return { value: bytes }
}

/**
 * A peer ID from multihash bytes (identity or sha2-256: one-byte varints), or undefined for
 * anything else. No library parser needed: peer IDs use only these two forms.
 */
export function peerFromMultihash(bytes: Uint8Array): PeerId | undefined {
  const code = bytes[0]
  const size = bytes[1]
  if (code === undefined || size === undefined || (code !== 0x00 && code !== 0x12) || bytes.length !== 2 + size) return undefined
  try {
    const peer = peerIdFromMultihash({ code, size, digest: bytes.subarray(2), bytes } as Parameters<typeof peerIdFromMultihash>[0])
    return peer.type === 'url' ? undefined : peer
  } catch {
    return undefined
  }
}

