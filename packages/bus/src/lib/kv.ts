import type { KV, KvEntry, NatsConnection } from 'nats'
import { DeliverPolicy, StorageType } from 'nats'
import { BusError, BusErrorCode } from './errors.ts'
import { type BatchTarget, createMany, getMany, isPlainKey } from './kv-batch.ts'
import { jsError } from './kv-errors.ts'
import { writeKey } from './kv-write.ts'
import type { ReplyRouter } from './replies.ts'

/** A durable key/value bucket on JetStream (file storage in the node's data dir). */
export interface KvBucketOptions {
  /** Keep this many revisions per key (default 1). */
  history?: number
  /** Entries older than this are removed by the server (0 = never). */
  ttlMs?: number
  maxBytes?: number
  maxValueBytes?: number
  /** 'file' (default: survives restarts) or 'memory'. */
  storage?: 'file' | 'memory'
}

export interface KvValue {
  key: string
  value: Uint8Array
  revision: number
  created: Date
}

/**
 * The outbox and inbox keep their state here. Writes are revision-checked (`create` fails with `conflict` when
 * the key exists, `update` when someone wrote in between), which is how they stay exactly-once across crashes.
 */
/** Where a bucket's stream stands: its live messages and the sequence (revision) range they span. */
export interface KvStreamState {
  messages: number
  firstRevision: number
  lastRevision: number
}

export class KvBucket {
  readonly name: string
  #kv: KV
  #nc: NatsConnection
  #inboxPrefix: string
  /** Writes go through the bus's reply router (kv-write.ts); reads and listings through nats.js's KV. */
  #replies: ReplyRouter
  /** Whether the bucket's stream answers direct gets (asked once, for `getMany`). */
  #direct: Promise<boolean> | undefined

  private constructor(name: string, kv: KV, nc: NatsConnection, inboxPrefix: string, replies: ReplyRouter) {
    this.name = name
    this.#kv = kv
    this.#nc = nc
    this.#inboxPrefix = inboxPrefix
    this.#replies = replies
  }

  static async open(nc: NatsConnection, name: string, opts: KvBucketOptions, inboxPrefix: string, replies: ReplyRouter): Promise<KvBucket> {
    try {
      const kv = await nc.jetstream().views.kv(name, {
        history: opts.history ?? 1,
        ttl: opts.ttlMs ?? 0,
        storage: opts.storage === 'memory' ? StorageType.Memory : StorageType.File,
        ...(opts.maxBytes === undefined ? {} : { max_bytes: opts.maxBytes }),
        ...(opts.maxValueBytes === undefined ? {} : { maxValueSize: opts.maxValueBytes }),
      })
      return new KvBucket(name, kv, nc, inboxPrefix, replies)
    } catch (e) {
      throw jsError(e, `open bucket ${name}`)
    }
  }

  async get(key: string): Promise<KvValue | undefined> {
    try {
      const e = await this.#kv.get(key)
      return e && e.operation === 'PUT' ? toValue(e) : undefined
    } catch (e) {
      throw jsError(e, `get ${this.name}/${key}`)
    }
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return writeKey(this.#replies, this.name, key, value, { kind: 'put' })
  }

  /**
   * Writes only if the key does not exist; `conflict` otherwise. A key whose newest entry is a deletion is written
   * again over that marker (as nats.js's KV does it).
   */
  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await writeKey(this.#replies, this.name, key, value, { kind: 'create' })
    } catch (e) {
      if (!(e instanceof BusError) || e.code !== BusErrorCode.Conflict) throw e
      let marker: KvEntry | null
      try {
        marker = await this.#kv.get(key)
      } catch (err) {
        throw jsError(err, `create ${this.name}/${key}`)
      }
      if (marker?.operation !== 'DEL' && marker?.operation !== 'PURGE') throw e
      return this.update(key, value, marker.revision)
    }
  }

  /** Writes only if the key is still at `revision`; `conflict` otherwise. */
  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return writeKey(this.#replies, this.name, key, value, { kind: 'update', revision })
  }

  async delete(key: string): Promise<void> {
    await writeKey(this.#replies, this.name, key, new Uint8Array(0), { kind: 'delete' })
  }

  /**
   * The live values of many keys (`undefined` where absent or deleted), in the keys' order, with many reads in
   * flight at once (kv-batch.ts: far cheaper per key than `get` for hundreds of keys). Fails as a whole on the
   * first read that failed.
   */
  async getMany(keys: readonly string[]): Promise<Array<KvValue | undefined>> {
    const target = await this.#batchTarget(keys, true)
    if (!target) return Promise.all(keys.map((k) => this.get(k)))
    return (await getMany(target, keys)).map((r) => {
      if (r instanceof BusError) throw r
      return r
    })
  }

  /**
   * Creates many keys at once (many writes in flight). Per entry, in order: its revision, or the BusError of that
   * write alone (`conflict` when the key exists). A key whose create met a deletion marker is created again the
   * way `create` does it.
   */
  async createMany(entries: ReadonlyArray<{ key: string; value: Uint8Array }>): Promise<Array<number | BusError>> {
    const target = await this.#batchTarget(
      entries.map((e) => e.key),
      false,
    )
    const one = (e: { key: string; value: Uint8Array }) =>
      this.create(e.key, e.value).catch((err: unknown) => (err instanceof BusError ? err : jsError(err, `create ${this.name}/${e.key}`)))
    if (!target) return Promise.all(entries.map(one))
    const results = await createMany(target, entries)
    // A conflict may be a deletion marker, which `create` (nats.js) reuses: ask it for those few.
    return Promise.all(results.map((r, i) => (r instanceof BusError && r.code === BusErrorCode.Conflict ? one(entries[i]!) : r)))
  }

  /** Where batched calls go, or undefined when they do not pay or cannot (one key, an encoded key, no direct gets). */
  async #batchTarget(keys: readonly string[], needsDirect: boolean): Promise<BatchTarget | undefined> {
    if (keys.length < 2 || !keys.every(isPlainKey)) return undefined
    if (needsDirect) {
      this.#direct ??= this.#kv.status().then(
        (s) => s.streamInfo.config.allow_direct === true,
        () => {
          // Not known (the server is away): one get per key this time, and ask again next time.
          this.#direct = undefined
          return false
        },
      )
      if (!(await this.#direct)) return undefined
    }
    return { nc: this.#nc, bucket: this.name, inboxPrefix: this.#inboxPrefix }
  }

  /** Every live key (a bounded snapshot). */
  async keys(filter?: string): Promise<string[]> {
    try {
      const out: string[] = []
      for await (const k of await this.#kv.keys(filter)) out.push(k)
      return out
    } catch (e) {
      throw jsError(e, `keys of ${this.name}`)
    }
  }

  /** Every live entry, in the order the server holds them (a bounded snapshot). */
  async entries(): Promise<KvValue[]> {
    try {
      // A key written while the listing runs comes again (the watch delivers updates until it is stopped): the
      // listing keeps each key once, at its newest value.
      const out = new Map<string, KvValue>()
      // initializedFn may run before watch() returns (an empty bucket): remember it and stop right away then.
      let initialized = false
      let it: Awaited<ReturnType<KV['watch']>> | undefined
      it = await this.#kv.watch({
        include: 'last_value' as never,
        // Deletions come through and are dropped below: with ignoreDeletes nats.js skips a deletion before it checks
        // for the end of the initial values, so a bucket whose newest entry is a deletion never ends its listing.
        initializedFn: () => {
          initialized = true
          it?.stop()
        },
      })
      if (initialized) it.stop()
      for await (const e of it) {
        if (e.operation === 'PUT') out.set(e.key, toValue(e))
        else out.delete(e.key)
      }
      return [...out.values()]
    } catch (e) {
      throw jsError(e, `entries of ${this.name}`)
    }
  }

  /** The bucket's stream counters (one request; nothing is scanned). */
  async state(): Promise<KvStreamState> {
    try {
      const st = (await this.#kv.status()).streamInfo.state
      return { messages: st.messages, firstRevision: st.first_seq, lastRevision: st.last_seq }
    } catch (e) {
      throw jsError(e, `state of ${this.name}`)
    }
  }

  /**
   * Up to `max` live entries in write order (stream sequence), starting at revision `from` and ending at `until`
   * (the caller's `state().lastRevision`): one ordered consumer that starts there, so a page costs the page,
   * whatever the bucket holds. Gaps (deleted or overwritten revisions) are skipped by the server.
   */
  async range(from: number, max: number, until: number): Promise<KvValue[]> {
    const start = Math.max(1, from)
    if (max <= 0 || start > until) return []
    const prefix = `$KV.${this.name}.`
    const out: KvValue[] = []
    try {
      const c = await this.#nc.jetstream().consumers.get(`KV_${this.name}`, { opt_start_seq: start, deliver_policy: DeliverPolicy.StartSequence })
      try {
        const want = Math.min(max, until - start + 1)
        const msgs = await c.fetch({ max_messages: want, expires: 5000 })
        for await (const m of msgs) {
          if (m.seq > until) break
          const op = m.headers?.get('KV-Operation')
          if (op !== 'DEL' && op !== 'PURGE') out.push({ key: m.subject.slice(prefix.length), value: m.data, revision: m.seq, created: new Date(Math.floor(m.info.timestampNanos / 1e6)) })
          // Stop at the end of the stream too: with gaps, fewer than `want` arrive and the fetch would wait.
          if (out.length >= max || m.seq >= until || m.info.pending === 0) break
        }
      } finally {
        await c.delete().catch(() => undefined)
      }
    } catch (e) {
      throw jsError(e, `range of ${this.name}`)
    }
    return out
  }

  async size(): Promise<number> {
    try {
      return (await this.#kv.status()).values
    } catch (e) {
      throw jsError(e, `status of ${this.name}`)
    }
  }
}

function toValue(e: KvEntry): KvValue {
  return { key: e.key, value: e.value, revision: e.revision, created: e.created }
}
