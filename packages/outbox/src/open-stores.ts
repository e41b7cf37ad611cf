/**
 * The parts of the outbox actor that need JetStream, opened together: the outbox records and the delivery engine
 * over them (started: what was undelivered resumes), the inbox (loaded, an earlier version's inbox moved in), the
 * idempotency keys, the history and contact requests, and the recipients kept on disk. Every bucket is watched
 * (store-health.ts) so a failing write degrades the actor. Called at start, and again until JetStream is there.
 */
import type { ActorContext } from '@baran/actor'
import type { Bus, KvBucket } from '@baran/bus'
import type { Config } from './config.ts'
import { engineDeps } from './engine-deps.ts'
import {
  HISTORY_BUCKET,
  IDEMPOTENCY_TTL_MS,
  INBOX_BUCKET,
  INBOX_LOG_SUFFIX,
  INBOX_READ_SUFFIX,
  KEYS_BUCKET,
  OUTBOX_BUCKET,
  RECIPIENTS_BUCKET,
  RETAIN_FINISHED_MS,
} from './lib/constants.ts'
import type { DiskGuard } from './lib/disk.ts'
import { type DeliveryChange, DeliveryEngine } from './lib/engine.ts'
import { HistoryStore } from './lib/history.ts'
import { IdempotencyKeys } from './lib/idempotency.ts'
import { Inbox, type InboxInit } from './lib/inbox.ts'
import { KeptRecipients } from './lib/kept-recipients.ts'
import { OutboxRecordBucket } from './lib/records.ts'
import { ContactRequests } from './lib/requests.ts'
import type { OutboxSealing } from './sealing.ts'
import { monitored, monitoredOrdered } from './store-health.ts'

/** The parts that need JetStream. */
export interface Stores {
  store: OutboxRecordBucket
  inbox: Inbox
  engine: DeliveryEngine
  keys: IdempotencyKeys
  history: HistoryStore
  requests: ContactRequests
}

export interface OpenStoresInit {
  bus: Bus
  config: Config
  log: ActorContext<Config>['log']
  /** Where the buckets live: `file` (watched by `disk`) or `memory`. */
  storage: NonNullable<Config['storage']>
  disk: DiskGuard | undefined
  /** A store operation failed (store-health.ts decides whether the actor is degraded). */
  onStoreError(e: unknown): void
  sealing: OutboxSealing
  sendTimeoutMs: number
  /** Deposit in recipients' DHT mailboxes when a direct attempt fails. */
  mailbox: boolean
  /** Every delivery state change of the engine. */
  onChange(c: DeliveryChange): void
  /** What the inbox reports: who this node is, and what arrived. */
  inbox: Pick<InboxInit, 'self' | 'onReceived' | 'onReadReceipt' | 'onDeliveredReceipt'>
}

/** Open, load and start every part; `probe` is the bucket the health check reads. Throws what JetStream throws. */
export async function openStores(o: OpenStoresInit): Promise<Stores & { probe: KvBucket }> {
  const { bus, config, log, storage, disk, onStoreError } = o
  const outboxKv = await bus.kv(config.buckets?.outbox ?? OUTBOX_BUCKET, { storage })
  const inboxName = config.buckets?.inbox ?? INBOX_BUCKET
  const legacyInboxKv = await bus.kv(inboxName, { storage })
  const inboxLogKv = await bus.kv(`${inboxName}${INBOX_LOG_SUFFIX}`, { storage })
  const inboxReadKv = await bus.kv(`${inboxName}${INBOX_READ_SUFFIX}`, { storage })
  const keysKv = await bus.kv(config.buckets?.keys ?? KEYS_BUCKET, { storage, ttlMs: config.idempotencyTtlMs ?? IDEMPOTENCY_TTL_MS })
  const historyKv = monitoredOrdered(await bus.kv(config.buckets?.history ?? HISTORY_BUCKET, { storage }), onStoreError, disk)
  const kept = new KeptRecipients(monitored(await bus.kv(config.buckets?.recipients ?? RECIPIENTS_BUCKET, { storage }), onStoreError, disk))
  o.sealing.keepIn(kept)
  const history = new HistoryStore({ kv: historyKv })
  const requests = new ContactRequests({ history, kv: historyKv })
  if (config.history?.retentionMs) log.info({ removed: await history.prune(config.history.retentionMs) }, 'history pruned to its retention')
  const store = new OutboxRecordBucket(monitored(outboxKv, onStoreError, disk))
  const inbox = new Inbox({
    log: monitoredOrdered(inboxLogKv, onStoreError, disk),
    read: monitoredOrdered(inboxReadKv, onStoreError, disk),
    legacy: monitored(legacyInboxKv, onStoreError, disk),
    outgoing: store,
    history,
    ...o.inbox,
  })
  const { migrated } = await inbox.load()
  if (migrated && migrated.copied + migrated.present + migrated.corrupt + migrated.conflicts > 0) log.info(migrated, 'inbox of an earlier version moved into the inbox log')
  const engine = new DeliveryEngine(engineDeps({ bus, log, store, sealing: o.sealing, kept, sendTimeoutMs: o.sendTimeoutMs, mailbox: o.mailbox }), {
    ...(config.maxInFlight ? { maxInFlight: config.maxInFlight } : {}),
    ...(config.backoff ? { backoff: config.backoff } : {}),
    log,
    onChange: o.onChange,
  })
  const { resumed, corrupt, pruned } = await engine.start({ retainFinishedMs: config.retainFinishedMs ?? RETAIN_FINISHED_MS })
  log.info({ resumed, pruned, corrupt: corrupt.length, inbox: inbox.size }, 'outbox loaded')
  return { store, inbox, engine, history, requests, keys: new IdempotencyKeys(monitored(keysKv, onStoreError, disk)), probe: outboxKv }
}
