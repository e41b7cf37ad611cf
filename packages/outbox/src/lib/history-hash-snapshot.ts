/**
 * The sync hashes of every conversation, written into the history bucket itself (`s.hashes.<n>`), so that a device
 * that restarts answers its first sync after reading them and the messages written since, instead of reading and
 * hashing every message it holds. A snapshot covers the bucket up to revision `seq`: every message whose last write
 * is at or below it has its hash there; a ranged read from `seq + 1` brings the rest. Being in the same stream as
 * the messages, it goes wherever they go (a purge, a new stream); a deletion does not show in a ranged read, so
 * whatever deletes messages drops the snapshot first (`SNAPSHOT_FIRST_KEY`).
 *
 * Format: JSON chunks `{ v: 1, seq, n, of, peers: { <peer>: "<id><hash><id><hash>…" } }`, each at most
 * `ITEMS_PER_CHUNK` messages (a message ID is 26 characters, a hash 32). Anything that does not parse, or chunks of
 * different snapshots (a write cut short), is no snapshot: the caller reads everything as before.
 */
import { z } from 'zod'
import { isMessageId } from './ids.ts'
import { decodeJsonValue, encodeJsonValue, getMany, type KvStore } from './kv.ts'

export const SNAPSHOT_PREFIX = 's.hashes.'
/** Reading starts here; deleting it alone makes every chunk unusable. */
export const SNAPSHOT_FIRST_KEY = `${SNAPSHOT_PREFIX}0`
const ID_LEN = 26
const HASH_LEN = 32
const ITEM_LEN = ID_LEN + HASH_LEN
/** ~240 KB of JSON a chunk: well under a bucket's 1 MB message limit. */
export const ITEMS_PER_CHUNK = 4096
/** ~4 million messages; a snapshot claiming more chunks than this is not read. */
const MAX_CHUNKS = 1000
const HASH_RE = /^[0-9a-f]{32}$/

const ChunkSchema = z.object({
  v: z.literal(1),
  seq: z.number().int().nonnegative(),
  n: z.number().int().nonnegative(),
  of: z.number().int().positive().max(MAX_CHUNKS),
  peers: z.record(
    z.string().regex(/^[0-9a-f]{40}$/),
    z.string().refine((s) => s.length % ITEM_LEN === 0),
  ),
})

/** The hashes by conversation, then by message ID. */
export type HashesByPeer = ReadonlyMap<string, ReadonlyMap<string, string>>

/** A snapshot's chunks, in order (chunk `n` at `s.hashes.<n>`). */
export function encodeSnapshot(byPeer: HashesByPeer, seq: number): Uint8Array[] {
  const chunks: Array<Record<string, string[]>> = [{}]
  let inChunk = 0
  for (const [peer, byId] of byPeer) {
    for (const [id, hash] of byId) {
      if (inChunk === ITEMS_PER_CHUNK) {
        chunks.push({})
        inChunk = 0
      }
      const peers = chunks.at(-1)!
      const list = peers[peer]
      if (list) list.push(id, hash)
      else peers[peer] = [id, hash]
      inChunk++
    }
  }
  return chunks.map((peers, n) =>
    encodeJsonValue({ v: 1, seq, n, of: chunks.length, peers: Object.fromEntries(Object.entries(peers).map(([p, parts]) => [p, parts.join('')])) }),
  )
}

type Chunk = z.infer<typeof ChunkSchema>
export interface Snapshot {
  seq: number
  byPeer: Map<string, Map<string, string>>
}

/**
 * The snapshot in a bucket; `chunks` is how many its first chunk says it has (0: none), also when the snapshot is
 * unusable (the ones to delete when a shorter one replaces it).
 */
export async function readSnapshot(kv: KvStore): Promise<{ chunks: number; snapshot: Snapshot | undefined }> {
  const first = await kv.get(SNAPSHOT_FIRST_KEY)
  const head = first && parseChunk(first.value)
  if (!head) return { chunks: 0, snapshot: undefined }
  const rest = head.of > 1 ? await getMany(kv, Array.from({ length: head.of - 1 }, (_, i) => `${SNAPSHOT_PREFIX}${i + 1}`)) : []
  return { chunks: head.of, snapshot: fromChunks([head, ...rest.map((e) => e && parseChunk(e.value))]) }
}

/** The hashes a snapshot holds and the revision it covers; undefined when any chunk is missing, foreign or malformed. */
export function decodeSnapshot(chunks: ReadonlyArray<Uint8Array | undefined>): Snapshot | undefined {
  return fromChunks(chunks.map((bytes) => bytes && parseChunk(bytes)))
}

function fromChunks(chunks: ReadonlyArray<Chunk | undefined>): Snapshot | undefined {
  const byPeer = new Map<string, Map<string, string>>()
  let seq: number | undefined
  for (const [n, chunk] of chunks.entries()) {
    if (!chunk || chunk.n !== n || chunk.of !== chunks.length || (seq !== undefined && chunk.seq !== seq)) return undefined
    seq = chunk.seq
    for (const [peer, items] of Object.entries(chunk.peers)) {
      let byId = byPeer.get(peer)
      if (!byId) {
        byId = new Map()
        byPeer.set(peer, byId)
      }
      for (let i = 0; i < items.length; i += ITEM_LEN) {
        const id = items.slice(i, i + ID_LEN)
        const hash = items.slice(i + ID_LEN, i + ITEM_LEN)
        if (!isMessageId(id) || !HASH_RE.test(hash)) return undefined
        byId.set(id, hash)
      }
    }
  }
  return seq === undefined ? undefined : { seq, byPeer }
}

function parseChunk(bytes: Uint8Array): Chunk | undefined {
  try {
    const parsed = ChunkSchema.safeParse(decodeJsonValue(bytes))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}
