import { type ActorContext, defineActor, retry } from '@baran/actor'
import {
  BusError,
  BusErrorCode,
  discoveryAddressChanged,
  discoveryLookup,
  discoveryOffline,
  discoveryOnline,
  discoveryUnwatch,
  discoveryWatch,
  type EventContract,
  type EventInputOf,
  identityAccountCreated,
  identityDeviceAdded,
  identityDeviceRevoked,
  identityStatus,
  type KvBucket,
  namingLookup,
  outboxContracts,
  outboxDelivery,
  outboxInbox,
  outboxMarkRead,
  outboxPending,
  outboxReceipt,
  outboxReceive,
  outboxReceived,
  outboxSend,
  outboxStatus,
  transportSend,
} from '@baran/bus'
import { z } from 'zod'
import {
  DEFAULT_TTL_MS,
  IDEMPOTENCY_TTL_MS,
  INBOX_BUCKET,
  INBOX_LOG_SUFFIX,
  INBOX_READ_SUFFIX,
  KEYS_BUCKET,
  MAX_BODY_BYTES,
  MAX_REPLY_BYTES,
  MAX_TTL_MS,
  MIN_FREE_BYTES,
  OUTBOX_BUCKET,
  RETAIN_FINISHED_MS,
  SEND_TIMEOUT_MS,
} from './lib/constants.ts'
import { DiskGuard } from './lib/disk.ts'
import { monitored, monitoredOrdered, StoreHealth } from './store-health.ts'
import { type DeliveryChange, DeliveryEngine } from './lib/engine.ts'
import { BodyTooLargeError, MessageNotFoundError, NamingUnavailableError, NoAccountError, UnknownRecipientError } from './lib/errors.ts'
import { isMessageId, newMessageId } from './lib/ids.ts'
import { Inbox, type SelfIdentity } from './lib/inbox.ts'
import { IdempotencyKeys } from './lib/idempotency.ts'
import { isConflict } from './lib/kv.ts'
import { bodyBytes, encodePayload } from './lib/payload.ts'
import { OutboxRecordBucket, type OutgoingRecord, payloadOf, toOutgoing } from './lib/records.ts'

const ConfigSchema = z
  .object({
    /** Sends and lookups in flight at once. */
    maxInFlight: z.number().int().min(1).max(256).optional(),
    /** How long transport may take to get the remote ack. */
    sendTimeoutMs: z.number().int().positive().max(120_000).optional(),
    /** TTL of a message whose sender gave none. */
    defaultTtlMs: z.number().int().positive().max(MAX_TTL_MS).optional(),
    backoff: z
      .object({ initialMs: z.number().int().positive().optional(), maxMs: z.number().int().positive().optional(), jitter: z.number().min(0).max(1).optional() })
      .strict()
      .optional(),
    /** Finished outgoing records are removed this long after they finished. */
    retainFinishedMs: z.number().int().nonnegative().optional(),
    /** Bucket names (inline simulations that run several nodes on one NATS server). */
    buckets: z
      .object({
        outbox: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
        inbox: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
        keys: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
      })
      .strict()
      .optional(),
    /** 'file' (default) survives restarts; 'memory' is for simulations. */
    storage: z.enum(['file', 'memory']).optional(),
    /** Writes are refused (degraded) while the data dir's disk has less free than this (file storage only). */
    minFreeBytes: z.number().int().nonnegative().optional(),
    /** How long a send's idempotency key is remembered. */
    idempotencyTtlMs: z.number().int().positive().max(30 * 86_400_000).optional(),
  })
  .strict()
type Config = z.infer<typeof ConfigSchema>

const ID_RE = /^[0-9a-fA-F]{40}$/

/** This node's account, device and its other (non-revoked) devices, from the identity actor. */
interface Me extends SelfIdentity {
  others: string[]
}

/** Asks identity once and remembers; identity events (or a minute) make it ask again. */
class IdentityView {
  #ctx: ActorContext<Config>
  #me: Me | undefined
  #at = 0

  constructor(ctx: ActorContext<Config>) {
    this.#ctx = ctx
  }

  async get(): Promise<Me> {
    if (this.#me && Date.now() - this.#at < 60_000) return this.#me
    const s = await this.#ctx.bus.request(identityStatus, {})
    if (!s.account) throw new NoAccountError()
    const a = s.account
    this.#me = {
      accountId: a.accountId,
      deviceId: a.deviceId,
      others: a.devices.filter((d) => !d.current && !a.revoked.includes(d.deviceId)).map((d) => d.deviceId),
    }
    this.#at = Date.now()
    return this.#me
  }

  forget(): void {
    this.#me = undefined
  }
}

/** The parts that need JetStream: opened at start, or later when JetStream comes back. */
interface Stores {
  store: OutboxRecordBucket
  inbox: Inbox
  engine: DeliveryEngine
  keys: IdempotencyKeys
}

/**
 * The outbox actor: `send` persists a message in the `outbox` bucket and only then replies; the delivery engine
 * takes it to every device of the recipient (and sync copies to this account's other devices) through
 * transport, resending on presence events and on back-off. `receive` (called by transport for every incoming
 * envelope) verifies, de-duplicates and stores into the `inbox` bucket before answering, so the sender's ack means
 * "persisted here". Degraded while JetStream is unavailable.
 */
export const outboxActor = defineActor({
  name: 'outbox',
  version: '0.1.0',
  implementation: '@baran/outbox',
  contracts: outboxContracts,
  jetstream: true,
  config: ConfigSchema,
  async start(ctx) {
    const { bus, log, config } = ctx
    const sendTimeoutMs = config.sendTimeoutMs ?? SEND_TIMEOUT_MS
    const ttlDefault = config.defaultTtlMs ?? DEFAULT_TTL_MS
    const identity = new IdentityView(ctx)
    const unsubscribe: Array<() => void> = []
    let stores: Stores | undefined

    const publish = <C extends EventContract>(c: C, body: EventInputOf<C>) => {
      try {
        ctx.publish(c, body)
      } catch (e) {
        log.error({ err: e, event: c.event }, 'could not publish an event')
      }
    }
    const onChange = (c: DeliveryChange) => {
      publish(outboxDelivery, c)
      // The remote's ack is the delivery receipt.
      if (c.state === 'delivered' && c.kind === 'message' && !c.sync && c.deviceId) {
        publish(outboxReceipt, { id: c.id, from: c.to, deviceId: c.deviceId, kind: 'delivered', at: c.at })
      }
    }

    // ---- JetStream health: degraded (with the reason) while it fails or the disk is full, probed until it is back ----
    const storage = config.storage ?? 'file'
    const disk = storage === 'file' ? new DiskGuard({ dir: ctx.dataDir, minFreeBytes: config.minFreeBytes ?? MIN_FREE_BYTES }) : undefined
    const health = new StoreHealth({ degrade: ctx.degrade, recover: ctx.recover, log, disk, onBack: () => stores?.engine.kick() })
    const onStoreError = (e: unknown) => health.onStoreError(e)
    let probeBucket: KvBucket | undefined
    void health.watch(ctx.signal, () => (stores ? probeBucket : undefined))

    const openStores = async (): Promise<Stores> => {
      const outboxKv = await bus.kv(config.buckets?.outbox ?? OUTBOX_BUCKET, { storage })
      const inboxName = config.buckets?.inbox ?? INBOX_BUCKET
      const legacyInboxKv = await bus.kv(inboxName, { storage })
      const inboxLogKv = await bus.kv(`${inboxName}${INBOX_LOG_SUFFIX}`, { storage })
      const inboxReadKv = await bus.kv(`${inboxName}${INBOX_READ_SUFFIX}`, { storage })
      const keysKv = await bus.kv(config.buckets?.keys ?? KEYS_BUCKET, { storage, ttlMs: config.idempotencyTtlMs ?? IDEMPOTENCY_TTL_MS })
      probeBucket = outboxKv
      const store = new OutboxRecordBucket(monitored(outboxKv, onStoreError, disk))
      const inbox = new Inbox({
        log: monitoredOrdered(inboxLogKv, onStoreError, disk),
        read: monitoredOrdered(inboxReadKv, onStoreError, disk),
        legacy: monitored(legacyInboxKv, onStoreError, disk),
        outgoing: store,
        self: () => identity.get(),
        onReceived: (m) => publish(outboxReceived, m),
        onReadReceipt: (e) => publish(outboxReceipt, { ...e, kind: 'read' }),
      })
      const { migrated } = await inbox.load()
      if (migrated && migrated.copied + migrated.present + migrated.corrupt + migrated.conflicts > 0) log.info(migrated, 'inbox of an earlier version moved into the inbox log')
      const engine = new DeliveryEngine(
        {
          store,
          lookupAccount: async (accountId, signal) => {
            const r = await bus.request(discoveryLookup, { accountId }, { signal, timeoutMs: 20_000 })
            return { devices: r.devices, revoked: r.revoked }
          },
          send: (req, signal) =>
            bus.request(
              transportSend,
              { peerId: req.peerId, addrs: req.addrs.slice(0, 64), id: req.id, payload: Buffer.from(req.payload).toString('base64'), timeoutMs: sendTimeoutMs },
              { signal, timeoutMs: sendTimeoutMs + 5000 },
            ),
          watch: async (accountId) => void (await bus.request(discoveryWatch, { accountId })),
          unwatch: async (accountId) => void (await bus.request(discoveryUnwatch, { accountId })),
        },
        {
          ...(config.maxInFlight ? { maxInFlight: config.maxInFlight } : {}),
          ...(config.backoff ? { backoff: config.backoff } : {}),
          log,
          onChange,
        },
      )
      const { resumed, corrupt, pruned } = await engine.start({ retainFinishedMs: config.retainFinishedMs ?? RETAIN_FINISHED_MS })
      log.info({ resumed, pruned, corrupt: corrupt.length, inbox: inbox.size }, 'outbox loaded')
      return { store, inbox, engine, keys: new IdempotencyKeys(monitored(keysKv, onStoreError, disk)) }
    }

    const need = (): Stores => {
      if (!stores) throw new BusError(BusErrorCode.Unavailable, 'outbox is waiting for JetStream')
      return stores
    }

    // Open now; if JetStream is not there yet, serve "unavailable" (degraded) and keep trying.
    try {
      stores = await openStores()
      await health.check(undefined)
    } catch (e) {
      if ((e as { code?: unknown }).code === BusErrorCode.Forbidden) throw e
      health.markDown((e as Error).message)
      // health.check never throws: once the stores are open, the retries are over.
      retry(
        async () => {
          stores = await openStores()
          await health.check(probeBucket)
        },
        {
          signal: ctx.signal,
          initialMs: 500,
          maxMs: 10_000,
          delayFirst: true,
          onRetry: (err) => {
            health.markDown((err as Error).message)
            log.debug({ err: (err as Error).message }, 'JetStream still not available')
          },
        },
      ).catch(() => undefined) // RetryStoppedError: the actor stopped first
    }

    const resolveRecipient = async (to: string): Promise<{ accountId: string; name?: string }> => {
      if (ID_RE.test(to)) return { accountId: to.toLowerCase() }
      try {
        const r = await bus.request(namingLookup, { name: to })
        return { accountId: r.accountId, name: r.name }
      } catch (e) {
        const code = (e as { code?: unknown }).code
        if (code === 'not_found') throw new UnknownRecipientError(`no account has the name "${to}"`, { cause: e })
        if (code === 'no_responder' || code === 'timeout' || code === 'unavailable') {
          throw new NamingUnavailableError(`cannot resolve "${to}": the naming actor does not answer (${code}); give the account ID instead`, { cause: e })
        }
        throw e
      }
    }

    const queue = async (s: Stores, record: OutgoingRecord) => {
      // Persist first; the engine (and the reply) only after JetStream stored it.
      await s.store.create(record)
      s.engine.add(record)
    }

    ctx.serve(outboxSend, async ({ to, body, ttlMs, idempotencyKey }) => {
      const s = need()
      if (bodyBytes(body) > MAX_BODY_BYTES) throw new BodyTooLargeError(`body is ${bodyBytes(body)} bytes, the limit is ${MAX_BODY_BYTES}`)
      const recipient = await resolveRecipient(to)
      const me = await identity.get()
      const now = Date.now()
      const toSelf = recipient.accountId === me.accountId
      // A retried key gets the message its first use stored (or creates it, if a crash came in between).
      const claim = idempotencyKey ? await s.keys.claim(idempotencyKey, newMessageId()) : undefined
      if (claim && !claim.first) {
        const known = await s.store.get(claim.id)
        if (known) return toOutgoing(known, (d) => s.engine.live(known.id, d))
      }
      // Devices already known (a fresh lookup of the recipient) are listed now: no resolving step, no extra write.
      const record: OutgoingRecord = s.engine.withKnownDevices({
        v: 1,
        id: claim?.id ?? newMessageId(),
        kind: 'message',
        from: me.accountId,
        fromDevice: me.deviceId,
        to: recipient.accountId,
        ...(recipient.name ? { toName: recipient.name } : {}),
        body,
        createdAt: now,
        expiresAt: now + (ttlMs ?? ttlDefault),
        // To ourselves, our own device list is the recipient list; else discovery finds the recipient's.
        devicesResolved: toSelf,
        devices: me.others.map((deviceId) => ({ deviceId, state: 'queued' as const, attempts: 0, sync: !toSelf })),
      })
      encodePayload(payloadOf(record, false)) // too large once escaped: refuse now, not at every attempt
      try {
        await queue(s, record)
      } catch (e) {
        // Two retries of one key raced: the other stored it.
        const known = claim && isConflict(e) ? await s.store.get(record.id) : undefined
        if (!known) throw e
        return toOutgoing(known, (d) => s.engine.live(known.id, d))
      }
      return toOutgoing(record)
    })

    ctx.serve(outboxPending, async (req) => {
      const s = need()
      const limit = req?.limit ?? 100
      let records: OutgoingRecord[]
      let total: number
      if (req?.all) {
        records = (await s.store.all()).records.sort((a, b) => (a.id < b.id ? -1 : 1))
        total = records.length
        records = records.slice(0, limit)
      } else {
        const ids = s.engine.pendingIds()
        total = ids.length
        records = (await Promise.all(ids.slice(0, limit).map((id) => s.store.get(id)))).filter((r): r is OutgoingRecord => r !== undefined)
      }
      const messages = []
      let bytes = 0
      for (const r of records) {
        const shown = toOutgoing(r, (d) => s.engine.live(r.id, d))
        bytes += JSON.stringify(shown).length
        if (messages.length > 0 && bytes > MAX_REPLY_BYTES) break
        messages.push(shown)
      }
      return { messages, total }
    })

    ctx.serve(outboxStatus, async ({ id }) => {
      const s = need()
      const r = isMessageId(id) ? await s.store.get(id) : undefined
      if (!r) throw new MessageNotFoundError(`no outgoing message ${id}`)
      return toOutgoing(r, (d) => s.engine.live(r.id, d))
    })

    ctx.serve(outboxReceive, async ({ id, payload, from }) => {
      const s = need()
      return s.inbox.receive({ id, payload: new Uint8Array(Buffer.from(payload, 'base64')), from })
    })

    ctx.serve(outboxInbox, async (req) => need().inbox.list(req ?? {}))

    ctx.serve(outboxMarkRead, async ({ ids, receipt }) => {
      const s = need()
      const read = await s.inbox.markRead(ids)
      if (receipt !== false) {
        const me = await identity.get()
        for (const m of read) {
          if (m.sync || m.from === me.accountId) continue
          const now = Date.now()
          // The receipt goes back to the device that sent the message: it holds the outgoing record.
          await queue(s, {
            v: 1,
            id: newMessageId(),
            kind: 'receipt',
            from: me.accountId,
            fromDevice: me.deviceId,
            to: m.from,
            ref: m.id,
            createdAt: now,
            expiresAt: now + ttlDefault,
            devicesResolved: true,
            devices: [{ deviceId: m.fromDevice, state: 'queued', attempts: 0, sync: false }],
          })
        }
      }
      return { read: read.length }
    })

    // ---- presence: the "deliver as soon as it is online" path ----
    const online = (e: { accountId: string; deviceId: string; peerId: string; addrs: string[] }) => stores?.engine.deviceOnline(e)
    for (const sub of await Promise.all([
      ctx.subscribe(discoveryOnline, online),
      ctx.subscribe(discoveryAddressChanged, online),
      ctx.subscribe(discoveryOffline, (e) => stores?.engine.deviceOffline(e)),
      ctx.subscribe(identityAccountCreated, () => identity.forget()),
      ctx.subscribe(identityDeviceAdded, () => identity.forget()),
      ctx.subscribe(identityDeviceRevoked, (e) => {
        identity.forget()
        stores?.engine.revokeDevice(e.deviceId)
      }),
    ])) {
      unsubscribe.push(() => sub.unsubscribe())
    }
    // The bus came back after an outage: requests in flight across it are lost; retry them and whatever waited now.
    unsubscribe.push(bus.onStatus((s) => s === 'reconnected' && stores?.engine.interrupt()))

    return {
      async stop() {
        health.stop()
        for (const u of unsubscribe) u()
        await stores?.engine.stop()
      },
      health: () => {
        const st = stores?.engine.stats()
        return {
          jetstream: stores && !health.reason ? 'up' : 'down',
          ...(health.reason ? { reason: health.reason } : {}),
          ...(disk ? { diskFreeBytes: Number.isFinite(disk.lastFree) ? disk.lastFree : null } : {}),
          pending: st?.pending ?? 0,
          unresolved: st?.unresolved ?? 0,
          messages: st?.messages ?? 0,
          inFlight: st?.inFlight ?? 0,
          watching: st?.watching ?? 0,
          inboxSize: stores?.inbox.size ?? 0,
        }
      },
    }
  },
})

/** The name every actor module exports its actor under (what `baran`'s actor entry runs). */
export const actor = outboxActor
