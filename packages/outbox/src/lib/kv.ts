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
