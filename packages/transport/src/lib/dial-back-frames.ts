/**
 * Frames of `/baran/dial-back/1.0.0` (dial-back.ts). On the wire each is `varint(length) || body`,
 * `body = type byte || fields`, at most MAX_DIAL_BACK_FRAME_BYTES:
 *
 *   REQUEST 0x01  port (u16, big-endian, 1..65535) || nonce (16 bytes)       asker → server
 *   BACK    0x02  nonce (16 bytes) || dialled IP (UTF-8, an IPv4/IPv6 literal) server → asker, on the new connection
 *   ACK     0x03  nonce (16 bytes)                                            asker → server, on the new connection
 *   RESULT  0x04  status byte (0 ok, 1 dial_failed, 2 refused) || reason (UTF-8) server → asker
 *
 * Strict: exact lengths, fatal UTF-8 decoding, a valid IP literal; anything else is a
 * MalformedDialBackFrameError that names what was wrong.
 */
import { isIP } from 'node:net'
import { TransportError } from './errors.ts'
import { truncateUtf8 } from './frames.ts'

export const DIAL_BACK_NONCE_BYTES = 16
export const MAX_DIAL_BACK_FRAME_BYTES = 256
const MAX_REASON_BYTES = MAX_DIAL_BACK_FRAME_BYTES - 2

export const DialBackStatus = { ok: 0, dial_failed: 1, refused: 2 } as const
export type DialBackStatus = keyof typeof DialBackStatus

export type DialBackFrame =
  | { type: 'request'; port: number; nonce: Uint8Array }
  | { type: 'back'; nonce: Uint8Array; host: string }
  | { type: 'ack'; nonce: Uint8Array }
  | { type: 'result'; status: DialBackStatus; reason: string }

/** Thrown when bytes received on `/baran/dial-back/1.0.0` are not a well-formed frame. */
export class MalformedDialBackFrameError extends TransportError {
  constructor(message = 'Malformed dial-back frame', options?: ErrorOptions) {
    super('malformed_frame', message, options)
    this.name = 'MalformedDialBackFrameError'
  }
}

const TYPE = { request: 0x01, back: 0x02, ack: 0x03, result: 0x04 } as const
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function encodeDialBackFrame(frame: DialBackFrame): Uint8Array {
  switch (frame.type) {
    case 'request': {
      if (!Number.isInteger(frame.port) || frame.port < 1 || frame.port > 65535) throw new MalformedDialBackFrameError(`port out of range: ${frame.port}`)
      const out = new Uint8Array(3 + DIAL_BACK_NONCE_BYTES)
      out[0] = TYPE.request
      new DataView(out.buffer).setUint16(1, frame.port)
      out.set(nonceOf(frame.nonce), 3)
      return out
    }
    case 'back': {
      if (isIP(frame.host) === 0) throw new MalformedDialBackFrameError(`not an IP address: ${frame.host}`)
      return Uint8Array.of(TYPE.back, ...nonceOf(frame.nonce), ...encoder.encode(frame.host))
    }
    case 'ack':
      return Uint8Array.of(TYPE.ack, ...nonceOf(frame.nonce))
    case 'result': {
      // cut at a character boundary: the receiver decodes strictly
      return Uint8Array.of(TYPE.result, DialBackStatus[frame.status], ...truncateUtf8(frame.reason, MAX_REASON_BYTES))
    }
  }
}

export function decodeDialBackFrame(body: Uint8Array): DialBackFrame {
  if (body.length === 0) throw new MalformedDialBackFrameError('empty frame')
  if (body.length > MAX_DIAL_BACK_FRAME_BYTES) throw new MalformedDialBackFrameError(`frame of ${body.length} bytes, at most ${MAX_DIAL_BACK_FRAME_BYTES}`)
  const rest = body.subarray(1)
  switch (body[0]) {
    case TYPE.request: {
      if (rest.length !== 2 + DIAL_BACK_NONCE_BYTES) throw new MalformedDialBackFrameError(`request of ${body.length} bytes, expected ${3 + DIAL_BACK_NONCE_BYTES}`)
      const port = new DataView(rest.buffer, rest.byteOffset, 2).getUint16(0)
      if (port === 0) throw new MalformedDialBackFrameError('request for port 0')
      return { type: 'request', port, nonce: rest.slice(2) }
    }
    case TYPE.back: {
      if (rest.length <= DIAL_BACK_NONCE_BYTES) throw new MalformedDialBackFrameError('back frame without an address')
      const host = text(rest.subarray(DIAL_BACK_NONCE_BYTES), 'back address')
      if (isIP(host) === 0) throw new MalformedDialBackFrameError(`back frame address is not an IP: ${JSON.stringify(host.slice(0, 64))}`)
      return { type: 'back', nonce: rest.slice(0, DIAL_BACK_NONCE_BYTES), host }
    }
    case TYPE.ack:
      if (rest.length !== DIAL_BACK_NONCE_BYTES) throw new MalformedDialBackFrameError(`ack of ${body.length} bytes, expected ${1 + DIAL_BACK_NONCE_BYTES}`)
      return { type: 'ack', nonce: rest.slice() }
    case TYPE.result: {
      const status = (Object.keys(DialBackStatus) as DialBackStatus[]).find((k) => DialBackStatus[k] === rest[0])
      if (status === undefined) throw new MalformedDialBackFrameError(`unknown result status ${rest[0]}`)
      return { type: 'result', status, reason: text(rest.subarray(1), 'result reason') }
    }
    default:
      throw new MalformedDialBackFrameError(`unknown frame type 0x${body[0]!.toString(16).padStart(2, '0')}`)
  }
}

function nonceOf(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== DIAL_BACK_NONCE_BYTES) throw new MalformedDialBackFrameError(`nonce of ${nonce.length} bytes, expected ${DIAL_BACK_NONCE_BYTES}`)
  return nonce
}

function text(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes)
  } catch (err) {
    throw new MalformedDialBackFrameError(`${what} is not valid UTF-8`, { cause: err })
  }
}
