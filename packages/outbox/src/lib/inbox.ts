import { z } from 'zod'
import { INBOX_UNREAD_SCAN, MAX_REPLY_BYTES } from './constants.ts'
import { InvalidMessageIdError, MessageNotFoundError } from './errors.ts'
import { isMessageId, MessageIdSchema } from './ids.ts'
import { migrateLegacyInbox, type MigrationResult } from './inbox-migrate.ts'
import { decodeJsonValue, encodeJsonValue, isConflict, type KvStore, type OrderedKvStore } from './kv.ts'
import { decodePayload, type MessagePayload, type ReceiptPayload } from './payload.ts'
import { type OutboxStore, withDevice } from './records.ts'

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
  IdTaken: 'id_taken',
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
/** What the log holds: the record without `read` (read state lives in its own bucket, so log entries never change). */
export const LogRecordSchema = InboxRecordSchema.omit({ read: true })
export type LogRecord = z.infer<typeof LogRecordSchema>
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
  /**
   * The inbox log: key = message ID, value = LogRecord, created once and never rewritten, so its revision order is
   * arrival order. Pages, counts and `after` lookups read it where they start (one get, one ranged read).
   */
  log: OrderedKvStore
  /** Read state: key = message ID, created once when the message is first marked read (its count is the read count). */
  read: OrderedKvStore
  /** The `inbox` bucket of earlier versions (key `<from>.<id>`, records with `read`): copied into the log at load. */
  legacy?: KvStore
  /** The outgoing store, where read receipts from recipients are recorded. */
  outgoing: OutboxStore
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
  /** Only messages stored after this one (the `next` of the previous page, or any message ID in the inbox). */
  after?: string
  unreadOnly?: boolean
}

export interface InboxPage {
  messages: ReceivedMessage[]
  /** Messages from `after` on (all of them without it); with `unreadOnly`, the unread messages in the whole inbox. */
  total: number
  next?: string
}

/**
 * The inbox: verifies what transport hands over, stores each message exactly once (the log's `create` on the
 * message ID is the de-duplication, and it is the only write, so no crash can leave half a message), and answers
 * only after the write, so the sender's ack means "persisted here". Listed in arrival order: a message that
 * arrives late (sent while this node was offline) comes after the ones already there, so a reader following
 * `next` (or asking `after` the last ID it saw) gets it instead of skipping it.
 */
export class Inbox {
  #log: OrderedKvStore
  #read: OrderedKvStore
  #outgoing: OutboxStore
  #init: InboxInit
  #now: () => number
  #size = 0

  constructor(init: InboxInit) {
    this.#log = init.log
    this.#read = init.read
    this.#outgoing = init.outgoing
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** Messages stored (counted at load, then kept up to date). */
  get size(): number {
    return this.#size
  }

  /** Migrates an inbox of an earlier version (once; resumable) and counts the messages (without a scan). */
  async load(): Promise<{ size: number; migrated?: MigrationResult }> {
    const migrated = this.#init.legacy ? await migrateLegacyInbox({ legacy: this.#init.legacy, log: this.#log, read: this.#read, now: this.#now }) : undefined
    this.#size = (await this.#log.state()).messages
    return { size: this.#size, ...(migrated ? { migrated } : {}) }
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
    const rec: LogRecord = {
      id: p.id,
      from: p.from,
      fromDevice: p.fromDevice,
      to: p.to,
      body: p.body,
      sentAt: p.sentAt,
      expiresAt: p.expiresAt,
      receivedAt: now,
      sync: p.sync,
    }
    try {
      await this.#log.create(p.id, encodeJsonValue(rec))
    } catch (e) {
      if (!isConflict(e)) throw e
      // Already there: stored by an earlier delivery whose ack got lost. Same answer, nothing stored twice.
      const known = await this.#log.get(p.id)
      const stored = known && decodeLog(known.value)
      if (!stored || stored.from === p.from) return { status: 'duplicate' }
      // Another sender's message has this ID (IDs carry 80 random bits: only a replay can do this). Say so.
      return reject(RejectReason.IdTaken, `message ID ${p.id} is taken by another sender`)
    }
    this.#size++
    this.#init.onReceived?.(toReceived({ ...rec, read: false }))
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

  /**
   * Received messages in arrival order, cut short by count or size: follow `next`. Costs the page: one get to find
   * `after`, one counter read, one ranged read of the log from there, and one read-state get per listed message.
   * `unreadOnly` skips read messages, looking at most INBOX_UNREAD_SCAN of them per call (then `next` says where
   * to go on).
   */
  async list(opts: ListOptions = {}): Promise<InboxPage> {
    if (opts.after !== undefined && !isMessageId(opts.after)) {
      throw new InvalidMessageIdError(`after: not a message ID: ${JSON.stringify(String(opts.after).slice(0, 40))}`)
    }
    const limit = opts.limit ?? 100
    const [st, cursor, readCount] = await Promise.all([
      this.#log.state(),
      opts.after === undefined ? undefined : this.#log.get(opts.after),
      opts.unreadOnly ? this.#read.state().then((s) => s.messages) : undefined,
    ])
    if (opts.after !== undefined && !cursor) throw new MessageNotFoundError(`after: no message ${opts.after} in the inbox`)
    const from = cursor ? cursor.revision + 1 : st.firstRevision
    // The log is never rewritten nor deleted from, so its revisions have no gaps: what follows `from` is a subtraction.
    const after = Math.max(0, st.lastRevision - from + 1)
    const total = opts.unreadOnly ? Math.max(0, st.messages - (readCount ?? 0)) : cursor ? after : st.messages
    const messages: ReceivedMessage[] = []
    let bytes = 0
    let next = from
    let full = false
    let lastSeen: string | undefined
    const budget = opts.unreadOnly ? INBOX_UNREAD_SCAN : limit
    for (let scanned = 0; !full && next <= st.lastRevision && scanned < budget; ) {
      const chunk = await this.#log.range(next, Math.min(opts.unreadOnly ? Math.max(limit, 200) : limit - messages.length, budget - scanned), st.lastRevision)
      if (chunk.length === 0) break
      const records = chunk.map((e) => [e, decodeLog(e.value)] as const)
      const read = await Promise.all(records.map(([, r]) => (r ? this.#read.get(r.id).then((x) => x !== undefined) : false)))
      for (let i = 0; i < chunk.length; i++) {
        const [e, r] = records[i]!
        scanned++
        if (r && !(opts.unreadOnly && read[i])) {
          const size = r.body.length * 3 + 300
          if (messages.length >= limit || (messages.length > 0 && bytes + size > MAX_REPLY_BYTES)) {
            full = true
            break
          }
          bytes += size
          messages.push(toReceived({ ...r, read: read[i]! }))
        }
        next = e.revision + 1
        if (r) lastSeen = r.id
      }
      if (!opts.unreadOnly && messages.length >= limit) full = true
    }
    const more = next <= st.lastRevision
    const cut = more && lastSeen !== undefined ? { next: lastSeen } : {}
    return { messages, total, ...cut }
  }

  /** Marks messages read; returns the ones that were unread (so receipts go out once: the read marker's `create`). */
  async markRead(ids: readonly string[]): Promise<ReceivedMessage[]> {
    const unique = [...new Set(ids)].filter((id) => MessageIdSchema.safeParse(id).success)
    const out: ReceivedMessage[] = []
    for (let i = 0; i < unique.length; i += 64) {
      const done = await Promise.all(unique.slice(i, i + 64).map((id) => this.#markOne(id)))
      for (const m of done) if (m) out.push(m)
    }
    return out
  }

  async #markOne(id: string): Promise<ReceivedMessage | undefined> {
    const e = await this.#log.get(id)
    const rec = e && decodeLog(e.value)
    if (!rec) return undefined
    try {
      await this.#read.create(id, encodeJsonValue({ at: this.#now() }))
    } catch (err) {
      if (isConflict(err)) return undefined
      throw err
    }
    return toReceived({ ...rec, read: true })
  }
}

function reject(reason: RejectReason, detail: string): ReceiveResult {
  return { status: 'rejected', reason: `${reason}: ${detail}`.slice(0, 500) }
}

function decodeLog(value: Uint8Array): LogRecord | undefined {
  try {
    const parsed = LogRecordSchema.safeParse(decodeJsonValue(value))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

function toReceived(r: InboxRecord): ReceivedMessage {
  const { expiresAt: _e, ...m } = r
  return m
}
