import { ReplayedRecordError, RevokedDeviceError, SeqTracker } from '@baran/trust'
import { bytesEqual, sha256 } from './bytes.ts'
import {
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_MAX_VALUE_BYTES,
  DEVICES_NAMESPACE,
  PRESENCE_NAMESPACE,
  REVOCATION_BOOK_SIZE,
  VALUE_NAMESPACE,
  VERIFY_CACHE_SIZE,
} from './constants.ts'
import { type ParsedKey, parseKey } from './keys.ts'
import {
  ChainCache,
  type RevocationInfo,
  type VerifiedDeviceList,
  type VerifiedPresence,
  verifyDeviceListBundle,
  verifyPresenceBundle,
  verifyRevocations,
} from './records.ts'
import { admitValue, type OpaqueValue, selectValue, verifyValue } from './values.ts'

/** A value that verified for its key, with what it says. */
export type VerifiedEntry =
  | { kind: 'presence'; key: string; seq: number; expiresAt: number; presence: VerifiedPresence }
  | { kind: 'device-list'; key: string; seq: number; expiresAt: number; deviceList: VerifiedDeviceList }
  | { kind: 'value'; key: string; expiresAt: number; value: OpaqueValue }

/** Options of RecordPolicy. */
export interface RecordPolicyInit {
  /** Clock, ms since epoch. @default Date.now */
  now?: () => number
  /** @default 60_000 */
  clockSkewMs?: number
  /** Largest opaque value payload. @default 16384 */
  maxValueBytes?: number
}

/**
 * The newest revocation list a node has seen per account (bounded LRU). Revocation is for good:
 * a device listed once stays refused even after that list's record expired.
 */
export class RevocationBook {
  readonly #byAccount = new Map<string, { seq: number; devices: Set<string> }>()
  readonly #max: number

  constructor(max = REVOCATION_BOOK_SIZE) {
    this.#max = max
  }

  /** Remember a verified list if it is newer than the one known; true if it was. */
  learn(info: RevocationInfo): boolean {
    const known = this.#byAccount.get(info.accountId)
    if (known !== undefined && known.seq >= info.seq) return false
    this.#byAccount.delete(info.accountId)
    this.#byAccount.set(info.accountId, { seq: info.seq, devices: new Set(info.devices) })
    if (this.#byAccount.size > this.#max) {
      const oldest = this.#byAccount.keys().next().value
      if (oldest !== undefined) this.#byAccount.delete(oldest)
    }
    return true
  }

  /** True if the newest known list of the account names the device. */
  isRevoked(accountId: string, deviceId: string): boolean {
    return this.#byAccount.get(accountId)?.devices.has(deviceId) === true
  }

  /** seq of the newest known list of the account. */
  seqOf(accountId: string): number | undefined {
    return this.#byAccount.get(accountId)?.seq
  }

  get size(): number {
    return this.#byAccount.size
  }
}

/** Outcome of admitting a value into a node's store. */
export interface Admission {
  entry: VerifiedEntry
  /** False when the exact same bytes were already stored (a retry): nothing new to announce. */
  changed: boolean
}

/**
 * One node's rules for Baran records: what is valid under a key (kad-dht validators), which of
 * several values is best (selectors), and what may replace what is stored (replay, revocation
 * and first-writer rules). Signature checks are cached per value: they are the expensive part
 * (tweetnacl verifies in ~5 ms), and one value reaches a node many times.
 */
export class RecordPolicy {
  readonly revocations = new RevocationBook()
  readonly seqs = new SeqTracker()
  readonly now: () => number
  readonly clockSkewMs: number
  readonly maxValueBytes: number
  readonly #cache = new Map<string, { entry: VerifiedEntry; checkedAt: number }>()
  readonly #chains = new ChainCache()

  constructor(init: RecordPolicyInit = {}) {
    this.now = init.now ?? Date.now
    this.clockSkewMs = init.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
    this.maxValueBytes = init.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  }

  /**
   * Is `value` valid under `key` now? Returns what it says or throws (@baran/trust errors for
   * forged, expired or revoked records; this package's errors for keys and shapes).
   */
  verify(key: string | Uint8Array, value: Uint8Array): VerifiedEntry {
    const parsed = parseKey(key)
    const now = this.now()
    if (parsed.kind === 'value') {
      const v = verifyValue(value, { now, maxValueBytes: this.maxValueBytes, clockSkewMs: this.clockSkewMs })
      return { kind: 'value', key: parsed.key, expiresAt: v.expiresAt, value: v }
    }
    const id = `${parsed.key}\0${Buffer.from(sha256(value)).toString('base64')}`
    const hit = this.#cache.get(id)
    let entry: VerifiedEntry
    if (hit !== undefined && now >= hit.checkedAt && now < hit.entry.expiresAt) {
      entry = hit.entry
    } else {
      entry = this.#verifySigned(parsed, value, now)
      this.#cache.delete(id)
      this.#cache.set(id, { entry, checkedAt: now })
      if (this.#cache.size > VERIFY_CACHE_SIZE) {
        const oldest = this.#cache.keys().next().value
        if (oldest !== undefined) this.#cache.delete(oldest)
      }
    }
    // Revocations learnt after the entry was cached still apply.
    if (entry.kind === 'presence' && this.revocations.isRevoked(entry.presence.accountId, entry.presence.deviceId)) {
      throw new RevokedDeviceError(`device ${entry.presence.deviceId} is revoked by account ${entry.presence.accountId}`)
    }
    return entry
  }

  /**
   * Is an entry that verified at `checkedAt` still valid now? What can change after a check:
   * the clock (past the entry's expiry, or set back before the check) and the revocations this
   * node knows (a newer list naming the device). The rest (signatures, shape) cannot.
   */
  stillValid(entry: VerifiedEntry, checkedAt: number): boolean {
    const now = this.now()
    if (now < checkedAt || now >= entry.expiresAt) return false
    return !(entry.kind === 'presence' && this.revocations.isRevoked(entry.presence.accountId, entry.presence.deviceId))
  }

  #verifySigned(parsed: Exclude<ParsedKey, { kind: 'value' }>, value: Uint8Array, now: number): VerifiedEntry {
    const opts = { now, clockSkewMs: this.clockSkewMs, chainCache: this.#chains, isRevoked: (a: string, d: string) => this.revocations.isRevoked(a, d) }
    try {
      if (parsed.kind === 'presence') {
        const presence = verifyPresenceBundle(value, { ...opts, deviceId: parsed.deviceId })
        if (presence.revocations) this.revocations.learn(presence.revocations)
        return { kind: 'presence', key: parsed.key, seq: presence.seq, expiresAt: presence.expiresAt, presence }
      }
      const deviceList = verifyDeviceListBundle(value, { ...opts, accountId: parsed.accountId })
      if (deviceList.revocations) this.revocations.learn(deviceList.revocations)
      return { kind: 'device-list', key: parsed.key, seq: deviceList.seq, expiresAt: deviceList.expiresAt, deviceList }
    } catch (err) {
      // A bundle refused because its own revocation list names the device still teaches that list.
      if ((err as Error).name === 'RevokedDeviceError') this.#learnFrom(value, now)
      throw err
    }
  }

  #learnFrom(value: Uint8Array, now: number): void {
    try {
      const obj = JSON.parse(Buffer.from(value).toString('utf8')) as { revocations?: unknown }
      if (obj.revocations !== undefined) this.revocations.learn(verifyRevocations(obj.revocations, { now, clockSkewMs: this.clockSkewMs }))
    } catch {
      // nothing to learn
    }
  }

  /**
   * May `value` be stored under `key` given what is stored there now (`existing`)? It must be
   * valid, and: for presence and device lists, its seq must be above both the stored record's
   * and the highest seq this node ever accepted for the key (ReplayedRecordError); for opaque
   * values, the first-writer rules of values.ts. Identical bytes are accepted as a retry.
   * On success, remembers the seq (unless `dryRun`: check only).
   */
  admit(key: string | Uint8Array, value: Uint8Array, existing?: Uint8Array, opts: { dryRun?: boolean } = {}): Admission {
    const entry = this.verify(key, value)
    if (existing !== undefined && bytesEqual(existing, value)) return { entry, changed: false }
    let old: VerifiedEntry | undefined
    if (existing !== undefined) {
      try {
        old = this.verify(key, existing)
      } catch {
        old = undefined // expired, revoked or otherwise no longer valid: free to replace
      }
    }
    if (entry.kind === 'value') {
      admitValue(entry.value, value, old?.kind === 'value' ? { value: old.value, bytes: existing as Uint8Array } : undefined)
      return { entry, changed: true }
    }
    if (old !== undefined && old.kind !== 'value' && entry.seq <= old.seq) {
      throw new ReplayedRecordError(`${entry.kind} seq ${entry.seq} is not above the stored seq ${old.seq}`)
    }
    this.seqs.check(entry.key, entry.seq)
    if (opts.dryRun !== true) this.seqs.accept(entry.key, entry.seq)
    return { entry, changed: true }
  }

  /** Index of the best of several values for one key: highest seq, or values.ts's rule. */
  select(key: string | Uint8Array, values: Uint8Array[]): number {
    const entries = values.map((v) => {
      try {
        return this.verify(key, v)
      } catch {
        return undefined
      }
    })
    return this.selectVerified(key, entries)
  }

  /** select() for values already verified (undefined: one that did not verify). */
  selectVerified(key: string | Uint8Array, entries: Array<VerifiedEntry | undefined>): number {
    if (parseKey(key).kind === 'value') {
      return selectValue(entries.map((e) => (e?.kind === 'value' ? e.value : undefined)))
    }
    let best = 0
    let bestSeq = -1
    entries.forEach((e, i) => {
      if (e !== undefined && e.kind !== 'value' && e.seq > bestSeq) {
        best = i
        bestSeq = e.seq
      }
    })
    return best
  }

  /** kad-dht `validators` for our namespaces. */
  kadValidators(): Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>> {
    const validate = async (key: Uint8Array, value: Uint8Array): Promise<void> => {
      this.verify(key, value)
    }
    return { [PRESENCE_NAMESPACE]: validate, [DEVICES_NAMESPACE]: validate, [VALUE_NAMESPACE]: validate }
  }

  /** kad-dht `selectors` for our namespaces. */
  kadSelectors(): Record<string, (key: Uint8Array, values: Uint8Array[]) => number> {
    const select = (key: Uint8Array, values: Uint8Array[]): number => this.select(key, values)
    return { [PRESENCE_NAMESPACE]: select, [DEVICES_NAMESPACE]: select, [VALUE_NAMESPACE]: select }
  }
}
