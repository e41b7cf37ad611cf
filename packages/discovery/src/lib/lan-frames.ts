import { z } from 'zod'
import { LAN_MAX_FRAME_BYTES, LAN_MAX_RECORDS_PER_FRAME, MAX_BUNDLE_BYTES } from './constants.ts'
import { MalformedFrameError } from './errors.ts'

/**
 * Frames of `/baran/lan/1.0.0` (LAN-only discovery): one request and one reply per stream, each a varint
 * length-prefixed UTF-8 JSON object of at most LAN_MAX_FRAME_BYTES. Records are { key, value: base64url }.
 *   push { t:'push', records } → ok { t:'ok', stored }      (gossip: records the sender holds or just learnt)
 *   get  { t:'get', keys }     → records { t:'records', records } (what the receiver holds under those keys)
 *   any failure → err { t:'err', code, message }
 */
const key = z.string().min(1).max(64)
const value = z
  .string()
  .max(Math.ceil((MAX_BUNDLE_BYTES * 4) / 3) + 4)
  .regex(/^[A-Za-z0-9_-]*$/)
const record = z.strictObject({ key, value })
const records = z.array(record).max(LAN_MAX_RECORDS_PER_FRAME)

const lanFrameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('push'), records }),
  z.strictObject({ t: z.literal('get'), keys: z.array(key).min(1).max(LAN_MAX_RECORDS_PER_FRAME) }),
  z.strictObject({ t: z.literal('ok'), stored: z.int().min(0) }),
  z.strictObject({ t: z.literal('records'), records }),
  z.strictObject({ t: z.literal('err'), code: z.string().max(64), message: z.string().max(512) }),
])

/** A LAN protocol frame. */
export type LanFrame = z.infer<typeof lanFrameSchema>
/** A record on the wire. */
export type LanRecord = z.infer<typeof record>

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Frame → bytes (without the length prefix); MalformedFrameError over the size limit. */
export function encodeLanFrame(frame: LanFrame): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(frame))
  if (bytes.length > LAN_MAX_FRAME_BYTES) throw new MalformedFrameError(`frame is ${bytes.length} bytes, over ${LAN_MAX_FRAME_BYTES}`)
  return bytes
}

/** Bytes → frame; MalformedFrameError for anything that is not a known frame. */
export function decodeLanFrame(bytes: Uint8Array): LanFrame {
  if (bytes.length > LAN_MAX_FRAME_BYTES) throw new MalformedFrameError(`frame is ${bytes.length} bytes, over ${LAN_MAX_FRAME_BYTES}`)
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(bytes))
  } catch (cause) {
    throw new MalformedFrameError('frame is not UTF-8 JSON', { cause })
  }
  const parsed = lanFrameSchema.safeParse(json)
  if (!parsed.success) throw new MalformedFrameError(`not a LAN frame: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
  return parsed.data
}

/** Splits records into push frames that each fit the frame size and count limits. */
export function chunkRecords(all: LanRecord[]): LanRecord[][] {
  const out: LanRecord[][] = []
  let cur: LanRecord[] = []
  let size = 64
  for (const r of all) {
    const n = r.key.length + r.value.length + 32
    if (cur.length > 0 && (size + n > LAN_MAX_FRAME_BYTES || cur.length >= LAN_MAX_RECORDS_PER_FRAME)) {
      out.push(cur)
      cur = []
      size = 64
    }
    cur.push(r)
    size += n
  }
  if (cur.length > 0) out.push(cur)
  return out
}
