/**
 * Keccak-256 (Ethereum's hash: Keccak's own padding, not SHA3-256's, so node:crypto has no equivalent) and EIP-55
 * checksummed addresses, without ethers: the dev chain's start stays free of it (test/dev-chain.test.ts checks both
 * against ethers). Plain bigint lanes: a few hashes at start, not a hot path.
 */

const MASK = (1n << 64n) - 1n
/** Round constants of Keccak-f[1600]. */
const RC = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n, 0x000000000000808bn, 0x0000000080000001n,
  0x8000000080008081n, 0x8000000000008009n, 0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
  0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n, 0x8000000000008002n, 0x8000000000000080n,
  0x000000000000800an, 0x800000008000000an, 0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
]
/** Rotation offsets of the lane at x + 5y. */
const ROT = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]
/** Bytes absorbed per permutation for a 256-bit output. */
const RATE = 136

function rotl(v: bigint, n: number): bigint {
  return n === 0 ? v : ((v << BigInt(n)) | (v >> BigInt(64 - n))) & MASK
}

function keccakF(s: bigint[]): void {
  const c = new Array<bigint>(5)
  const b = new Array<bigint>(25)
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 5; x++) c[x] = s[x]! ^ s[x + 5]! ^ s[x + 10]! ^ s[x + 15]! ^ s[x + 20]!
    for (let x = 0; x < 5; x++) {
      const d = c[(x + 4) % 5]! ^ rotl(c[(x + 1) % 5]!, 1)
      for (let y = 0; y < 25; y += 5) s[x + y]! ^= d
    }
    for (let x = 0; x < 5; x++) for (let y = 0; y < 5; y++) b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(s[x + 5 * y]!, ROT[x + 5 * y]!)
    for (let y = 0; y < 25; y += 5) for (let x = 0; x < 5; x++) s[x + y] = b[x + y]! ^ (~b[((x + 1) % 5) + y]! & b[((x + 2) % 5) + y]!)
    s[0] = s[0]! ^ RC[round]!
  }
}

/** Keccak-256 of `data`. */
export function keccak256(data: Uint8Array): Uint8Array {
  const padded = new Uint8Array((Math.floor(data.length / RATE) + 1) * RATE)
  padded.set(data)
  padded[data.length]! ^= 0x01
  padded[padded.length - 1]! ^= 0x80
  const view = new DataView(padded.buffer)
  const s = new Array<bigint>(25).fill(0n)
  for (let off = 0; off < padded.length; off += RATE) {
    for (let i = 0; i < RATE / 8; i++) s[i] = s[i]! ^ view.getBigUint64(off + i * 8, true)
    keccakF(s)
  }
  const out = new Uint8Array(32)
  const outView = new DataView(out.buffer)
  for (let i = 0; i < 4; i++) outView.setBigUint64(i * 8, s[i]!, true)
  return out
}

/**
 * The EIP-55 checksummed form of a 20-byte hex address, like ethers' getAddress (without ICAP): `0x` optional,
 * a mixed-case address must already carry the right checksum.
 */
export function checksumAddress(address: string): string {
  const hex = address.startsWith('0x') ? address.slice(2) : address
  if (!/^[0-9a-fA-F]{40}$/.test(hex)) throw new TypeError(`invalid address: ${address}`)
  const lower = hex.toLowerCase()
  const hash = keccak256(new TextEncoder().encode(lower))
  let out = '0x'
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!
  }
  if (/([A-F].*[a-f])|([a-f].*[A-F])/.test(hex) && out !== `0x${hex}`) throw new TypeError(`bad address checksum: ${address}`)
  return out
}
