import { z } from 'zod'
import { MAX_REPLY_BYTES, UPDATE_RETRIES } from './constants.ts'
import { UpdateConflictError } from './errors.ts'
import { MessageIdSchema } from './ids.ts'
import { allEntries, decodeJsonValue, encodeJsonValue, isConflict, type KvStore } from './kv.ts'
import { decodePayload, type MessagePayload, type ReceiptPayload } from './payload.ts'
import { type OutboxRecordBucket, withDevice } from './records.ts'

/** This node's identity, as the inbox needs it to tell what is addressed to it. */
export interface SelfIdentity {
  accountId: string
  deviceId: string
}

/** The sender as the transport handshake authenticated it (its verified trust chain). */
export interface AuthenticatedSender {
  accountId: string
  deviceId: string
  peerId: string
}

export interface ReceiveRequest {
  /** The envelope ID transport saw; must equal the payload's. */
  id: string
  payload: Uint8Array
  from: AuthenticatedSender
}

export type ReceiveResult = { status: 'stored' | 'duplicate' } | { status: 'rejected'; reason: string }

/** Why an envelope was refused: the first word of `reason`. */
export const RejectReason = {
  Malformed: 'malformed',
  TooLarge: 'too_large',
  UnsupportedVersion: 'unsupported_version',
  IdMismatch: 'id_mismatch',
  SenderMismatch: 'sender_mismatch',
  WrongRecipient: 'wrong_recipient',
  Expired: 'expired',
  UnknownMessage: 'unknown_message',
} as const
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason]

const Id = z.string().regex(/^[0-9a-f]{40}$/)
export const InboxRecordSchema = z.object({
  id: MessageIdSchema,
  from: Id,
  fromDevice: Id,
  to: Id,
  body: z.string(),
  sentAt: z.number().int(),
  expiresAt: z.number().int(),
  receivedAt: z.number().int(),
  read: z.boolean(),
  sync: z.boolean(),
})
export type InboxRecord = z.infer<typeof InboxRecordSchema>
/** A received message as the contracts show it. */
export type ReceivedMessage = Omit<InboxRecord, 'expiresAt'>

export interface ReadReceiptEvent {
  /** The message that was read. */
  id: string
  from: string
  deviceId: string
  at: number
}

export interface InboxInit {
  kv: KvStore
  /** The outgoing store, where read receipts from recipients are recorded. */
  outgoing: OutboxRecordBucket
  /** This node's identity; throws (NoAccountError) while it has none. */
  self(): Promise<SelfIdentity> | SelfIdentity
  now?: () => number
  /** A message was stored (once per message, after the write). */
  onReceived?(m: ReceivedMessage): void
  /** A read receipt for a message this node sent arrived (once per device). */
  onReadReceipt?(e: ReadReceiptEvent): void
}

export interface ListOptions {
  limit?: number
  /** Only messages whose ID sorts after this one (the `next` of the previous page). */
  after?: string
  unreadOnly?: boolean
}

/** `inbox` bucket key: sender account, then message ID, so keys can be filtered by either (`<from>.>`, `*.<id>`). */
export function inboxKey(from: string, id: string): string {
  return `${from}.${id}`
}

/**
 * The inbox: verifies what transport hands over, stores each message exactly once (the bucket's `create` is
 * the de-duplication), and answers only after the write, so the sender's ack means "persisted here".
 */
export class Inbox {
  #kv: KvStore
  #outgoing: OutboxRecordBucket
  #init: InboxInit
  #now: () => number
  #size = 0

  constructor(init: InboxInit) {
    this.#kv = init.kv
    this.#outgoing = init.outgoing
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** Messages stored (counted at load, then kept up to date). */
  get size(): number {
    return this.#size
  }

  async load(): Promise<number> {
    this.#size = (await this.#kv.keys()).length
    return this.#size
  }

  async receive(req: ReceiveRequest): Promise<ReceiveResult> {
    let p: MessagePayload | ReceiptPayload
    try {
      p = decodePayload(req.payload)
    } catch (e) {
      const code = (e as { code?: string }).code
      const reason =
        code === 'payload_too_large' || code === 'body_too_large' ? RejectReason.TooLarge : code === 'unsupported_version' ? RejectReason.UnsupportedVersion : RejectReason.Malformed
      return reject(reason, (e as Error).message)
    }
    if (p.id !== req.id) return reject(RejectReason.IdMismatch, `envelope ${req.id} carries payload ${p.id}`)
    // Authenticity comes from the handshake: the payload may not claim another sender.
    if (p.from !== req.from.accountId || p.fromDevice !== req.from.deviceId) {
      return reject(RejectReason.SenderMismatch, 'from/fromDevice differ from the authenticated sender')
    }
    const self = await this.#init.self()
    const ownSync = p.kind === 'message' && p.sync && p.from === self.accountId
    if (p.to !== self.accountId && !ownSync) return reject(RejectReason.WrongRecipient, `addressed to ${p.to}, this is ${self.accountId}`)
    if (p.kind === 'receipt') return this.#receipt(p)
    const now = this.#now()
    if (p.expiresAt <= now) return reject(RejectReason.Expired, `expired at ${new Date(p.expiresAt).toISOString()}`)
    const rec: InboxRecord = {
      id: p.id,
      from: p.from,
      fromDevice: p.fromDevice,
      to: p.to,
      body: p.body,
      sentAt: p.sentAt,
      expiresAt: p.expiresAt,
      receivedAt: now,
      read: false,
      sync: p.sync,
    }
    try {
      await this.#kv.create(inboxKey(p.from, p.id), encodeJsonValue(rec))
    } catch (e) {
      // Already there: stored by an earlier delivery whose ack got lost. Same answer, nothing stored twice.
      if (isConflict(e)) return { status: 'duplicate' }
      throw e
    }
    this.#size++
    this.#init.onReceived?.(toReceived(rec))
    return { status: 'stored' }
  }

  /** A read receipt for a message this node sent: recorded on the outgoing record, once per device. */
  async #receipt(p: ReceiptPayload): Promise<ReceiveResult> {
    let first = false
    let known = false
    const rec = await this.#outgoing.update(p.ref, (r) => {
      if (r.kind !== 'message' || r.to !== p.from) return r
      known = true
      const d = r.devices.find((x) => x.deviceId === p.fromDevice)
      if (d?.readAt !== undefined) return r
      first = true
      return withDevice(r, p.fromDevice, (x) => ({ ...x, readAt: p.at }))
    })
    if (!rec || !known) return reject(RejectReason.UnknownMessage, `no message ${p.ref} was sent to ${p.from}`)
    if (!first) return { status: 'duplicate' }
    this.#init.onReadReceipt?.({ id: p.ref, from: p.from, deviceId: p.fromDevice, at: p.at })
    return { status: 'stored' }
  }

  /** Received messages, oldest first (IDs sort by time), cut short by count or size: follow `next`. */
  async list(opts: ListOptions = {}): Promise<{ messages: ReceivedMessage[]; total: number; next?: string }> {
    const all = await this.#all()
    const matching = all.filter((m) => (!opts.unreadOnly || !m.read) && (opts.after === undefined || m.id > opts.after))
    const limit = opts.limit ?? 100
    const messages: ReceivedMessage[] = []
    let bytes = 0
    for (const m of matching) {
      if (messages.length >= limit) break
      const size = m.body.length * 3 + 300
      if (messages.length > 0 && bytes + size > MAX_REPLY_BYTES) break
      bytes += size
      messages.push(toReceived(m))
    }
    const last = messages.at(-1)
    return { messages, total: matching.length, ...(messages.length < matching.length && last ? { next: last.id } : {}) }
  }

  /** Marks messages read; returns the ones that were unread (so receipts go out once). */
  async markRead(ids: readonly string[]): Promise<ReceivedMessage[]> {
    const out: ReceivedMessage[] = []
    for (const id of new Set(ids)) {
      if (!MessageIdSchema.safeParse(id).success) continue
      for (const key of await this.#kv.keys(`*.${id}`)) {
        const m = await this.#markOne(key)
        if (m) out.push(m)
      }
    }
    return out
  }

  async #markOne(key: string): Promise<ReceivedMessage | undefined> {
    for (let i = 0; i < UPDATE_RETRIES; i++) {
      const e = await this.#kv.get(key)
      if (!e) return undefined
      const rec = decodeInbox(e.value)
      if (!rec || rec.read) return undefined
      try {
        await this.#kv.update(key, encodeJsonValue({ ...rec, read: true }), e.revision)
        return toReceived({ ...rec, read: true })
      } catch (err) {
        if (!isConflict(err)) throw err
      }
    }
    throw new UpdateConflictError(`inbox entry ${key} kept changing`)
  }

  async #all(): Promise<InboxRecord[]> {
    const out: InboxRecord[] = []
    for (const e of await allEntries(this.#kv)) {
      const rec = decodeInbox(e.value)
      if (rec) out.push(rec)
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.from < b.from ? -1 : 1))
  }
}

function reject(reason: RejectReason, detail: string): ReceiveResult {
  return { status: 'rejected', reason: `${reason}: ${detail}`.slice(0, 500) }
}

function decodeInbox(value: Uint8Array): InboxRecord | undefined {
  try {
    const parsed = InboxRecordSchema.safeParse(decodeJsonValue(value))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

function toReceived(r: InboxRecord): ReceivedMessage {
  const { expiresAt: _e, ...m } = r
  return m
}
