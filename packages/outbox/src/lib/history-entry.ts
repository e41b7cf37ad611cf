import { canonicalEncode } from '@baran/trust'
import { z } from 'zod'
import { MessageIdSchema } from './ids.ts'
import { decodeJsonValue } from './kv.ts'

const Id = z.string().regex(/^[0-9a-f]{40}$/)
const Time = z.number().int().nonnegative()

/** One recipient device's delivery of a message this account sent (sync copies to own devices are not listed). */
export const HistoryDeviceSchema = z.object({
  deviceId: Id,
  state: z.enum(['queued', 'delivered', 'expired', 'rejected']),
  at: Time.optional(),
  readAt: Time.optional(),
})
export type HistoryDevice = z.infer<typeof HistoryDeviceSchema>

/**
 * One message of a conversation as the history keeps it, in both directions. `peer` is the other account (this
 * account itself for notes to self). `updatedAt` is when this copy last changed: the merge of two copies (device
 * sync) takes per-field maxima, so it is informative only.
 */
export const HistoryEntrySchema = z.object({
  v: z.literal(1),
  id: MessageIdSchema,
  peer: Id,
  direction: z.enum(['in', 'out']),
  from: Id,
  fromDevice: Id,
  to: Id,
  /** The text, for messages received (this account's conversation store, as the inbox is). */
  body: z.string().optional(),
  /**
   * A message this device sent: its body sealed to this device (the outbox record's envelope, base64), so the text
   * is not in the clear on the sender's side; `outbox.history` opens it through identity.
   */
  sealed: z.string().max(120_000).optional(),
  sentAt: Time,
  /** When this device stored it (received, or sent from here). */
  storedAt: Time,
  /** The previous message of the same sending device in this conversation (absent: first, or an older sender). */
  prev: MessageIdSchema.optional(),
  /** Out: each recipient device's delivery. */
  devices: z.array(HistoryDeviceSchema).optional(),
  /** In: when this account read it. */
  readAt: Time.optional(),
  updatedAt: Time,
})
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>

/** What a message's state reads as in one word: `read` and `delivered` once any recipient device got that far. */
export type HistoryState = 'received' | 'read' | 'queued' | 'delivered' | 'expired' | 'rejected'

export function summaryState(e: HistoryEntry): HistoryState {
  if (e.direction === 'in') return e.readAt === undefined ? 'received' : 'read'
  const ds = e.devices ?? []
  if (ds.some((d) => d.readAt !== undefined)) return 'read'
  if (ds.some((d) => d.state === 'delivered')) return 'delivered'
  if (ds.length > 0 && ds.every((d) => d.state === 'expired' || d.state === 'rejected')) return ds.some((d) => d.state === 'rejected') ? 'rejected' : 'expired'
  return 'queued'
}

const RANK: Record<HistoryDevice['state'], number> = { queued: 0, expired: 1, rejected: 1, delivered: 2 }

/**
 * Two copies of one message (this device's and another's) merged field by field, the same whoever merges: the
 * immutable fields come from either (they are equal), each recipient device keeps its furthest state (delivered
 * beats a final failure beats queued) and its earliest times, readAt the earliest. Every field only moves one way,
 * so this is a join: commutative, associative, idempotent (a state-based CRDT), and no clock tiebreak is needed.
 */
export function mergeEntries(a: HistoryEntry, b: HistoryEntry): HistoryEntry {
  const devices = new Map<string, HistoryDevice>()
  for (const d of [...(a.devices ?? []), ...(b.devices ?? [])]) {
    const known = devices.get(d.deviceId)
    devices.set(d.deviceId, known ? mergeDevice(known, d) : d)
  }
  const readAt = minDefined(a.readAt, b.readAt)
  const out: HistoryEntry = {
    ...a,
    storedAt: Math.min(a.storedAt, b.storedAt),
    ...(a.prev ?? b.prev ? { prev: (a.prev ?? b.prev) as string } : {}),
    ...(devices.size > 0 ? { devices: [...devices.values()].sort((x, y) => (x.deviceId < y.deviceId ? -1 : 1)) } : {}),
    ...(readAt === undefined ? {} : { readAt }),
    updatedAt: Math.max(a.updatedAt, b.updatedAt),
  }
  if (devices.size === 0) delete out.devices
  if (readAt === undefined) delete out.readAt
  return out
}

function mergeDevice(a: HistoryDevice, b: HistoryDevice): HistoryDevice {
  const [hi, lo] = RANK[b.state] > RANK[a.state] || (RANK[b.state] === RANK[a.state] && b.state > a.state) ? [b, a] : [a, b]
  const at = hi.state === lo.state ? minDefined(hi.at, lo.at) : hi.at
  const readAt = minDefined(a.readAt, b.readAt)
  return { deviceId: a.deviceId, state: hi.state, ...(at === undefined ? {} : { at }), ...(readAt === undefined ? {} : { readAt }) }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}

/** True when merging `incoming` into `current` changes nothing (no write needed). */
export function sameEntry(a: HistoryEntry, b: HistoryEntry): boolean {
  const { updatedAt: _a, ...x } = a
  const { updatedAt: _b, ...y } = b
  return Buffer.from(canonicalEncode(x)).equals(canonicalEncode(y))
}

/** A message as `outbox.history` shows it. */
export interface HistoryMessage {
  id: string
  direction: 'in' | 'out'
  from: string
  fromDevice: string
  to: string
  body: string
  /** Set when `body` is still sealed to this device (the actor opens it before replying). */
  sealed?: string
  sentAt: number
  storedAt: number
  prev?: string
  state: HistoryState
  read: boolean
  readAt?: number
  devices?: HistoryDevice[]
}

/** A message as it arrives at the history (from `send`, or from the inbox). */
export interface HistoryInput {
  id: string
  from: string
  fromDevice: string
  to: string
  /** The text, or (a message sent from here) `sealed`: the body sealed to this device. */
  body?: string
  sealed?: string
  sentAt: number
  prev?: string
}

/** A new entry for a message first stored here. */
export function newEntry(m: HistoryInput, peer: string, direction: 'in' | 'out', now: number): HistoryEntry {
  return {
    v: 1,
    id: m.id,
    peer,
    direction,
    from: m.from,
    fromDevice: m.fromDevice,
    to: m.to,
    ...(m.sealed !== undefined ? { sealed: m.sealed } : { body: m.body ?? '' }),
    sentAt: m.sentAt,
    storedAt: now,
    ...(m.prev ? { prev: m.prev } : {}),
    updatedAt: now,
  }
}

export function toMessage(e: HistoryEntry): HistoryMessage {
  const readAt = e.direction === 'in' ? e.readAt : minRead(e.devices)
  return {
    id: e.id,
    direction: e.direction,
    from: e.from,
    fromDevice: e.fromDevice,
    to: e.to,
    body: e.body ?? '',
    ...(e.sealed !== undefined ? { sealed: e.sealed } : {}),
    sentAt: e.sentAt,
    storedAt: e.storedAt,
    ...(e.prev ? { prev: e.prev } : {}),
    state: summaryState(e),
    read: readAt !== undefined,
    ...(readAt === undefined ? {} : { readAt }),
    ...(e.devices ? { devices: e.devices } : {}),
  }
}

function minRead(ds: HistoryDevice[] | undefined): number | undefined {
  let at: number | undefined
  for (const d of ds ?? []) if (d.readAt !== undefined && (at === undefined || d.readAt < at)) at = d.readAt
  return at
}

/** An entry from the bucket, or undefined when it does not decode. */
export function decodeEntry(value: Uint8Array): HistoryEntry | undefined {
  const parsed = HistoryEntrySchema.safeParse(safeJson(value))
  return parsed.success ? parsed.data : undefined
}

export function safeJson(value: Uint8Array): unknown {
  try {
    return decodeJsonValue(value)
  } catch {
    return undefined
  }
}
