import { z } from 'zod'
import { MessageIdSchema } from './ids.ts'
import { allEntries, decodeJsonValue, encodeJsonValue, isConflict, type KvStore } from './kv.ts'

/** The old bucket's key: sender account, then message ID. */
export function legacyInboxKey(from: string, id: string): string {
  return `${from}.${id}`
}

/** Written into the old bucket once everything in it is in the log: later starts look at this one key only. */
export const MIGRATED_KEY = '_migrated'
/** Copies in flight at once. One connection keeps them in order (JetStream stores a connection's publishes in the order sent). */
const BATCH = 256

const Id = z.string().regex(/^[0-9a-f]{40}$/)
/** A record as earlier versions stored it under `<from>.<id>` in the `inbox` bucket. */
const LegacyRecordSchema = z.object({
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
type LegacyRecord = z.infer<typeof LegacyRecordSchema>

export interface MigrationResult {
  /** Messages written into the log by this run (a resumed run counts only the rest). */
  copied: number
  /** Already in the log (an earlier run was cut short). */
  present: number
  /** Entries that did not decode (earlier versions did not list them either). */
  corrupt: number
  /** An entry whose ID another sender's message already has in the log: left in the old bucket, not listed. */
  conflicts: number
}

/**
 * Copies the `inbox` bucket of earlier versions into the log, oldest ID first (the order earlier versions listed
 * them in), and its read flags into the read bucket; then marks the old bucket done. Every write is a `create`,
 * so a run cut short anywhere (kill -9) is resumed by the next start without duplicates or losses: what is there
 * is skipped (the log keeps send order, so that is a prefix of this order unless a write failed while later ones
 * of its batch went through). Runs before the inbox serves, so no new message can come in between.
 */
export async function migrateLegacyInbox(init: { legacy: KvStore; log: KvStore; read: KvStore; now: () => number }): Promise<MigrationResult | undefined> {
  const { legacy, log, read } = init
  if (await legacy.get(MIGRATED_KEY)) return undefined
  const result: MigrationResult = { copied: 0, present: 0, corrupt: 0, conflicts: 0 }
  const records: LegacyRecord[] = []
  for (const e of await allEntries(legacy)) {
    if (e.key === MIGRATED_KEY) continue
    const parsed = LegacyRecordSchema.safeParse(safeJson(e.value))
    if (parsed.success) records.push(parsed.data)
    else result.corrupt++
  }
  records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.from < b.from ? -1 : 1))
  for (let i = 0; i < records.length; i += BATCH) {
    await Promise.all(records.slice(i, i + BATCH).map((r) => copyOne(r, log, read, result)))
  }
  await legacy.put(MIGRATED_KEY, encodeJsonValue({ at: init.now(), ...result }))
  return result
}

async function copyOne(r: LegacyRecord, log: KvStore, read: KvStore, result: MigrationResult): Promise<void> {
  const { read: wasRead, ...rec } = r
  let rev: number
  try {
    rev = await log.create(r.id, encodeJsonValue(rec))
    result.copied++
  } catch (e) {
    if (!isConflict(e)) throw e
    const there = await log.get(r.id)
    const same = there && (safeJson(there.value) as { from?: unknown } | undefined)?.from === r.from
    if (!there || !same) {
      result.conflicts++
      return
    }
    rev = there.revision
    result.present++
  }
  if (!wasRead) return
  try {
    // The same marker Inbox.markRead writes: the message's log revision, which the read intervals are made of.
    await read.create(r.id, encodeJsonValue({ at: r.receivedAt, rev }))
  } catch (e) {
    if (!isConflict(e)) throw e
  }
}

function safeJson(bytes: Uint8Array): unknown {
  try {
    return decodeJsonValue(bytes)
  } catch {
    return undefined
  }
}
