import { NotFoundError } from '@libp2p/interface'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import type { AbortOptions } from '@libp2p/interface'
import { base32, bytesEqual } from './bytes.ts'
import { FULL_SWEEP_INTERVAL_MS } from './constants.ts'
import { UnsupportedRecordError } from './errors.ts'
import { isBaranKey, keyBytes, parseKey } from './keys.ts'
import type { Admission, RecordPolicy, VerifiedEntry } from './policy.ts'
import { type Charge, costOf, rankOf, SELF, type StoreFigures, type StoreLimits, StoreLedger, UNATTRIBUTED } from './store-quota.ts'

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

/** A Baran record held, with what it verified to, when, and what it is charged to. */
interface Held {
  value: Uint8Array
  entry: VerifiedEntry
  checkedAt: number
  /** When it was stored (a kad-dht GET's timeReceived). */
  storedAt: number
  dsKey: string
  charge: Charge
}

/**
 * The node's datastore. kad-dht 16 stores a PUT by validating the record (stateless
 * `validators`) and then calling `datastore.put('/dht/record/<base32 key>', record)` directly,
 * so this is where a storing node can compare with what it already holds: for Baran keys, put()
 * runs the policy's admission rules (replay, revocation, first writer) and refuses by throwing,
 * which fails the PUT for the sender. get() re-checks expiry and revocation, so an expired or
 * revoked record is never served (and is dropped). Provider records and keys outside Baran's
 * namespaces are refused (UnsupportedRecordError); other keys (libp2p's peer store) pass through.
 *
 * Baran records are kept once, by DHT key, with the entry they verified to, so the fast path
 * (getRecord, the stored value a PUT is compared with) needs no base32 key, protobuf decoding
 * or second verification: it re-checks only what can change (the clock against the record's
 * expiry, revocations learnt since). kad-dht's GET reads them in its wire form, made on demand.
 *
 * Every record is charged to its uploader (`owner`: the remote PeerId, SELF for this node's own)
 * and the store is bounded (store-quota.ts): past a bound a record is refused with a typed error,
 * after expired records and what ranks below it (or what a heavier uploader holds) made what room they can.
 */
export class VerifiedRecordStore extends MemoryDatastore {
  readonly #policy: RecordPolicy
  readonly #prefix: string
  readonly #providerPrefix: string
  readonly #baranKeys = new Map<string, string>() // datastore key → DHT key
  readonly #held = new Map<string, Held>() // DHT key → record
  readonly #listeners = new Set<(r: StoredRecord) => void>()
  readonly #immediate = new Set<(r: StoredRecord) => void>()
  readonly #ledger: StoreLedger
  readonly #log?: Logger
  #lastFullSweep = Number.NEGATIVE_INFINITY

  constructor(policy: RecordPolicy, init: { datastorePrefix?: string; log?: Logger; limits?: StoreLimits } = {}) {
    super()
    this.#policy = policy
    this.#prefix = `${init.datastorePrefix ?? '/dht'}/record/`
    this.#providerPrefix = `${init.datastorePrefix ?? '/dht'}/provider`
    this.#ledger = new StoreLedger(init.limits)
    this.#log = init.log
  }

  /** Datastore key kad-dht uses for a DHT key. */
  recordKey(key: string | Uint8Array): Key {
    const bytes = typeof key === 'string' ? keyBytes(key) : key
    return new Key(`${this.#prefix}${base32(bytes)}`, false)
  }

  /** kad-dht's own writes: records (charged to UNATTRIBUTED: peers' PUTs come through putFrom) and provider records (refused). */
  override put(key: Key, val: Uint8Array, options?: AbortOptions): Key {
    const k = key.toString()
    if (k.startsWith(this.#providerPrefix)) this.#unsupported('provider records are not kept: Baran does not use them')
    if (!k.startsWith(this.#prefix)) return super.put(key, val, options) as Key
    const record = Libp2pRecord.deserialize(val)
    if (!isBaranKey(record.key)) this.#unsupported('only keys in Baran namespaces are kept')
    this.#admit(parseKey(record.key).key, record.value, UNATTRIBUTED, record.key)
    return key
  }

  #unsupported(message: string): never {
    throw this.#ledger.refuse(new UnsupportedRecordError(message))
  }

  /**
   * Admit a Baran record under its DHT key (`key`, `bytes` its bytes) from `owner`. Throws what the policy throws
   * and the store's refusals (KeyQuotaError, PeerQuotaError, StoreFullError, TooManyRecordsError); `dryRun`
   * checks only.
   */
  #admit(key: string, value: Uint8Array, owner: string, bytes?: Uint8Array, dryRun = false): Admission {
    const existing = this.#liveHeld(key)
    if (existing !== undefined && bytesEqual(existing.value, value)) return this.#policy.admit(key, value, existing.value, { dryRun })
    const cost = costOf(key, value)
    const rank = rankOf(parseKey(key).kind)
    // Quotas first: they cost nothing, verifying a signature does. Expired records count until swept.
    let refusal = this.#ledger.quotaRefusal(owner, value.length, cost, existing?.charge)
    if (refusal?.code === 'peer_quota' && this.#sweepWhenFull()) refusal = this.#ledger.quotaRefusal(owner, value.length, cost, existing?.charge)
    if (refusal !== undefined) throw this.#ledger.refuse(refusal, owner)
    if (!this.#ledger.fits(cost - (existing?.charge.cost ?? 0), existing === undefined ? 1 : 0)) this.#sweepWhenFull()
    const victims = this.#ledger.planRoom({ owner, cost, rank }, existing?.charge)
    const admission = this.#policy.admit(key, value, existing?.value, { dryRun })
    if (dryRun || !admission.changed) return admission
    for (const victim of victims) {
      this.#drop(victim.key, true)
      this.#log?.debug({ key: victim.key, owner: victim.owner, for: key }, 'record evicted to make room')
    }
    if (existing !== undefined) this.#ledger.remove(existing.charge)
    const dsKey = this.recordKey(bytes ?? keyBytes(key)).toString()
    const charge: Charge = { key, owner, cost, rank }
    this.#ledger.add(charge)
    this.#baranKeys.set(dsKey, key)
    const now = this.#policy.now()
    this.#held.set(key, { value, entry: admission.entry, checkedAt: now, storedAt: Date.now(), dsKey, charge })
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
    return admission
  }

  /**
   * Expired records go first when the store (or a peer's share) is full: at most every FULL_SWEEP_INTERVAL_MS, as a
   * sweep walks them all. True if it swept.
   */
  #sweepWhenFull(): boolean {
    const now = performance.now()
    if (now - this.#lastFullSweep < FULL_SWEEP_INTERVAL_MS) return false
    this.#lastFullSweep = now
    this.sweep()
    return true
  }

  /** Forget a held record (`evicted`: to make room). */
  #drop(key: string, evicted = false): void {
    const held = this.#held.get(key)
    if (held === undefined) return
    this.#held.delete(key)
    this.#baranKeys.delete(held.dsKey)
    this.#ledger.remove(held.charge, evicted)
  }

  /**
   * The record held under a DHT key if it is still valid; one that is not any more (expired,
   * device revoked since) is dropped.
   */
  #liveHeld(key: string): Held | undefined {
    const held = this.#held.get(key)
    if (held === undefined || this.#policy.stillValid(held.entry, held.checkedAt)) return held
    this.#drop(key)
    this.#log?.debug({ key }, 'dropped a record that is no longer valid')
    return undefined
  }

  override get(key: Key, options?: AbortOptions): Uint8Array {
    const dhtKey = this.#baranKeys.get(key.toString())
    if (dhtKey === undefined) return super.get(key, options) as Uint8Array
    const held = this.#liveHeld(dhtKey)
    if (held === undefined) throw new NotFoundError('record no longer valid')
    return new Libp2pRecord(keyBytes(dhtKey), held.value, new Date(held.storedAt)).serialize()
  }

  override has(key: Key, options?: AbortOptions): boolean {
    const dhtKey = this.#baranKeys.get(key.toString())
    if (dhtKey === undefined) return super.has(key, options) as boolean
    return this.#liveHeld(dhtKey) !== undefined
  }

  override delete(key: Key, options?: AbortOptions): void {
    const dhtKey = this.#baranKeys.get(key.toString())
    if (dhtKey !== undefined) this.#drop(dhtKey)
    else super.delete(key, options)
  }

  /** Would storeLocal accept this record now? Throws what it would throw; stores nothing. */
  checkLocal(key: string, value: Uint8Array, owner = SELF): Admission {
    return this.#admit(key, value, owner, undefined, true)
  }

  /**
   * Store a Baran record as `owner` PUT it: a peer's PeerId (an rpc or kad-dht PUT, a LAN push), SELF (default)
   * for this node's own publishes. `bytes`: the key's bytes, if at hand.
   */
  storeLocal(key: string, value: Uint8Array, bytes?: Uint8Array, owner = SELF): Admission {
    return this.#admit(key, value, owner, bytes)
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
    return this.#held.size
  }

  /** Bytes, records, limits and refusals of the store (discovery.info's `store`). */
  figures(): StoreFigures {
    return this.#ledger.figures()
  }
}
