import { NotFoundError } from '@libp2p/interface'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { toString as toBase32 } from 'uint8arrays/to-string'
import type { AbortOptions } from '@libp2p/interface'
import { isBaranKey, keyBytes } from './keys.ts'
import type { Admission, RecordPolicy, VerifiedEntry } from './policy.ts'

/** A record a node has just stored (new to it: not a retry of the same bytes). */
export interface StoredRecord {
  key: string
  value: Uint8Array
  entry: VerifiedEntry
}

/** Minimal logger shape (pino-compatible). */
export interface Logger {
  debug(obj: unknown, msg?: string): void
  info(obj: unknown, msg?: string): void
  warn(obj: unknown, msg?: string): void
  error(obj: unknown, msg?: string): void
}

/**
 * The node's datastore. kad-dht 16 stores a PUT by validating the record (stateless
 * `validators`) and then calling `datastore.put('/dht/record/<base32 key>', record)` directly,
 * so this is where a storing node can compare with what it already holds: for Baran keys, put()
 * runs the policy's admission rules (replay, revocation, first writer) and refuses by throwing,
 * which fails the PUT for the sender. get() re-checks expiry and revocation, so an expired or
 * revoked record is never served (and is dropped). Everything else passes through.
 */
export class RecordStore extends MemoryDatastore {
  readonly #policy: RecordPolicy
  readonly #prefix: string
  readonly #baranKeys = new Map<string, string>() // datastore key → DHT key
  readonly #listeners = new Set<(r: StoredRecord) => void>()
  readonly #log?: Logger

  constructor(policy: RecordPolicy, init: { datastorePrefix?: string; log?: Logger } = {}) {
    super()
    this.#policy = policy
    this.#prefix = `${init.datastorePrefix ?? '/dht'}/record/`
    this.#log = init.log
  }

  /** Datastore key kad-dht uses for a DHT key. */
  recordKey(key: string | Uint8Array): Key {
    const bytes = typeof key === 'string' ? keyBytes(key) : key
    return new Key(`${this.#prefix}${toBase32(bytes, 'base32')}`, false)
  }

  override put(key: Key, val: Uint8Array, options?: AbortOptions): Key {
    const k = key.toString()
    if (!k.startsWith(this.#prefix)) return super.put(key, val, options) as Key
    const record = Libp2pRecord.deserialize(val)
    if (!isBaranKey(record.key)) return super.put(key, val, options) as Key
    this.#admit(key, record)
    return key
  }

  #admit(dsKey: Key, record: Libp2pRecord): Admission {
    const existing = this.#rawValue(dsKey)
    const admission = this.#policy.admit(record.key, record.value, existing)
    if (admission.changed) {
      super.put(dsKey, record.serialize())
      this.#baranKeys.set(dsKey.toString(), admission.entry.key)
      const stored = { key: admission.entry.key, value: record.value, entry: admission.entry }
      for (const listener of this.#listeners) {
        queueMicrotask(() => {
          try {
            listener(stored)
          } catch (err) {
            this.#log?.warn({ err }, 'record listener failed')
          }
        })
      }
    }
    return admission
  }

  /** The stored record value, unchecked. */
  #rawValue(dsKey: Key): Uint8Array | undefined {
    // has() first: a miss through get() throws, and building that error costs more than the lookup.
    if (!super.has(dsKey)) return undefined
    try {
      return Libp2pRecord.deserialize(super.get(dsKey) as Uint8Array).value
    } catch {
      return undefined
    }
  }

  override get(key: Key, options?: AbortOptions): Uint8Array {
    const raw = super.get(key, options) as Uint8Array
    if (!this.#baranKeys.has(key.toString())) return raw
    const record = Libp2pRecord.deserialize(raw)
    try {
      this.#policy.verify(record.key, record.value)
    } catch (cause) {
      this.delete(key)
      this.#log?.debug({ err: cause, key: record.key }, 'dropped a record that is no longer valid')
      throw new NotFoundError('record no longer valid')
    }
    return raw
  }

  override delete(key: Key, options?: AbortOptions): void {
    this.#baranKeys.delete(key.toString())
    super.delete(key, options)
  }

  /** Would storeLocal accept this record now? Throws what it would throw; stores nothing. */
  checkLocal(key: string, value: Uint8Array): Admission {
    return this.#policy.admit(key, value, this.#rawValue(this.recordKey(key)), { dryRun: true })
  }

  /** Store a Baran record as if a peer had PUT it (the local half of a publish). */
  storeLocal(key: string, value: Uint8Array): Admission {
    const bytes = keyBytes(key)
    return this.#admit(this.recordKey(bytes), new Libp2pRecord(bytes, value, new Date()))
  }

  /** The valid value stored under a DHT key, if any. */
  getRecord(key: string): Uint8Array | undefined {
    const dsKey = this.recordKey(key)
    if (!super.has(dsKey)) return undefined
    try {
      return Libp2pRecord.deserialize(this.get(dsKey)).value
    } catch {
      return undefined
    }
  }

  /** Call `listener` for every record this node newly stores; returns an unsubscribe. */
  onRecord(listener: (r: StoredRecord) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Drop every Baran record that is no longer valid; returns how many were dropped. */
  sweep(): number {
    let dropped = 0
    for (const dsKey of [...this.#baranKeys.keys()]) {
      try {
        this.get(new Key(dsKey, false))
      } catch {
        dropped++
      }
    }
    return dropped
  }

  /** Number of Baran records held (valid or not yet swept). */
  get recordCount(): number {
    return this.#baranKeys.size
  }
}
