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
