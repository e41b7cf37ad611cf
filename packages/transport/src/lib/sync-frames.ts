/**
 * Frames of `/baran/history-sync/1.0.0` (sync-channel.ts). On the wire each is `varint(length) || body`,
 * `body = type byte || fields`, at most MAX_SYNC_FRAME_BYTES:
 *
 *   HELLO   0x01  the message protocol's HELLO body (frames.ts): device cert, peer binding, revocations
 *   REQUEST 0x10  UTF-8 JSON: a SyncRequest (@baran/bus)                  opener → acceptor
 *   ANSWER  0x11  UTF-8 JSON: a SyncAnswer                                acceptor → opener
 *   REFUSED 0x12  code byte || reason (UTF-8)                             acceptor → opener
 *
 * Strict: fatal UTF-8, JSON checked against the zod schemas of the bus contracts; anything else is a
 * MalformedFrameError that says what was wrong.
 */
import { type SyncAnswer, SyncAnswerSchema, type SyncRequest, SyncRequestSchema } from '@baran/bus'
import type { z } from 'zod'
import { MalformedFrameError } from './errors.ts'
import { decodeFrame, type HelloFrame, truncateUtf8 } from './frames.ts'
import { decodeVarint } from './varint.ts'

/** One frame at most: a page of 200 messages fits (the outbox cuts answers at 768 KiB of JSON). */
export const MAX_SYNC_FRAME_BYTES = 1024 * 1024
const MAX_REASON_BYTES = 512

export const SyncRefusal = {
  handshake_failed: 1,
  revoked: 2,
  not_own_device: 3,
  malformed_frame: 4,
  frame_too_large: 5,
  invalid_request: 6,
  busy: 7,
  unavailable: 8,
  internal_error: 9,
  going_away: 10,
  unknown: 255,
} as const
export type SyncRefusal = keyof typeof SyncRefusal

export type SyncFrame =
  | HelloFrame
  | { type: 'request'; request: SyncRequest }
  | { type: 'answer'; answer: SyncAnswer }
  | { type: 'refused'; code: SyncRefusal; reason: string }

const TYPE = { hello: 0x01, request: 0x10, answer: 0x11, refused: 0x12 } as const
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** A HELLO frame body from the message protocol's length-prefixed HELLO frame (helloFrameOf). */
export function syncHelloOf(prefixedHello: Uint8Array): Uint8Array {
  const len = decodeVarint(prefixedHello)
  if (len === undefined) throw new MalformedFrameError('HELLO frame without its length')
  return prefixedHello.subarray(len.bytes)
}

export function encodeSyncRequest(request: SyncRequest): Uint8Array {
  return typed(TYPE.request, encoder.encode(JSON.stringify(request)))
}

export function encodeSyncAnswer(answer: SyncAnswer): Uint8Array {
  return typed(TYPE.answer, encoder.encode(JSON.stringify(answer)))
}

function typed(type: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1)
  out[0] = type
  out.set(bytes, 1)
  return out
}

export function encodeSyncRefused(code: SyncRefusal, reason: string): Uint8Array {
  return Uint8Array.of(TYPE.refused, SyncRefusal[code], ...truncateUtf8(reason, MAX_REASON_BYTES))
}

export function decodeSyncFrame(body: Uint8Array): SyncFrame {
  if (body.length === 0) throw new MalformedFrameError('empty frame')
  if (body.length > MAX_SYNC_FRAME_BYTES) throw new MalformedFrameError(`frame of ${body.length} bytes, at most ${MAX_SYNC_FRAME_BYTES}`)
  const rest = body.subarray(1)
  switch (body[0]) {
    case TYPE.hello: {
      const f = decodeFrame(body)
      if (f.type !== 'hello') throw new MalformedFrameError('not a HELLO frame')
      return f
    }
    case TYPE.request:
      return { type: 'request', request: json(rest, SyncRequestSchema, 'request') }
    case TYPE.answer:
      return { type: 'answer', answer: json(rest, SyncAnswerSchema, 'answer') }
    case TYPE.refused: {
      if (rest.length === 0) throw new MalformedFrameError('refusal without a code')
      const code = (Object.keys(SyncRefusal) as SyncRefusal[]).find((k) => SyncRefusal[k] === rest[0]) ?? 'unknown'
      return { type: 'refused', code, reason: text(rest.subarray(1), 'refusal reason') }
    }
    default:
      throw new MalformedFrameError(`unknown history sync frame type 0x${body[0]!.toString(16).padStart(2, '0')}`)
  }
}

function json<T extends z.ZodType>(bytes: Uint8Array, schema: T, what: string): z.output<T> {
  let value: unknown
  try {
    value = JSON.parse(text(bytes, what))
  } catch (err) {
    if (err instanceof MalformedFrameError) throw err
    throw new MalformedFrameError(`${what} is not JSON`, { cause: err })
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const first = parsed.error.issues[0]
    throw new MalformedFrameError(`invalid ${what}: ${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'does not match its schema'}`.slice(0, 400))
  }
  return parsed.data
}

function text(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes)
  } catch (err) {
    throw new MalformedFrameError(`${what} is not valid UTF-8`, { cause: err })
  }
}
