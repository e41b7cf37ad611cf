import { createHash } from 'node:crypto'

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** SHA-256 digest. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/**
 * RFC 4648 base32, lower case, no padding: what kad-dht names datastore keys with (as
 * uint8arrays' 'base32'), without its generic radix encoder (it ran for every stored record).
 */
export function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let acc = 0
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | (bytes[i] as number)) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += BASE32[(acc >>> bits) & 31]
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31]
  return out
}
