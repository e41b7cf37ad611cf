import {
  DEFAULT_STORE_MAX_BYTES,
  DEFAULT_STORE_MAX_ITEMS,
  DEFAULT_STORE_MAX_KEY_BYTES,
  RECORD_OVERHEAD_BYTES,
  STORE_PEER_SHARE,
} from './constants.ts'
import { type DiscoveryError, InvalidConfigError, KeyQuotaError, PeerQuotaError, StoreFullError, TooManyRecordsError } from './errors.ts'

/**
 * The bounds of a storing node's record store, and who holds what in it (VerifiedRecordStore keeps the records, this
 * ledger their accounts). Any peer may PUT to a storing node, and fresh PeerIds cost nothing, so the store has a
 * total bound (bytes and records), a share per uploader (the remote PeerId that stored a record) and a size per
 * key. Past a bound a record is refused with a typed error; only what ranks below it, or what a heavier uploader
 * holds, makes room (planRoom): an accepted record is never dropped silently.
 */

/** Limits of a node's record store; every one optional. */
export interface StoreLimits {
  /** Memory all records may take, as costOf counts it. @default 64 MiB */
  maxBytes?: number
  /** Records held in all. @default 50_000 */
  maxItems?: number
  /** Bytes one uploader's records may take. @default maxBytes / 16 */
  maxBytesPerPeer?: number
  /** Records one uploader may hold. @default maxItems / 16 */
  maxItemsPerPeer?: number
  /** Largest record (its bytes as received) kept under one key. @default 65 KiB */
  maxKeyBytes?: number
}

/** The store's figures (discovery.info's `store`). */
export interface StoreFigures {
  bytes: number
  items: number
  limits: Required<StoreLimits>
  /** Records refused, per bound. */
  refusals: { storeFull: number; tooManyRecords: number; peerQuota: number; keyQuota: number; unsupported: number }
  /** Records dropped to make room for one that ranks above them (or from a heavier uploader). */
  evictions: number
  /** Uploaders refused for their quota (and not accepted since) that still hold records here. */
  peersOverQuota: number
  /** Uploaders holding records here. */
  uploaders: number
}

/** The owner of the node's own records (its publishes): no quota, never evicted. */
export const SELF = ''
/** Records kad-dht stored without saying from whom (kad-internals routes peers' PUTs with their PeerId). */
export const UNATTRIBUTED = 'kad-dht'

/** What the ledger knows of one held record. */
export interface Charge {
  key: string
  owner: string
  cost: number
  /** 1: a signed record (presence, device list) this node verified; 0: an opaque value. Higher survives. */
  rank: number
}

/** Memory a record costs: its key and bytes, what they decode to (a value's data, a bundle's fields), bookkeeping. */
export function costOf(key: string, value: Uint8Array): number {
  return key.length + 2 * value.length + RECORD_OVERHEAD_BYTES
}

/** Rank of a record by its key's kind: Baran's signed records above opaque values. */
export function rankOf(kind: 'presence' | 'device-list' | 'value'): number {
  return kind === 'value' ? 0 : 1
}

/** Limits with their defaults; throws InvalidConfigError naming a limit that is not a positive integer. */
export function resolveLimits(limits: StoreLimits = {}): Required<StoreLimits> {
  for (const [name, v] of Object.entries(limits)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1)) throw new InvalidConfigError(`storeLimits.${name} must be a positive integer`)
  }
  const maxBytes = limits.maxBytes ?? DEFAULT_STORE_MAX_BYTES
  const maxItems = limits.maxItems ?? DEFAULT_STORE_MAX_ITEMS
  return {
    maxBytes,
    maxItems,
    maxBytesPerPeer: limits.maxBytesPerPeer ?? Math.max(1, Math.floor(maxBytes * STORE_PEER_SHARE)),
    maxItemsPerPeer: limits.maxItemsPerPeer ?? Math.max(1, Math.floor(maxItems * STORE_PEER_SHARE)),
    maxKeyBytes: limits.maxKeyBytes ?? DEFAULT_STORE_MAX_KEY_BYTES,
  }
}

/** One uploader's account: its records in the order they were stored (oldest first). */
interface Account {
  bytes: number
  records: Map<string, Charge>
  /** How many of its records are opaque values (rank 0): lets planRoom skip accounts with none. */
  opaque: number
  overQuota: boolean
}

/** Who holds what in a record store, and the decisions its bounds call for. */
export class StoreLedger {
  readonly limits: Required<StoreLimits>
  readonly #accounts = new Map<string, Account>()
  #bytes = 0
  #items = 0
  #evictions = 0
  readonly #refusals = { storeFull: 0, tooManyRecords: 0, peerQuota: 0, keyQuota: 0, unsupported: 0 }

  constructor(limits: StoreLimits = {}) {
    this.limits = resolveLimits(limits)
  }

  /** Would `cost` more bytes (and `items` more records) fit? */
  fits(cost: number, items: number): boolean {
    return this.#bytes + cost <= this.limits.maxBytes && this.#items + items <= this.limits.maxItems
  }

  /**
   * Why this record is over a quota, if it is: KeyQuotaError over the per-key size, PeerQuotaError when `owner`
   * would hold more than its share (`replaced`: the record this one replaces, if any). Cheap, changes nothing:
   * runs before the record is verified; refuse() counts the refusal.
   */
  quotaRefusal(owner: string, size: number, cost: number, replaced?: Charge): KeyQuotaError | PeerQuotaError | undefined {
    if (size > this.limits.maxKeyBytes) return new KeyQuotaError(`record of ${size} bytes is over the ${this.limits.maxKeyBytes}-byte limit per key`)
    if (owner === SELF) return undefined
    const account = this.#accounts.get(owner)
    const mine = replaced?.owner === owner ? replaced : undefined
    const bytes = (account?.bytes ?? 0) - (mine?.cost ?? 0) + cost
    const items = (account?.records.size ?? 0) + (mine === undefined ? 1 : 0)
    if (bytes <= this.limits.maxBytesPerPeer && items <= this.limits.maxItemsPerPeer) return undefined
    return new PeerQuotaError(
      `peer ${owner} holds ${account?.records.size ?? 0} records (${account?.bytes ?? 0} bytes) here; its quota is ${this.limits.maxItemsPerPeer} records, ${this.limits.maxBytesPerPeer} bytes`,
    )
  }

  /** Count a refusal (and mark `owner` over its quota for a PeerQuotaError); returns the error to throw. */
  refuse<E extends DiscoveryError>(err: E, owner?: string): E {
    if (err.code === 'key_quota') this.#refusals.keyQuota++
    else if (err.code === 'peer_quota') {
      this.#refusals.peerQuota++
      const account = owner === undefined ? undefined : this.#accounts.get(owner)
      if (account !== undefined) account.overQuota = true
    } else if (err.code === 'unsupported_record') this.#refusals.unsupported++
    return err
  }

  /**
   * The records that must go for `incoming` to fit (none when it fits), without changing anything. Candidates, an
   * uploader at a time, the heaviest first and its oldest records first: records ranked below the incoming one;
   * then records of its rank held by uploaders that hold more than its owner would. The node's own records never
   * go; expired ones the caller sweeps first. Throws StoreFullError or TooManyRecordsError when that is not enough.
   */
  planRoom(incoming: { owner: string; cost: number; rank: number }, replaced?: Charge): Charge[] {
    const needBytes = this.#bytes - (replaced?.cost ?? 0) + incoming.cost - this.limits.maxBytes
    const needItems = this.#items + (replaced === undefined ? 1 : 0) - this.limits.maxItems
    if (needBytes <= 0 && needItems <= 0) return []
    const own = this.#accounts.get(incoming.owner)
    const ownerAfter = incoming.owner === SELF ? 0 : (own?.bytes ?? 0) - (replaced?.owner === incoming.owner ? replaced.cost : 0) + incoming.cost
    const victims: Charge[] = []
    const chosen = new Set<Charge>()
    const taken = new Map<string, number>()
    let freedBytes = 0
    let freedItems = 0
    for (const pass of ['below', 'heavier'] as const) {
      if (pass === 'below' && incoming.rank === 0) continue // nothing ranks below an opaque value
      while (freedBytes < needBytes || freedItems < needItems) {
        let best: { charge: Charge; left: number } | undefined
        for (const [owner, account] of this.#accounts) {
          if (owner === SELF) continue
          const left = account.bytes - (taken.get(owner) ?? 0)
          if (best !== undefined && left <= best.left) continue
          if (pass === 'heavier' && (owner === incoming.owner || left <= ownerAfter)) continue
          const opaqueOnly = incoming.rank === 0 || pass === 'below'
          if (opaqueOnly && account.opaque === 0) continue
          for (const charge of account.records.values()) {
            if (chosen.has(charge) || charge === replaced) continue
            if (pass === 'below' ? charge.rank < incoming.rank : charge.rank <= incoming.rank) {
              best = { charge, left }
              break
            }
          }
        }
        if (best === undefined) break
        chosen.add(best.charge)
        victims.push(best.charge)
        freedBytes += best.charge.cost
        freedItems++
        taken.set(best.charge.owner, (taken.get(best.charge.owner) ?? 0) + best.charge.cost)
      }
    }
    if (freedBytes < needBytes) {
      this.#refusals.storeFull++
      throw new StoreFullError(`the store holds ${this.#bytes} of ${this.limits.maxBytes} bytes and nothing ranked below this record can make room`)
    }
    if (freedItems < needItems) {
      this.#refusals.tooManyRecords++
      throw new TooManyRecordsError(`the store holds ${this.#items} of ${this.limits.maxItems} records and nothing ranked below this record can make room`)
    }
    return victims
  }

  add(charge: Charge): void {
    let account = this.#accounts.get(charge.owner)
    if (account === undefined) {
      account = { bytes: 0, records: new Map(), opaque: 0, overQuota: false }
      this.#accounts.set(charge.owner, account)
    }
    account.records.set(charge.key, charge)
    account.overQuota = false
    account.bytes += charge.cost
    if (charge.rank === 0) account.opaque++
    this.#bytes += charge.cost
    this.#items++
  }

  /** Forget a record (replaced, expired, deleted; `evicted`: dropped to make room). */
  remove(charge: Charge, evicted = false): void {
    const account = this.#accounts.get(charge.owner)
    if (account?.records.get(charge.key) !== charge) return
    account.records.delete(charge.key)
    account.bytes -= charge.cost
    if (charge.rank === 0) account.opaque--
    this.#bytes -= charge.cost
    this.#items--
    if (evicted) this.#evictions++
    if (account.records.size === 0) this.#accounts.delete(charge.owner)
  }

  figures(): StoreFigures {
    let peersOverQuota = 0
    for (const account of this.#accounts.values()) if (account.overQuota) peersOverQuota++
    return {
      bytes: this.#bytes,
      items: this.#items,
      limits: { ...this.limits },
      refusals: { ...this.#refusals },
      evictions: this.#evictions,
      peersOverQuota,
      uploaders: this.#accounts.size - (this.#accounts.has(SELF) ? 1 : 0),
    }
  }
}
