/**
 * Unsigned LEB128 varints for frame lengths and field lengths. Limited to 32 bits (5 bytes) and
 * to the minimal encoding, so every value has exactly one encoding and a length prefix can be
 * judged as soon as its bytes arrive.
 */
import { MalformedFrameError } from './errors.ts'

/** Largest value a varint may carry. */
export const MAX_VARINT = 0xffff_ffff

/** Bytes needed to encode `value`. */
export function varintLength(value: number): number {
  let n = 1
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) n++
  return n
}

/** Writes `value` into `out` at `offset`; returns the offset after it. */
export function writeVarint(value: number, out: Uint8Array, offset: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) {
    throw new MalformedFrameError(`varint out of range: ${value}`)
  }
  let v = value
  let i = offset
  while (v >= 0x80) {
    out[i++] = (v % 128) | 0x80
    v = Math.floor(v / 128)
  }
  out[i++] = v
  return i
}

/** Encodes `value` as its own byte array. */
export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value))
  writeVarint(value, out, 0)
  return out
}

/**
 * Reads a varint from `bytes` at `offset`. Returns undefined when `bytes` ends inside it; throws MalformedFrameError
 * when the varint is longer than 5 bytes, exceeds 32 bits, or is not minimally encoded.
 */
export function decodeVarint(bytes: Uint8Array, offset = 0): { value: number; bytes: number } | undefined {
  let value = 0
  let scale = 1
  for (let i = 0; i < 5; i++) {
    const b = bytes[offset + i]
    if (b === undefined) return undefined
    value += (b & 0x7f) * scale
    scale *= 128
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new MalformedFrameError('varint is not minimally encoded')
      if (value > MAX_VARINT) throw new MalformedFrameError('varint exceeds 32 bits')
      return { value, bytes: i + 1 }
    }
  }
  throw new MalformedFrameError('varint longer than 5 bytes')
}
