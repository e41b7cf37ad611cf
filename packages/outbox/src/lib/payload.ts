import { canonicalDecode, canonicalEncode } from '@baran/trust'
import { z } from 'zod'
import { MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, MAX_TTL_MS } from './constants.ts'
import { BodyTooLargeError, MalformedPayloadError, PayloadTooLargeError, UnsupportedPayloadVersionError } from './errors.ts'
import { MessageIdSchema } from './ids.ts'

/**
 * What travels between nodes inside a transport envelope: canonical JSON (sorted keys, integers only), checked
 * with zod on decode. The sender's identity is NOT taken from here: the transport handshake authenticates the
 * sending device, and the receiver requires `from`/`fromDevice` to match it.
 */
export const PAYLOAD_VERSION = 1

const Id = z.string().regex(/^[0-9a-f]{40}$/, 'a 40-char lowercase hex ID')
const Time = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

export const MessagePayloadSchema = z
  .object({
    v: z.literal(PAYLOAD_VERSION),
    kind: z.literal('message'),
    id: MessageIdSchema,
    from: Id,
    fromDevice: Id,
    to: Id,
    body: z.string(),
    sentAt: Time,
    expiresAt: Time,
    /** A copy for the sender's own other devices (to is still the recipient). */
    sync: z.boolean(),
    /** The previous message this sending device sent in this conversation: a receiver without it knows of a gap. */
    prev: MessageIdSchema.optional(),
  })
  .strict()
  .refine((p) => p.expiresAt - p.sentAt <= MAX_TTL_MS, { message: 'expiresAt is too far after sentAt', path: ['expiresAt'] })
export type MessagePayload = z.infer<typeof MessagePayloadSchema>

export const ReceiptPayloadSchema = z
  .object({
    v: z.literal(PAYLOAD_VERSION),
    kind: z.literal('receipt'),
    id: MessageIdSchema,
    /** The message this receipt is about. */
    ref: MessageIdSchema,
    from: Id,
    fromDevice: Id,
    to: Id,
    /** read: its user read it; delivered: it took the message from its DHT mailbox (no transport ack came back) */
    receipt: z.enum(['read', 'delivered']),
    at: Time,
  })
  .strict()
export type ReceiptPayload = z.infer<typeof ReceiptPayloadSchema>

export const PayloadSchema = z.discriminatedUnion('kind', [MessagePayloadSchema, ReceiptPayloadSchema])
export type Payload = MessagePayload | ReceiptPayload

const utf8 = new TextEncoder()
/** A body's size as it is limited: UTF-8 bytes. */
export function bodyBytes(body: string): number {
  return utf8.encode(body).length
}

/** Validates and encodes a payload; throws BodyTooLargeError, PayloadTooLargeError or MalformedPayloadError. */
export function encodePayload(payload: Payload): Uint8Array {
  if (payload.kind === 'message' && typeof payload.body === 'string' && bodyBytes(payload.body) > MAX_BODY_BYTES) {
    throw new BodyTooLargeError(`body is ${bodyBytes(payload.body)} bytes, the limit is ${MAX_BODY_BYTES}`)
  }
  const parsed = PayloadSchema.safeParse(payload)
  if (!parsed.success) throw new MalformedPayloadError(`payload: ${describe(parsed.error)}`, { cause: parsed.error })
  const bytes = canonicalEncode(parsed.data)
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new PayloadTooLargeError(`payload is ${bytes.length} bytes encoded, the limit is ${MAX_PAYLOAD_BYTES}`)
  return bytes
}

/**
 * Decodes bytes from the network. Anything but a well-formed payload throws a typed error (never a crash):
 * PayloadTooLargeError, MalformedPayloadError, UnsupportedPayloadVersionError or BodyTooLargeError.
 */
export function decodePayload(bytes: Uint8Array): Payload {
  if (!(bytes instanceof Uint8Array)) throw new MalformedPayloadError('payload: expected bytes')
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new PayloadTooLargeError(`payload is ${bytes.length} bytes, the limit is ${MAX_PAYLOAD_BYTES}`)
  let value: unknown
  try {
    value = canonicalDecode(bytes)
  } catch (e) {
    throw new MalformedPayloadError(`payload: ${(e as Error).message}`, { cause: e })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedPayloadError('payload: not an object')
  const v = (value as { v?: unknown }).v
  if (v !== PAYLOAD_VERSION) {
    if (typeof v === 'number') throw new UnsupportedPayloadVersionError(`payload v${v}: this node speaks v${PAYLOAD_VERSION}`)
    throw new MalformedPayloadError('payload: no version')
  }
  const body = (value as { body?: unknown }).body
  if (typeof body === 'string' && bodyBytes(body) > MAX_BODY_BYTES) {
    throw new BodyTooLargeError(`body is ${bodyBytes(body)} bytes, the limit is ${MAX_BODY_BYTES}`)
  }
  const parsed = PayloadSchema.safeParse(value)
  if (!parsed.success) throw new MalformedPayloadError(`payload: ${describe(parsed.error)}`, { cause: parsed.error })
  return parsed.data
}

function describe(error: z.ZodError): string {
  const first = error.issues[0]
  if (!first) return 'invalid'
  const path = first.path.map(String).join('.')
  return `${path ? `${path}: ` : ''}${first.message}`
}
