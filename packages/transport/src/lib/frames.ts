/**
 * Binary frames of `/baran/msg/1.0.0`. On the wire each frame is `varint(length) || body` and
 * `body = type byte || fields`:
 *
 *   HELLO    0x01  varint len || device-cert record, varint len || peer-binding record,
 *                  varint len || revocations record (length 0 = none)   (records as encodeRecord bytes)
 *   ENVELOPE 0x02  varint len || id (UTF-8, 1..64 bytes), payload = the rest of the frame
 *   ACK      0x03  varint len || id, status byte (0 stored, 1 duplicate, 2 rejected),
 *                  reason = the rest (UTF-8, only for rejected)
 *   CLOSE    0x04  code byte, reason = the rest (UTF-8)
 *
 * Strict: no trailing bytes, minimal varints, fatal UTF-8 decoding, so each frame has one encoding.
 */
import { MAX_ID_BYTES, MAX_REASON_BYTES, MAX_RECORD_BYTES } from './constants.ts'
import {
  FrameTooLargeError,
  InvalidEnvelopeError,
  MalformedFrameError,
  UnknownFrameTypeError,
} from './errors.ts'
import { decodeVarint, encodeVarint, varintLength, writeVarint } from './varint.ts'

/** Frame type bytes. */
export const FrameType = { hello: 0x01, envelope: 0x02, ack: 0x03, close: 0x04 } as const
export type FrameType = keyof typeof FrameType

/** ACK statuses and their bytes. */
export const AckStatus = { stored: 0, duplicate: 1, rejected: 2 } as const
export type AckStatus = keyof typeof AckStatus

/** CLOSE codes and their bytes; a byte outside this table decodes as 'unknown'. */
export const CloseCode = {
  normal: 0,
  handshake_failed: 1,
  handshake_timeout: 2,
  idle_timeout: 3,
  protocol_error: 4,
  frame_too_large: 5,
  internal_error: 6,
  going_away: 7,
  /** the remote's device is revoked by its account (at the handshake or later) */
  revoked: 8,
  /** the receiver holds too many streams of this peer (or too many unverified ones) already */
  too_many_streams: 9,
  unknown: 255,
} as const
export type CloseCode = keyof typeof CloseCode

export interface HelloFrame {
  type: 'hello'
  deviceCert: Uint8Array
  peerBinding: Uint8Array
  revocations?: Uint8Array
}
export interface EnvelopeFrame {
  type: 'envelope'
  id: string
  payload: Uint8Array
}
export interface AckFrame {
  type: 'ack'
  id: string
  status: AckStatus
  reason?: string
}
export interface CloseFrame {
  type: 'close'
  code: CloseCode
  reason: string
}
export type Frame = HelloFrame | EnvelopeFrame | AckFrame | CloseFrame

const encoder = new TextEncoder()
const NO_BYTES = new Uint8Array(0)
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Cuts a string to at most `max` bytes of UTF-8 without splitting a character. */
export function truncateUtf8(s: string, max: number): Uint8Array {
  const bytes = encoder.encode(s)
  if (bytes.length <= max) return bytes
  let end = max
  // step back over continuation bytes (10xxxxxx) to a character boundary
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}

/** UTF-8 bytes of an envelope id; throws InvalidEnvelopeError unless it is a 1..64 byte string. */
export function idBytes(id: unknown): Uint8Array {
  if (typeof id !== 'string') throw new InvalidEnvelopeError('envelope id must be a string')
  const b = (id.length <= MAX_ID_BYTES ? asciiBytes(id) : undefined) ?? encoder.encode(id)
  if (b.length === 0 || b.length > MAX_ID_BYTES) {
    throw new InvalidEnvelopeError(`envelope id must be 1..${MAX_ID_BYTES} bytes of UTF-8, got ${b.length}`)
  }
  return b
}

/**
 * A short ASCII string's bytes written by hand, or undefined when it holds another character. Ids are ASCII in
 * practice, and TextEncoder's call into C++ cost a message ~4 µs more than this loop on a process that had been idle
 * (its code and data out of the CPU's caches: the case of every round trip between two lab nodes).
 */
function asciiBytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f) return undefined
    out[i] = c
  }
  return out
}

/** The string of short ASCII bytes (see asciiBytes), or undefined when a byte is not ASCII. */
function asciiString(b: Uint8Array): string | undefined {
  if (b.length > MAX_ID_BYTES) return undefined
  let s = ''
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number
    if (c > 0x7f) return undefined
    s += String.fromCharCode(c)
  }
  return s
}

/** Bytes of a HELLO or CLOSE body (type byte + fields), without the length prefix (ENVELOPE and ACK: encodeIdFrame). */
function bodyParts(frame: HelloFrame | CloseFrame): Uint8Array[] {
  switch (frame.type) {
    case 'hello': {
      const rev = frame.revocations ?? NO_BYTES
      for (const r of [frame.deviceCert, frame.peerBinding, rev]) {
        if (!(r instanceof Uint8Array)) throw new MalformedFrameError('HELLO records must be bytes')
        if (r.length > MAX_RECORD_BYTES) throw new FrameTooLargeError(`HELLO record over ${MAX_RECORD_BYTES} bytes`)
      }
      if (frame.deviceCert.length === 0 || frame.peerBinding.length === 0) {
        throw new MalformedFrameError('HELLO needs a device certificate and a peer binding')
      }
      return [
        Uint8Array.of(FrameType.hello),
        ...lengthPrefixed(frame.deviceCert),
        ...lengthPrefixed(frame.peerBinding),
        ...lengthPrefixed(rev),
      ]
    }
    case 'close': {
      const code = CloseCode[frame.code]
      if (code === undefined) throw new MalformedFrameError(`unknown CLOSE code: ${String(frame.code)}`)
      return [Uint8Array.of(FrameType.close, code), truncateUtf8(frame.reason, MAX_REASON_BYTES)]
    }
    default:
      throw new UnknownFrameTypeError(`cannot encode frame type ${String((frame as { type: unknown }).type)}`)
  }
}

/** A field as [its length varint, its bytes] (views; encodeFrame copies each once). */
function lengthPrefixed(b: Uint8Array): [Uint8Array, Uint8Array] {
  return [encodeVarint(b.length), b]
}

/**
 * Encodes a frame with its length prefix. Throws FrameTooLargeError when the body would exceed
 * `maxFrameBytes`, InvalidEnvelopeError for a bad id or payload.
 */
export function encodeFrame(frame: Frame, maxFrameBytes: number): Uint8Array {
  if (frame.type === 'envelope' || frame.type === 'ack') return encodeIdFrame(frame, maxFrameBytes)
  const parts = bodyParts(frame)
  let size = 0
  for (const p of parts) size += p.length
  if (size > maxFrameBytes) {
    throw new FrameTooLargeError(`frame of ${size} bytes exceeds the maximum of ${maxFrameBytes}`)
  }
  const out = new Uint8Array(varintLength(size) + size)
  let off = writeVarint(size, out, 0)
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/**
 * An ENVELOPE or an ACK (every message's two frames) written straight into one buffer: type, id length, id, then
 * the payload, or the status byte and a rejection's reason. An id is at most MAX_ID_BYTES (< 128), so its length is
 * one byte.
 */
function encodeIdFrame(frame: EnvelopeFrame | AckFrame, maxFrameBytes: number): Uint8Array {
  const id = idBytes(frame.id)
  let tail: Uint8Array
  let status: number | undefined
  if (frame.type === 'envelope') {
    tail = frame.payload
    if (!(tail instanceof Uint8Array)) throw new InvalidEnvelopeError('envelope payload must be a Uint8Array')
  } else {
    status = AckStatus[frame.status]
    if (status === undefined) throw new MalformedFrameError(`unknown ACK status: ${String(frame.status)}`)
    tail = frame.status === 'rejected' ? truncateUtf8(frame.reason ?? '', MAX_REASON_BYTES) : NO_BYTES
  }
  const size = 2 + id.length + (status === undefined ? 0 : 1) + tail.length
  if (size > maxFrameBytes) {
    throw new FrameTooLargeError(`frame of ${size} bytes exceeds the maximum of ${maxFrameBytes}`)
  }
  const out = new Uint8Array(varintLength(size) + size)
  let off = writeVarint(size, out, 0)
  out[off++] = FrameType[frame.type]
  out[off++] = id.length
  out.set(id, off)
  off += id.length
  if (status !== undefined) out[off++] = status
  out.set(tail, off)
  return out
}

/** Largest payload that fits in one ENVELOPE frame with this id. */
export function maxPayloadBytes(id: string, maxFrameBytes: number): number {
  const n = idBytes(id).length
  return maxFrameBytes - 1 - varintLength(n) - n
}

/** A cursor over one frame body; every read checks bounds and throws MalformedFrameError. */
class Reader {
  private pos: number
  private readonly body: Uint8Array

  constructor(body: Uint8Array, pos: number) {
    this.body = body
    this.pos = pos
  }

  byte(what: string): number {
    const b = this.body[this.pos]
    if (b === undefined) throw new MalformedFrameError(`frame ends before ${what}`)
    this.pos++
    return b
  }

  bytes(what: string, max: number): Uint8Array {
    const len = decodeVarint(this.body, this.pos)
    if (len === undefined) throw new MalformedFrameError(`frame ends inside the length of ${what}`)
    if (len.value > max) throw new MalformedFrameError(`${what} is ${len.value} bytes, more than ${max}`)
    const start = this.pos + len.bytes
    const end = start + len.value
    if (end > this.body.length) throw new MalformedFrameError(`frame ends inside ${what}`)
    this.pos = end
    return this.body.subarray(start, end)
  }

  rest(): Uint8Array {
    const r = this.body.subarray(this.pos)
    this.pos = this.body.length
    return r
  }

  end(): void {
    if (this.pos !== this.body.length) throw new MalformedFrameError('trailing bytes after the last field')
  }
}

function utf8(b: Uint8Array, what: string): string {
  const ascii = asciiString(b)
  if (ascii !== undefined) return ascii
  try {
    return decoder.decode(b)
  } catch (err) {
    throw new MalformedFrameError(`${what} is not valid UTF-8`, { cause: err })
  }
}

function readId(r: Reader): string {
  const b = r.bytes('envelope id', MAX_ID_BYTES)
  if (b.length === 0) throw new MalformedFrameError('envelope id is empty')
  return utf8(b, 'envelope id')
}

function readReason(r: Reader): string {
  const b = r.rest()
  if (b.length > MAX_REASON_BYTES) throw new MalformedFrameError(`reason longer than ${MAX_REASON_BYTES} bytes`)
  return utf8(b, 'reason')
}

const closeCodeByByte = new Map<number, CloseCode>(
  Object.entries(CloseCode).map(([name, byte]) => [byte, name as CloseCode]),
)

/**
 * Parses one frame body (without its length prefix). Throws UnknownFrameTypeError for an unknown
 * type byte and MalformedFrameError for anything else that does not parse.
 */
export function decodeFrame(body: Uint8Array): Frame {
  const r = new Reader(body, 0)
  const type = r.byte('the type byte')
  switch (type) {
    case FrameType.hello: {
      const deviceCert = r.bytes('device certificate', MAX_RECORD_BYTES)
      const peerBinding = r.bytes('peer binding', MAX_RECORD_BYTES)
      const revocations = r.bytes('revocations', MAX_RECORD_BYTES)
      r.end()
      if (deviceCert.length === 0 || peerBinding.length === 0) {
        throw new MalformedFrameError('HELLO needs a device certificate and a peer binding')
      }
      return revocations.length > 0
        ? { type: 'hello', deviceCert, peerBinding, revocations }
        : { type: 'hello', deviceCert, peerBinding }
    }
    case FrameType.envelope: {
      const id = readId(r)
      return { type: 'envelope', id, payload: r.rest() }
    }
    case FrameType.ack: {
      const id = readId(r)
      const statusByte = r.byte('the ACK status')
      const status = (['stored', 'duplicate', 'rejected'] as const)[statusByte]
      if (status === undefined) throw new MalformedFrameError(`unknown ACK status byte ${statusByte}`)
      if (status !== 'rejected') {
        r.end()
        return { type: 'ack', id, status }
      }
      return { type: 'ack', id, status, reason: readReason(r) }
    }
    case FrameType.close: {
      const codeByte = r.byte('the CLOSE code')
      return { type: 'close', code: closeCodeByByte.get(codeByte) ?? 'unknown', reason: readReason(r) }
    }
    default:
      throw new UnknownFrameTypeError(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`)
  }
}

/**
 * Splits a byte stream into frame bodies. The length prefix is judged as soon as it is complete,
 * so an oversized frame is refused before its body is buffered.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number
  private chunks: Uint8Array[] = []
  private buffered = 0
  /** Body length of the frame being collected, once its prefix has been read. */
  private need: number | undefined

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buffered
  }

  /**
   * Adds received bytes and returns the complete frame bodies they finish. Throws
   * FrameTooLargeError or MalformedFrameError (bad varint, empty frame); the decoder is then unusable.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    // nothing held back: the chunk's whole frames are views of it, without passing through the buffer
    let pos = 0
    if (this.buffered === 0 && this.need === undefined) {
      for (;;) {
        const header = decodeVarint(chunk, pos)
        if (header === undefined) break
        this.check(header.value)
        const end = pos + header.bytes + header.value
        if (end > chunk.length) break
        out.push(chunk.subarray(pos + header.bytes, end))
        pos = end
      }
      if (pos === chunk.length) return out
    }
    const rest = pos === 0 ? chunk : chunk.subarray(pos)
    if (rest.length > 0) {
      this.chunks.push(rest)
      this.buffered += rest.length
    }
    for (;;) {
      if (this.need === undefined) {
        const header = decodeVarint(this.head())
        if (header === undefined) break
        this.check(header.value)
        this.take(header.bytes)
        this.need = header.value
      }
      if (this.buffered < this.need) break
      out.push(this.take(this.need))
      this.need = undefined
    }
    return out
  }

  /** Throws when a length prefix announces an empty or oversized frame. */
  private check(length: number): void {
    if (length > this.maxFrameBytes) {
      throw new FrameTooLargeError(`length prefix announces ${length} bytes, more than the maximum of ${this.maxFrameBytes}`)
    }
    if (length === 0) throw new MalformedFrameError('empty frame')
  }

  /** The first buffered bytes, enough for a length prefix (a varint is at most 5 bytes). */
  private head(): Uint8Array {
    const first = this.chunks[0]
    if (first === undefined || first.length >= 5 || this.chunks.length === 1) return first ?? NO_BYTES
    const out = new Uint8Array(Math.min(5, this.buffered))
    let off = 0
    for (const c of this.chunks) {
      const k = Math.min(c.length, out.length - off)
      out.set(c.subarray(0, k), off)
      off += k
      if (off === out.length) break
    }
    return out
  }

  /** Removes and returns the first `n` buffered bytes (a view when they sit in one chunk). */
  private take(n: number): Uint8Array {
    const first = this.chunks[0]
    let out: Uint8Array
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = new Uint8Array(n)
      let off = 0
      while (off < n) {
        const c = this.chunks[0]!
        const k = Math.min(c.length, n - off)
        out.set(c.subarray(0, k), off)
        off += k
        if (k === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.buffered -= n
    return out
  }
}
