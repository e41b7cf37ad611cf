/**
 * @baran/outbox — durable delivery on NATS JetStream: the outbox (send, resend on presence and back-off, expire),
 * the inbox (verify, de-duplicate, persist, then ack), receipts, and the outbox actor.
 *
 * The library (`src/lib`) knows no NATS: the engine gets discovery and transport as an interface
 * (`DeliveryDeps`), the stores get a key/value interface (`KvStore`, which `@baran/bus`'s KvBucket satisfies).
 * Per-device delivery is one XState machine (`deliveryMachine`), stepped purely with `nextDelivery`: no actor
 * per message, only a state value and an attempt count per device in the store.
 *
 * @example
 * const store = new OutboxRecordBucket(await bus.kv('outbox'))
 * const engine = new DeliveryEngine({ store, lookupAccount, send, watch, unwatch }, { onChange: publish })
 * await engine.start()
 * await store.create(record) // persisted first…
 * engine.add(record) // …then delivered
 */
export { outboxActor, outboxActor as actor } from './actor.ts'
export { backoffDelay } from './lib/backoff.ts'
export type { BackoffPolicy } from './lib/backoff.ts'
export {
  BACKOFF_INITIAL_MS,
  BACKOFF_JITTER,
  BACKOFF_MAX_MS,
  DEFAULT_TTL_MS,
  INBOX_BUCKET,
  INBOX_LOG_SUFFIX,
  INBOX_READ_SUFFIX,
  LOOKUP_FRESH_MS,
  MAX_BODY_BYTES,
  MAX_IN_FLIGHT,
  MAX_PAYLOAD_BYTES,
  MAX_TTL_MS,
  OUTBOX_BUCKET,
  RETAIN_FINISHED_MS,
  SEND_TIMEOUT_MS,
} from './lib/constants.ts'
export { DELIVERY_EVENTS, deliveryMachine, FINAL_DELIVERY_STATES, isFinalDelivery, nextDelivery } from './lib/delivery-machine.ts'
export type { DeliveryContext, DeliveryEvent, DeliveryStateValue, DeliveryStep } from './lib/delivery-machine.ts'
export { DiskGuard, type FreeSpace, freeSpace } from './lib/disk.ts'
export { DeliveryEngine, systemClock } from './lib/engine.ts'
export { IdempotencyKeys } from './lib/idempotency.ts'
export type { AccountDevices, Clock, DeliveryChange, DeliveryDeps, DeliveryEngineInit, DevicePresenceInfo, EngineLogger } from './lib/engine.ts'
export {
  BodyTooLargeError,
  CorruptRecordError,
  DiskFullError,
  InvalidMessageIdError,
  MalformedPayloadError,
  MessageNotFoundError,
  NamingUnavailableError,
  NoAccountError,
  NoDevicesError,
  PayloadTooLargeError,
  UnknownRecipientError,
  UnsupportedPayloadVersionError,
  UpdateConflictError,
} from './lib/errors.ts'
export { DueHeap } from './lib/heap.ts'
export type { HeapItem } from './lib/heap.ts'
export { createIdGenerator, isMessageId, MessageIdSchema, messageIdTime, newMessageId } from './lib/ids.ts'
export type { IdGeneratorInit } from './lib/ids.ts'
export { Inbox, InboxRecordSchema, LogRecordSchema, READ_CHECKPOINT_KEY, RejectReason } from './lib/inbox.ts'
export { ReadRanges } from './lib/read-ranges.ts'
export { legacyInboxKey, MIGRATED_KEY, migrateLegacyInbox } from './lib/inbox-migrate.ts'
export type { MigrationResult } from './lib/inbox-migrate.ts'
export type { AuthenticatedSender, InboxInit, InboxPage, InboxRecord, LogRecord, ListOptions, ReadReceiptEvent, ReceivedMessage, ReceiveRequest, ReceiveResult, SelfIdentity } from './lib/inbox.ts'
export { allEntries, isConflict } from './lib/kv.ts'
export type { KvEntry, KvStore, OrderedKvStore } from './lib/kv.ts'
export { bodyBytes, decodePayload, encodePayload, MessagePayloadSchema, PAYLOAD_VERSION, PayloadSchema, ReceiptPayloadSchema } from './lib/payload.ts'
export type { MessagePayload, Payload, ReceiptPayload } from './lib/payload.ts'
export { DeviceRecordSchema, finishedAt, isFinished, OutboxRecordBucket, OutgoingRecordSchema, payloadOf, toOutgoing, withDevice } from './lib/records.ts'
/** @deprecated The old name of OutboxRecordBucket (what it holds: the outbox records in their KV bucket). */
export { OutboxRecordBucket as OutboxStore } from './lib/records.ts'
export type { DeviceRecord, OutgoingRecord } from './lib/records.ts'
