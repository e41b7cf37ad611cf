import { z } from 'zod'
import { PREVIEW_CHARS, UPDATE_RETRIES } from './constants.ts'
import { type DeliveryStateValue, isFinalDelivery } from './delivery-machine.ts'
import { CorruptRecordError, UpdateConflictError } from './errors.ts'
import { MessageIdSchema } from './ids.ts'
import { allEntries, decodeJsonValue, encodeJsonValue, isConflict, type KvStore } from './kv.ts'
import type { Payload } from './payload.ts'
import { RecordCache } from './record-cache.ts'

const Id = z.string().regex(/^[0-9a-f]{40}$/)
const Time = z.number().int()

/** The durable state of one device's delivery: 'sending' never reaches the store (it is only in memory). */
export const DeviceRecordSchema = z.object({
  deviceId: Id,
  state: z.enum(['queued', 'delivered', 'expired', 'rejected']),
  attempts: z.number().int().nonnegative(),
  sync: z.boolean(),
  nextAttemptAt: Time.optional(),
  deliveredAt: Time.optional(),
  readAt: Time.optional(),
  finishedAt: Time.optional(),
  lastError: z.string().optional(),
  /** When the envelope for this device was deposited in its DHT mailbox (docs/mailbox.md): once per device. */
  depositedAt: Time.optional(),
})
export type DeviceRecord = z.infer<typeof DeviceRecordSchema>

/** One outgoing message (or read receipt) as the `outbox` bucket keeps it, keyed by its ID. */
export const OutgoingRecordSchema = z.object({
  v: z.literal(1),
  id: MessageIdSchema,
  kind: z.enum(['message', 'receipt']),
  from: Id,
  fromDevice: Id,
  to: Id,
  toName: z.string().optional(),
  /** Records written before sealing at rest: the body in the clear (still delivered; new records carry `sealed`). */
  body: z.string().optional(),
  /** The body (UTF-8) as an envelope sealed to the sending device itself (base64): never in the clear at rest. */
  sealed: z.string().max(120_000).optional(),
  ref: MessageIdSchema.optional(),
  /** A receipt's kind @default 'read' */
  receipt: z.enum(['read', 'delivered']).optional(),
  /** The message's `prev` link (see payload.ts). */
  prev: MessageIdSchema.optional(),
  createdAt: Time,
  expiresAt: Time,
  devicesResolved: z.boolean(),
  expiredAt: Time.optional(),
  devices: z.array(DeviceRecordSchema),
})
export type OutgoingRecord = z.infer<typeof OutgoingRecordSchema>

/** True once nothing is left to do: every device is final (or the message expired unresolved). */
export function isFinished(r: OutgoingRecord): boolean {
  if (r.expiredAt !== undefined) return true
  return r.devicesResolved && r.devices.every((d) => isFinalDelivery(d.state))
}

/** When the record finished (undefined while it has not). */
export function finishedAt(r: OutgoingRecord): number | undefined {
  if (!isFinished(r)) return undefined
  let at = r.expiredAt ?? r.createdAt
  for (const d of r.devices) at = Math.max(at, d.finishedAt ?? d.deliveredAt ?? r.createdAt)
  return at
}

/** The payload a device gets for this record (sync copies are marked); `body` is the opened `sealed` body. */
export function payloadOf(r: OutgoingRecord, sync: boolean, body = r.body ?? ''): Payload {
  if (r.kind === 'receipt') {
    return { v: 1, kind: 'receipt', id: r.id, ref: r.ref ?? '', from: r.from, fromDevice: r.fromDevice, to: r.to, receipt: r.receipt ?? 'read', at: r.createdAt }
  }
  return { v: 1, kind: 'message', id: r.id, from: r.from, fromDevice: r.fromDevice, to: r.to, body, sentAt: r.createdAt, expiresAt: r.expiresAt, sync, ...(r.prev ? { prev: r.prev } : {}) }
}

/** The record as the outbox contracts show it (no body: a preview of `body`, the clear or opened one, when given). */
export function toOutgoing(r: OutgoingRecord, live?: (deviceId: string) => { state: DeliveryStateValue; attempts: number } | undefined, body = r.body) {
  return {
    id: r.id,
    kind: r.kind,
    to: r.to,
    ...(r.toName === undefined ? {} : { toName: r.toName }),
    ...(body === undefined ? {} : { preview: body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS)}…` : body }),
    ...(r.ref === undefined ? {} : { ref: r.ref }),
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    devicesResolved: r.devicesResolved,
    ...(r.expiredAt === undefined ? {} : { expiredAt: r.expiredAt }),
    devices: r.devices.map((d) => {
      const now = d.state === 'queued' ? live?.(d.deviceId) : undefined
      const { finishedAt: _f, ...rest } = d
      return now ? { ...rest, state: now.state, attempts: now.attempts } : rest
    }),
  }
}

/**
 * The `outbox` bucket: create-once records, and revision-checked updates that retry when another write got in
 * between. Updates of one record are also queued in this process, so they rarely race at all, and the last
 * version this process wrote of each unfinished record is kept with its revision (RecordCache), so an update
 * is one write and a delivery attempt reads nothing.
 */
export class OutboxRecordBucket {
  readonly kv: KvStore
  #chains = new Map<string, Promise<unknown>>()
  #cache: RecordCache<OutgoingRecord>

  constructor(kv: KvStore, opts: { cacheBytes?: number } = {}) {
    this.kv = kv
    this.#cache = new RecordCache(opts.cacheBytes)
  }

  /** Persists a new record; `conflict` if the ID exists. Resolves only once JetStream stored it. */
  async create(r: OutgoingRecord): Promise<void> {
    const record = OutgoingRecordSchema.parse(r)
    const value = encodeJsonValue(record)
    const revision = await this.kv.create(r.id, value)
    this.#remember(record, revision, value.byteLength)
  }

  /** The record as stored (always read from the bucket). */
  async get(id: string): Promise<OutgoingRecord | undefined> {
    const e = await this.kv.get(id)
    return e ? decodeRecord(e.key, e.value) : undefined
  }

  /** The record as this process last wrote it, else as stored: what a delivery attempt needs (its body). */
  async current(id: string): Promise<OutgoingRecord | undefined> {
    return this.#cache.get(id)?.record ?? this.get(id)
  }

  #remember(r: OutgoingRecord, revision: number, bytes: number): void {
    // A finished record is not written again (until it is pruned): it need not take room.
    if (isFinished(r)) this.#cache.delete(r.id)
    else this.#cache.set(r.id, r, revision, bytes)
  }

  /**
   * Applies `fn` to the current record and writes the result if it changed (same object back: no write).
   * Returns the record as stored, or undefined when there is none.
   */
  update(id: string, fn: (r: OutgoingRecord) => OutgoingRecord): Promise<OutgoingRecord | undefined> {
    const prev = this.#chains.get(id) ?? Promise.resolve()
    const run = prev.catch(() => undefined).then(() => this.#update(id, fn))
    this.#chains.set(id, run)
    const done = () => {
      if (this.#chains.get(id) === run) this.#chains.delete(id)
    }
    run.then(done, done)
    return run
  }

  async #update(id: string, fn: (r: OutgoingRecord) => OutgoingRecord): Promise<OutgoingRecord | undefined> {
    for (let i = 0; i < UPDATE_RETRIES; i++) {
      // First try: the version this process wrote last, if it has one; after a conflict, what is stored.
      const cached = i === 0 ? this.#cache.get(id) : undefined
      let current: OutgoingRecord
      let revision: number
      if (cached) {
        current = cached.record
        revision = cached.revision
      } else {
        const e = await this.kv.get(id)
        if (!e) return undefined
        current = decodeRecord(e.key, e.value)
        revision = e.revision
      }
      const next = fn(current)
      if (next === current) return current
      try {
        const value = encodeJsonValue(OutgoingRecordSchema.parse(next))
        this.#remember(next, await this.kv.update(id, value, revision), value.byteLength)
        return next
      } catch (err) {
        this.#cache.delete(id)
        if (!isConflict(err)) throw err
      }
    }
    throw new UpdateConflictError(`outbox record ${id} kept changing`)
  }

  async remove(id: string): Promise<void> {
    this.#cache.delete(id)
    await this.kv.delete(id)
  }

  /** Every record; ones that do not decode are reported apart instead of failing the whole load. */
  async all(): Promise<{ records: OutgoingRecord[]; corrupt: string[] }> {
    const records: OutgoingRecord[] = []
    const corrupt: string[] = []
    for (const e of await allEntries(this.kv)) {
      try {
        records.push(decodeRecord(e.key, e.value))
      } catch {
        corrupt.push(e.key)
      }
    }
    return { records, corrupt }
  }
}

/** The record with its recipient's devices added (as queued) and marked resolved; the sender's own device is left out. */
export function withRecipientDevices(r: OutgoingRecord, targets: string[]): OutgoingRecord {
  const have = new Set(r.devices.map((d) => d.deviceId))
  // The sender's own device never gets its own message back.
  const fresh = targets.filter((t) => !have.has(t) && t !== r.fromDevice)
  return { ...r, devicesResolved: true, devices: [...r.devices, ...fresh.map((deviceId) => ({ deviceId, state: 'queued' as const, attempts: 0, sync: false }))] }
}

/** Sets one device's entry (adding it if missing). */
export function withDevice(r: OutgoingRecord, deviceId: string, patch: (d: DeviceRecord) => DeviceRecord, sync = false): OutgoingRecord {
  let found = false
  const devices = r.devices.map((d) => {
    if (d.deviceId !== deviceId) return d
    found = true
    return patch(d)
  })
  if (!found) devices.push(patch({ deviceId, state: 'queued', attempts: 0, sync }))
  return { ...r, devices }
}

function decodeRecord(key: string, value: Uint8Array): OutgoingRecord {
  let raw: unknown
  try {
    raw = decodeJsonValue(value)
  } catch (e) {
    throw new CorruptRecordError(`outbox record ${key} is not JSON`, { cause: e })
  }
  const parsed = OutgoingRecordSchema.safeParse(raw)
  if (!parsed.success || parsed.data.id !== key) throw new CorruptRecordError(`outbox record ${key} does not match its schema`, { cause: parsed.error })
  return parsed.data
}
