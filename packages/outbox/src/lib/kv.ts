/**
 * The part of a JetStream key/value bucket the outbox and inbox use (`@baran/bus`'s KvBucket has it). Kept as
 * an interface so the library knows nothing of NATS. A write that loses a race fails with an error whose
 * `code` is `conflict` (`create` on an existing key, `update` on a stale revision).
 */
export interface KvEntry {
  key: string
  value: Uint8Array
  revision: number
}

export interface KvStore {
  get(key: string): Promise<KvEntry | undefined>
  create(key: string, value: Uint8Array): Promise<number>
  update(key: string, value: Uint8Array, revision: number): Promise<number>
  put(key: string, value: Uint8Array): Promise<number>
  delete(key: string): Promise<void>
  keys(filter?: string): Promise<string[]>
  entries(): Promise<KvEntry[]>
  /** Many reads at once, in the keys' order (bus's KvBucket pipelines them); without it, one `get` each. */
  getMany?(keys: readonly string[]): Promise<Array<KvEntry | undefined>>
  /** Many creates at once: per entry its revision or that write's error (`conflict` when the key exists). */
  createMany?(entries: ReadonlyArray<{ key: string; value: Uint8Array }>): Promise<Array<number | Error>>
}

/**
 * A bucket that can also be read in write order (its stream's sequence = the entries' revisions) and counted
 * without a scan. The inbox log uses it: entries are created once and never rewritten, so revision order is
 * arrival order and `range` reads a page where it starts.
 */
export interface OrderedKvStore extends KvStore {
  state(): Promise<{ messages: number; firstRevision: number; lastRevision: number }>
  /** Up to `max` live entries with revisions `from`..`until`, in revision order. */
  range(from: number, max: number, until: number): Promise<KvEntry[]>
}

export function isConflict(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'conflict'
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
export function encodeJsonValue(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}
export function decodeJsonValue(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes))
}

/**
 * Every entry of a bucket. Asks for the keys first: bus's KvBucket.entries() fails on an empty bucket (its watch
 * ends before it is assigned), and an empty bucket is the normal state of a fresh node.
 */
export async function allEntries(kv: KvStore): Promise<KvEntry[]> {
  if ((await kv.keys()).length === 0) return []
  return kv.entries()
}

/** Reads many keys: the store's `getMany` when it has one, else one `get` each (all at once). */
export function getMany(kv: KvStore, keys: readonly string[]): Promise<Array<KvEntry | undefined>> {
  return kv.getMany ? kv.getMany(keys) : Promise.all(keys.map((k) => kv.get(k)))
}

/** Creates many keys: the store's `createMany` when it has one, else one `create` each; per entry a revision or its error. */
export function createMany(kv: KvStore, entries: ReadonlyArray<{ key: string; value: Uint8Array }>): Promise<Array<number | Error>> {
  if (kv.createMany) return kv.createMany(entries)
  return Promise.all(entries.map((e) => kv.create(e.key, e.value).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))))
}
