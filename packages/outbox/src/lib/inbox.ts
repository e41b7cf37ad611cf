import { z } from 'zod'
import { MAX_REPLY_BYTES } from './constants.ts'
import { InvalidMessageIdError, MessageNotFoundError } from './errors.ts'
import { isMessageId, MessageIdSchema } from './ids.ts'
import { migrateLegacyInbox, type MigrationResult } from './inbox-migrate.ts'
import { decodeJsonValue, encodeJsonValue, isConflict, type KvStore, type OrderedKvStore } from './kv.ts'
import { ReadRanges } from './read-ranges.ts'
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
  /** How it came: straight from its sender (default), or taken from this device's DHT mailbox. */
  via?: 'direct' | 'mailbox'
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
export const LogRecordSchema = InboxRecordSchema.omit({ read: true }).extend({
  /** Taken from this device's DHT mailbox (absent: it came straight from its sender). */
  mailbox: z.literal(true).optional(),
})
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
  /**
   * Read state: key = message ID, value `{ at, rev }` (the message's log revision), created once when the message
   * is first marked read; plus READ_CHECKPOINT_KEY, the read revisions as intervals and the marker revision they
   * include. Load replays the markers after the checkpoint, so a crash between a marker and the checkpoint loses
   * nothing.
   */
  read: OrderedKvStore
  /** The `inbox` bucket of earlier versions (key `<from>.<id>`, records with `read`): copied into the log at load. */
  legacy?: KvStore
  /** The outgoing store, where read receipts from recipients are recorded. */
  outgoing: OutboxRecordBucket
  /** This node's identity; throws (NoAccountError) while it has none. */
  self(): Promise<SelfIdentity> | SelfIdentity
  now?: () => number
  /** A message was stored (once per message, after the write). */
  onReceived?(m: ReceivedMessage): void
  /** A read receipt for a message this node sent arrived (once per device). */
  onReadReceipt?(e: ReadReceiptEvent): void
  /** A device took one of our messages from its DHT mailbox: the delivery engine settles it as delivered. */
  onDeliveredReceipt?(e: { id: string; deviceId: string }): void
  /** The account's history: every stored message (and a duplicate, which repairs a write a crash cut) goes there before the answer. */
  history?: { recordReceived(m: LogRecord & { prev?: string }, self: string): Promise<void> }
}

export interface ListOptions {
  limit?: number
  /** Only messages stored after this one (the `next` of the previous page, or any message ID in the inbox). */
  after?: string
  unreadOnly?: boolean
}

/** The read bucket's checkpoint of ReadRanges. */
export const READ_CHECKPOINT_KEY = '_ranges'
const CheckpointSchema = z.object({ ranges: z.array(z.tuple([z.number().int(), z.number().int()])), upTo: z.number().int().nonnegative() })
const MarkerSchema = z.object({ rev: z.number().int().positive() })
/** Log entries the first read of a page asks for (more once their size is known). */
const FIRST_READ = 50
/** Stretches of unread messages (between read intervals) one `unreadOnly` page reads before answering with `next`. */
const UNREAD_RUNS = 64
/**
 * A checkpoint larger than this (read intervals fragmented by reading here and there) is not written: load then
 * replays the markers since the last one that was, which is slower but exact, and NATS's 1 MiB payload limit holds.
 */
const CHECKPOINT_MAX_BYTES = 256 * 1024
/** Message IDs whose announcement this run keeps track of (see Inbox.#announced). */
const MAX_ANNOUNCED = 4096

export interface InboxPage {
  messages: ReceivedMessage[]
  /** Messages after `after` (all of them without it); with `unreadOnly`, the unread ones among them. */
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
  #outgoing: OutboxRecordBucket
  #init: InboxInit
  #now: () => number
  #size = 0
  #readRanges = new ReadRanges()
  /** The read bucket's last revision folded into #readRanges. */
  #readUpTo = 0
  /** markRead calls one at a time, so a checkpoint never claims a marker it has not folded in. */
  #marking: Promise<unknown> = Promise.resolve()
  /** When this inbox began: what an earlier run stored may have died with it before it was announced. */
  readonly #since: number
  /**
   * What this run knows of announcing a message it found already stored: `unsure` when this run's write of it failed
   * without a conflict (it may have landed anyway, unannounced), `done` once this run announced it. Bounded.
   */
  #announced = new Map<string, 'unsure' | 'done'>()

  constructor(init: InboxInit) {
    this.#log = init.log
    this.#read = init.read
    this.#outgoing = init.outgoing
    this.#init = init
    this.#now = init.now ?? Date.now
    this.#since = this.#now()
  }

  /** Messages stored (counted at load, then kept up to date). */
  get size(): number {
    return this.#size
  }

  /** Migrates an inbox of an earlier version (once; resumable) and counts the messages (without a scan). */
  async load(): Promise<{ size: number; migrated?: MigrationResult }> {
    const migrated = this.#init.legacy ? await migrateLegacyInbox({ legacy: this.#init.legacy, log: this.#log, read: this.#read, now: this.#now }) : undefined
    this.#size = (await this.#log.state()).messages
    await this.#loadRead()
    return { size: this.#size, ...(migrated ? { migrated } : {}) }
  }

  /** The checkpoint, then every marker written after it (cost: the markers since the last checkpoint). */
  async #loadRead(): Promise<void> {
    const cp = await this.#read.get(READ_CHECKPOINT_KEY)
    const parsed = cp ? CheckpointSchema.safeParse(safeJson(cp.value)) : undefined
    this.#readRanges = new ReadRanges(parsed?.success ? parsed.data.ranges : [])
    this.#readUpTo = parsed?.success ? parsed.data.upTo : 0
    const st = await this.#read.state()
    let folded = 0
    for (let from = this.#readUpTo + 1, round = 0; from <= st.lastRevision && round < 1_000_000; round++) {
      const chunk = await this.#read.range(from, 1000, st.lastRevision)
      if (chunk.length === 0) break
      for (const e of chunk) {
        if (e.key === READ_CHECKPOINT_KEY) continue
        const m = MarkerSchema.safeParse(safeJson(e.value))
        const rev = m.success ? m.data.rev : (await this.#log.get(e.key))?.revision
        if (rev !== undefined && this.#readRanges.add(rev)) folded++
      }
      from = chunk.at(-1)!.revision + 1
    }
    this.#readUpTo = Math.max(this.#readUpTo, st.lastRevision)
    if (folded > 0) await this.#checkpoint()
  }

  async #checkpoint(): Promise<void> {
    const value = encodeJsonValue({ ranges: this.#readRanges.toJSON(), upTo: this.#readUpTo })
    if (value.length <= CHECKPOINT_MAX_BYTES) await this.#read.put(READ_CHECKPOINT_KEY, value)
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
      ...(req.via === 'mailbox' ? { mailbox: true as const } : {}),
    }
    try {
      await this.#log.create(p.id, encodeJsonValue(rec))
    } catch (e) {
      if (!isConflict(e)) {
        this.#markAnnounced(p.id, 'unsure')
        throw e
      }
      // Already there: stored by an earlier delivery whose ack got lost. Same answer, nothing stored twice.
      const known = await this.#log.get(p.id)
      const stored = known && decodeLog(known.value)
      if (stored && stored.from === p.from) {
        await this.#init.history?.recordReceived({ ...stored, ...(p.prev ? { prev: p.prev } : {}) }, self.accountId)
        // Its announcement may never have gone out: the run that stored it died between the write and the
        // announcement (no ack left, or its mailbox item not deleted, so it comes again), or this run's write failed
        // after landing. Announce it (again, perhaps: `received` is at least once). Not a mailbox copy of what an
        // earlier run got directly: senders deposit after a failed attempt and often deliver directly later, so that
        // duplicate is common, and the direct one was announced.
        const mark = this.#announced.get(p.id)
        const earlier = stored.receivedAt < this.#since && (req.via !== 'mailbox' || stored.mailbox === true)
        if (mark === 'unsure' || (mark === undefined && earlier)) {
          this.#markAnnounced(p.id, 'done')
          this.#init.onReceived?.(toReceived({ ...stored, read: this.#readRanges.has(known.revision) }))
        }
      }
      if (!stored || stored.from === p.from) return { status: 'duplicate' }
      // Another sender's message has this ID (IDs carry 80 random bits: only a replay can do this). Say so.
      return reject(RejectReason.IdTaken, `message ID ${p.id} is taken by another sender`)
    }
    this.#size++
    // A write that failed earlier in this run did not land after all: this one is announced below.
    if (this.#announced.size > 0) this.#announced.delete(p.id)
    try {
      // A failure here fails the answer: the sender sends again, and the duplicate path writes the history.
      await this.#init.history?.recordReceived({ ...rec, ...(p.prev ? { prev: p.prev } : {}) }, self.accountId)
    } finally {
      // Announced once the history has it too (a listener that reads the history, e.g. contact requests, sees it).
      this.#init.onReceived?.(toReceived({ ...rec, read: false }))
    }
    return { status: 'stored' }
  }

  #markAnnounced(id: string, mark: 'unsure' | 'done'): void {
    // Bounded (a store failing for long, many resends): the oldest go first.
    this.#announced.delete(id)
    if (this.#announced.size >= MAX_ANNOUNCED) this.#announced.delete(this.#announced.keys().next().value as string)
    this.#announced.set(id, mark)
  }

  /** A read receipt for a message this node sent: recorded on the outgoing record, once per device. */
  async #receipt(p: ReceiptPayload): Promise<ReceiveResult> {
    if (p.receipt === 'delivered') {
      const r = await this.#outgoing.get(p.ref)
      const d = r?.kind === 'message' && r.to === p.from ? r.devices.find((x) => x.deviceId === p.fromDevice && !x.sync) : undefined
      if (!d) return reject(RejectReason.UnknownMessage, `no message ${p.ref} was sent to ${p.from}'s device ${p.fromDevice}`)
      if (d.state !== 'queued') return { status: 'duplicate' }
      this.#init.onDeliveredReceipt?.({ id: p.ref, deviceId: p.fromDevice })
      return { status: 'stored' }
    }
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
   * `after`, one counter read, one ranged read of the log from there (read flags and counts come from ReadRanges,
   * in memory). `unreadOnly` reads only the runs between read intervals, at most UNREAD_RUNS of them per call
   * (then `next` says where to go on).
   */
  async list(opts: ListOptions = {}): Promise<InboxPage> {
    if (opts.after !== undefined && !isMessageId(opts.after)) {
      throw new InvalidMessageIdError(`after: not a message ID: ${JSON.stringify(String(opts.after).slice(0, 40))}`)
    }
    const limit = opts.limit ?? 100
    const [st, cursor] = await Promise.all([this.#log.state(), opts.after === undefined ? undefined : this.#log.get(opts.after)])
    if (opts.after !== undefined && !cursor) throw new MessageNotFoundError(`after: no message ${opts.after} in the inbox`)
    // An empty stream says first = last = 0: start at 1 so that nothing is counted.
    const from = cursor ? cursor.revision + 1 : Math.max(1, st.firstRevision)
    const last = st.lastRevision
    // The log is never rewritten nor deleted from, so its revisions have no gaps: what follows `from` is a subtraction.
    const after = Math.max(0, last - from + 1)
    const total = opts.unreadOnly ? after - this.#readRanges.countIn(from, last) : cursor ? after : st.messages
    const messages: ReceivedMessage[] = []
    let bytes = 0
    let pos = from
    let lastSeen: { id: string; rev: number } | undefined
    for (let run = 0; pos <= last && messages.length < limit && run < (opts.unreadOnly ? UNREAD_RUNS : limit); run++) {
      if (opts.unreadOnly) {
        pos = this.#readRanges.nextUnread(pos)
        if (pos > last) break
      }
      const end = opts.unreadOnly ? Math.min(last, this.#readRanges.nextRead(pos) - 1) : last
      // Bodies reach 64 KiB: the first read is small, later ones as many as the reply's bytes left can take.
      const fit = messages.length === 0 ? FIRST_READ : Math.floor((MAX_REPLY_BYTES - bytes) / (bytes / messages.length)) + 1
      const chunk = await this.#log.range(pos, Math.min(limit - messages.length, end - pos + 1, fit), end)
      if (chunk.length === 0) break
      let cut = false
      for (const e of chunk) {
        const r = decodeLog(e.value)
        if (r) {
          const size = r.body.length * 3 + 300
          if (messages.length > 0 && bytes + size > MAX_REPLY_BYTES) {
            cut = true
            break
          }
          bytes += size
          messages.push(toReceived({ ...r, read: this.#readRanges.has(e.revision) }))
          lastSeen = { id: r.id, rev: e.revision }
        }
        pos = e.revision + 1
      }
      if (cut) break
    }
    if (pos > last || pos <= from) return { messages, total }
    // More to come: the next page starts after the last revision passed (listed, or a skipped read interval's end).
    const next = lastSeen?.rev === pos - 1 ? lastSeen.id : ((await this.#idAt(pos - 1)) ?? lastSeen?.id)
    return { messages, total, ...(next ? { next } : {}) }
  }

  /** The message ID at a log revision (a read interval's end, as a cursor). */
  async #idAt(rev: number): Promise<string | undefined> {
    const [e] = await this.#log.range(rev, 1, rev)
    return e ? decodeLog(e.value)?.id : undefined
  }

  /** Marks messages read; returns the ones that were unread (so receipts go out once: the read marker's `create`). */
  markRead(ids: readonly string[]): Promise<ReceivedMessage[]> {
    const run = this.#marking.then(() => this.#markRead(ids))
    this.#marking = run.catch(() => undefined)
    return run
  }

  async #markRead(ids: readonly string[]): Promise<ReceivedMessage[]> {
    const unique = [...new Set(ids)].filter((id) => MessageIdSchema.safeParse(id).success)
    const out: ReceivedMessage[] = []
    try {
      for (let i = 0; i < unique.length; i += 64) {
        const done = await Promise.all(unique.slice(i, i + 64).map((id) => this.#markOne(id)))
        for (const m of done) if (m) out.push(m)
      }
    } finally {
      // The markers are what counts (load replays those after the last checkpoint): a failed checkpoint must not
      // make this call fail, or the caller would never send the receipts of the messages it did mark.
      if (out.length > 0) await this.#checkpoint().catch(() => undefined)
    }
    return out
  }

  async #markOne(id: string): Promise<ReceivedMessage | undefined> {
    const e = await this.#log.get(id)
    const rec = e && decodeLog(e.value)
    if (!e || !rec) return undefined
    let markerRev: number
    try {
      markerRev = await this.#read.create(id, encodeJsonValue({ at: this.#now(), rev: e.revision }))
    } catch (err) {
      if (isConflict(err)) return undefined
      throw err
    }
    this.#readRanges.add(e.revision)
    this.#readUpTo = Math.max(this.#readUpTo, markerRev)
    return toReceived({ ...rec, read: true })
  }
}

function reject(reason: RejectReason, detail: string): ReceiveResult {
  return { status: 'rejected', reason: `${reason}: ${detail}`.slice(0, 500) }
}

function decodeLog(value: Uint8Array): LogRecord | undefined {
  const parsed = LogRecordSchema.safeParse(safeJson(value))
  return parsed.success ? parsed.data : undefined
}

function safeJson(value: Uint8Array): unknown {
  try {
    return decodeJsonValue(value)
  } catch {
    return undefined
  }
}

function toReceived(r: InboxRecord & { mailbox?: true }): ReceivedMessage {
  const { expiresAt: _e, mailbox: _m, ...m } = r
  return m
}
