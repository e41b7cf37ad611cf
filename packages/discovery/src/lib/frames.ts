import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import type { Stream } from '@libp2p/interface'
import { FRAME_TIMEOUT_MS, MAX_BUNDLE_BYTES, MAX_FRAME_BYTES } from './constants.ts'
import { MalformedFrameError } from './errors.ts'

/**
 * Watch frames (inside rpc WATCH requests and replies; once `/baran/listen/1.0.0`): one request and one reply, each a varint
 * length-prefixed UTF-8 JSON object of at most MAX_FRAME_BYTES. Values travel as base64url.
 *   sub   { t:'sub', key, ttlMs }  → ok { ttlMs: granted, value?: what it stores now (new subscriptions only) }
 *   unsub { t:'unsub', key }       → ok {}
 *   push  { t:'push', key, value } → ok {}
 *   any failure → err { code, message }
 */
const key = z.string().min(1).max(64)
const value = z
  .string()
  .max(Math.ceil((MAX_BUNDLE_BYTES * 4) / 3) + 4)
  .regex(/^[A-Za-z0-9_-]*$/)
const ttlMs = z.int().min(0).max(Number.MAX_SAFE_INTEGER)

const frameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('sub'), key, ttlMs }),
  z.strictObject({ t: z.literal('unsub'), key }),
  z.strictObject({ t: z.literal('push'), key, value }),
  z.strictObject({ t: z.literal('ok'), ttlMs: ttlMs.optional(), value: value.optional() }),
  z.strictObject({ t: z.literal('err'), code: z.string().max(64), message: z.string().max(512) }),
])

/** A watch frame. */
export type Frame = z.infer<typeof frameSchema>

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Frame → bytes (without the length prefix). */
export function encodeFrame(frame: Frame): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(frame))
  if (bytes.length > MAX_FRAME_BYTES) throw new MalformedFrameError(`frame is ${bytes.length} bytes, over ${MAX_FRAME_BYTES}`)
  return bytes
}

/** Bytes → frame; throws MalformedFrameError for anything that is not a known frame. */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length > MAX_FRAME_BYTES) throw new MalformedFrameError(`frame is ${bytes.length} bytes, over ${MAX_FRAME_BYTES}`)
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(bytes))
  } catch (cause) {
    throw new MalformedFrameError('frame is not UTF-8 JSON', { cause })
  }
  const parsed = frameSchema.safeParse(json)
  if (!parsed.success) throw new MalformedFrameError(`not a watch frame: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
  return parsed.data
}

/** A framed view of a stream: read and write whole frames with a deadline. */
export interface FrameStream {
  read(timeoutMs?: number): Promise<Frame>
  write(frame: Frame, timeoutMs?: number): Promise<void>
}

/** Wrap a libp2p stream; reads refuse frames over MAX_FRAME_BYTES before buffering them. */
export function frameStream(stream: Stream): FrameStream {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_FRAME_BYTES * 2 })
  return {
    async read(timeoutMs = FRAME_TIMEOUT_MS) {
      let bytes: Uint8Array
      try {
        bytes = (await lp.read({ signal: AbortSignal.timeout(timeoutMs) })).subarray()
      } catch (cause) {
        throw new MalformedFrameError(`could not read a frame: ${(cause as Error).message}`, { cause })
      }
      return decodeFrame(bytes)
    },
    async write(frame, timeoutMs = FRAME_TIMEOUT_MS) {
      await lp.write(encodeFrame(frame), { signal: AbortSignal.timeout(timeoutMs) })
    },
  }
}
