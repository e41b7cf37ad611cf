import { z } from 'zod'
import { MAX_TTL_MS } from './lib/constants.ts'

/** The outbox actor's config (`actors.outbox.config`, or the node's defaults). */
export const ConfigSchema = z
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
        history: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
        recipients: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
      })
      .strict()
      .optional(),
    /** 'file' (default) survives restarts; 'memory' is for simulations. */
    storage: z.enum(['file', 'memory']).optional(),
    /** Writes are refused (degraded) while the data dir's disk has less free than this (file storage only). */
    minFreeBytes: z.number().int().nonnegative().optional(),
    /** How long a send's idempotency key is remembered. */
    idempotencyTtlMs: z.number().int().positive().max(30 * 86_400_000).optional(),
    /** The message history: kept forever unless `retentionMs` says otherwise (messages older than that are removed at start). */
    history: z
      .object({
        retentionMs: z.number().int().positive().optional(),
        /** Sync with this account's other devices (docs/history.md). @default true */
        sync: z.boolean().optional(),
        /** Between syncs with each other device, besides those a new connection starts (jittered ±20 %). @default 300000 */
        syncEveryMs: z.number().int().min(1000).max(86_400_000).optional(),
        /** Messages per page fetched from another device (at most 4 pages in flight). @default 200 */
        syncPageSize: z.number().int().min(1).max(200).optional(),
      })
      .strict()
      .optional(),
    /** The DHT mailbox (docs/mailbox.md): deposits for unreachable devices, and reading this device's. */
    mailbox: z
      .object({
        /** false: neither deposit nor read (a node without a DHT) @default true */
        enabled: z.boolean().optional(),
        /** between reads of this device's mailboxes (jittered ±25 %) @default 60000 */
        fetchEveryMs: z.number().int().min(1000).max(3_600_000).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
export type Config = z.infer<typeof ConfigSchema>
