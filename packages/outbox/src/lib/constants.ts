/** Defaults of the outbox and inbox. Each is overridable where it is used. */

/** A message nobody could deliver is dropped (expired) after this long. */
export const DEFAULT_TTL_MS = 30 * 86_400_000
/** The longest TTL a sender may ask for. */
export const MAX_TTL_MS = 365 * 86_400_000

/** Largest message body, in UTF-8 bytes. */
export const MAX_BODY_BYTES = 64 * 1024
/**
 * Largest encoded payload. A body of control characters can grow 6× when JSON-escaped, so this bounds the
 * wire size, not the body. 192 KiB leaves room for the envelope in transport's 256 KiB frames (and is well
 * under transport.send's 350,000 base64 chars).
 */
export const MAX_PAYLOAD_BYTES = 192 * 1024

/** Back-off after a failed attempt: 1 s doubling to 5 min, each delay ±50 %. */
export const BACKOFF_INITIAL_MS = 1000
export const BACKOFF_MAX_MS = 5 * 60_000
export const BACKOFF_JITTER = 0.5

/**
 * Sends (and lookups) in flight at once, over all messages. As many as a receiving stream handles at once
 * (transport's 64): a burst to one peer is then pipelined on its stream and acked in batches; 16 left the stream
 * idle between round trips (the pipeline's throughput was 16 / the round trip).
 */
export const MAX_IN_FLIGHT = 64
/**
 * How long an account's looked-up answer (its devices, their addresses) is trusted before asking discovery again.
 * Long enough that a burst of sends shares one lookup; short, because only a fresh answer says who a message goes
 * to, and a device revoked since must get nothing new (the revocation is honoured for messages sent this long after
 * it is on the DHT).
 */
export const LOOKUP_FRESH_MS = 1000
/** Past LOOKUP_FRESH_MS an answer is still used this long, while discovery is asked again in the background. */
export const LOOKUP_USABLE_MS = 60_000
/** Watches are renewed this often while messages for an account are pending (discovery may have restarted). */
export const WATCH_REFRESH_MS = 5 * 60_000
/** How long transport may take to get an ack from the remote node. */
export const SEND_TIMEOUT_MS = 30_000

/** Finished outgoing records (delivered, expired, rejected everywhere) are removed after this long. */
export const RETAIN_FINISHED_MS = 7 * 86_400_000

/** JetStream key/value buckets (file storage in the node's data dir). */
export const OUTBOX_BUCKET = 'outbox'
export const INBOX_BUCKET = 'inbox'
/** The inbox log (`<inbox>-log`, messages in arrival order) and its read state (`<inbox>-read`); `inbox` itself is the layout of earlier versions, migrated at start. */
export const INBOX_LOG_SUFFIX = '-log'
export const INBOX_READ_SUFFIX = '-read'

/** Revision-checked updates retry this many times when someone wrote in between. */
export const UPDATE_RETRIES = 8

/** Inbox and pending replies stop growing past this many bytes (NATS max_payload is 1 MiB). */
export const MAX_REPLY_BYTES = 768 * 1024
/** Characters of the body shown in outbox listings. */
export const PREVIEW_CHARS = 60

/** Idempotency keys of sends (`outbox.send`'s idempotencyKey) live in this bucket for this long. */
export const KEYS_BUCKET = 'outbox-keys'
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000

/** Below this much free disk under the data dir, the outbox refuses writes and is degraded (see DiskGuard). */
export const MIN_FREE_BYTES = 8 * 1024 * 1024

/** The account's message history on this device (both directions, kept until a configured retention). */
export const HISTORY_BUCKET = 'history'
/** Recipients' device lists and certificates as last looked up (kept-recipients.ts). */
export const RECIPIENTS_BUCKET = 'outbox-recipients'
/** Message IDs of conversations kept in memory for paging the history (~100 bytes each). */
export const HISTORY_INDEX_MAX_IDS = 200_000
