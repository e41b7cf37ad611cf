import { z } from 'zod'

const limit = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)

/**
 * The `store` section of a discovery actor's config: bounds of the records the node keeps for other peers (see
 * lib/store-quota.ts). Every key optional; defaults in lib/constants.ts: 64 MiB and 50 000 records in all, 1/16 of
 * each per uploading peer, 65 KiB per key.
 */
export const StoreConfigSchema = z
  .object({
    maxBytes: limit.optional(),
    maxItems: limit.optional(),
    maxBytesPerPeer: limit.optional(),
    maxItemsPerPeer: limit.optional(),
    maxKeyBytes: limit.optional(),
  })
  .strict()

/**
 * The `mailbox` section of a discovery actor's config: bounds of the mailbox items the node keeps for others (see
 * lib/mailbox-store.ts) and how often it re-stores them on the closest nodes. Defaults in lib/constants.ts: 32 MiB and
 * 20 000 items in all, 1 MiB per sender account, 2 MiB per mailbox, every 10 min.
 */
export const MailboxConfigSchema = z
  .object({
    maxBytes: limit.optional(),
    maxItems: limit.optional(),
    maxBytesPerSender: limit.optional(),
    maxBytesPerMailbox: limit.optional(),
    maintenanceMs: z.number().int().min(1000).max(86_400_000).optional(),
  })
  .strict()
