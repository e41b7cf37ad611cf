import { NotFoundError } from '@libp2p/interface'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import type { AbortOptions } from '@libp2p/interface'
import { base32 } from './bytes.ts'
import { isBaranKey, keyBytes, parseKey } from './keys.ts'
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

/** Options of onRecord. */
export interface OnRecordOptions {
  /**
   * Call the listener synchronously, as soon as the record is stored (before the PUT is
   * answered), instead of in a microtask. For listeners that only start async work (pushes to
   * watchers); errors are caught and logged. @default false
   */
  immediate?: boolean
}

/** A Baran record held, with what it verified to and when (performance of getRecord). */
interface Held {
  value: Uint8Array
  entry: VerifiedEntry
  checkedAt: number
}

/**
 * The node's datastore. kad-dht 16 stores a PUT by validating the record (stateless
 * `validators`) and then calling `datastore.put('/dht/record/<base32 key>', record)` directly,
 * so this is where a storing node can compare with what it already holds: for Baran keys, put()
 * runs the policy's admission rules (replay, revocation, first writer) and refuses by throwing,
 * which fails the PUT for the sender. get() re-checks expiry and revocation, so an expired or
 * revoked record is never served (and is dropped). Everything else passes through.
 *
 * Baran records are also kept by DHT key with the entry they verified to, so the fast path
 * (getRecord, the stored value a PUT is compared with) needs no base32 key, protobuf decoding
 * or second verification: it re-checks only what can change (the clock against the record's
 * expiry, revocations learnt since).
 */
export class RecordStore extends MemoryDatastore {
  readonly #policy: RecordPolicy
  readonly #prefix: string
  readonly #baranKeys = new Map<string, string>() // datastore key → DHT key
  readonly #held = new Map<string, Held>() // DHT key → record
  readonly #listeners = new Set<(r: StoredRecord) => void>()
  readonly #immediate = new Set<(r: StoredRecord) => void>()
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
    return new Key(`${this.#prefix}${base32(bytes)}`, false)
  }

  override put(key: Key, val: Uint8Array, options?: AbortOptions): Key {
    const k = key.toString()
    if (!k.startsWith(this.#prefix)) return super.put(key, val, options) as Key
    const record = Libp2pRecord.deserialize(val)
    if (!isBaranKey(record.key)) return super.put(key, val, options) as Key
    this.#admit(key, parseKey(record.key).key, record.value, () => val)
    return key
  }

  /** Admit a Baran record under its DHT key (`key`); `wire` gives its datastore form. */
  #admit(dsKey: Key, key: string, value: Uint8Array, wire: () => Uint8Array): Admission {
    const existing = this.#liveHeld(key)?.value
    const admission = this.#policy.admit(key, value, existing)
    if (admission.changed) {
      super.put(dsKey, wire())
      this.#baranKeys.set(dsKey.toString(), key)
      this.#held.set(key, { value, entry: admission.entry, checkedAt: this.#policy.now() })
      const stored = { key, value, entry: admission.entry }
      for (const listener of this.#immediate) {
        try {
          listener(stored)
        } catch (err) {
          this.#log?.warn({ err }, 'record listener failed')
        }
      }
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

  /**
   * The record held under a DHT key if it is still valid; one that is not any more (expired,
   * device revoked since) is dropped.
   */
  #liveHeld(key: string, dsKey?: Key): Held | undefined {
    const held = this.#held.get(key)
    if (held === undefined || this.#policy.stillValid(held.entry, held.checkedAt)) return held
    this.delete(dsKey ?? this.recordKey(key))
    this.#log?.debug({ key }, 'dropped a record that is no longer valid')
    return undefined
  }

  override get(key: Key, options?: AbortOptions): Uint8Array {
    const raw = super.get(key, options) as Uint8Array
    const dhtKey = this.#baranKeys.get(key.toString())
    if (dhtKey === undefined) return raw
    if (this.#liveHeld(dhtKey, key) === undefined) throw new NotFoundError('record no longer valid')
    return raw
  }

  override delete(key: Key, options?: AbortOptions): void {
    const k = key.toString()
    const dhtKey = this.#baranKeys.get(k)
    if (dhtKey !== undefined) this.#held.delete(dhtKey)
    this.#baranKeys.delete(k)
    super.delete(key, options)
  }

  /** Would storeLocal accept this record now? Throws what it would throw; stores nothing. */
  checkLocal(key: string, value: Uint8Array): Admission {
    return this.#policy.admit(key, value, this.#liveHeld(key)?.value, { dryRun: true })
  }

  /** Store a Baran record as if a peer had PUT it (the local half of a publish). `bytes`: the key's bytes, if at hand. */
  storeLocal(key: string, value: Uint8Array, bytes = keyBytes(key)): Admission {
    return this.#admit(this.recordKey(bytes), key, value, () => new Libp2pRecord(bytes, value, new Date()).serialize())
  }

  /** The valid value stored under a DHT key, if any. */
  getRecord(key: string): Uint8Array | undefined {
    return this.#liveHeld(key)?.value
  }

  /** Call `listener` for every record this node newly stores; returns an unsubscribe. */
  onRecord(listener: (r: StoredRecord) => void, opts: OnRecordOptions = {}): () => void {
    const set = opts.immediate === true ? this.#immediate : this.#listeners
    set.add(listener)
    return () => set.delete(listener)
  }

  /** Drop every Baran record that is no longer valid; returns how many were dropped. */
  sweep(): number {
    let dropped = 0
    for (const key of [...this.#held.keys()]) {
      if (this.#liveHeld(key) === undefined) dropped++
    }
    return dropped
  }

  /** Number of Baran records held (valid or not yet swept). */
  get recordCount(): number {
    return this.#baranKeys.size
  }
}
