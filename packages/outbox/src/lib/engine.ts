import type { Backoff } from '@baran/actor/recurring'
import { deliveryBackoff } from './backoff.ts'
import { LOOKUP_FRESH_MS, LOOKUP_USABLE_MS, MAX_IN_FLIGHT, WATCH_REFRESH_MS } from './constants.ts'
import { type DeliveryStateValue, nextDelivery } from './delivery-machine.ts'
import { errorText, isRefusal, type Outcome, retryDue, settle, settledRecord } from './delivery-outcome.ts'
import {
  type Clock,
  type DeliveryChange,
  type DeliveryDeps,
  type DeliveryEngineInit,
  type EngineLogger,
  systemClock,
} from './engine-types.ts'
import { DeviceDirectory } from './directory.ts'
import { DuePump } from './due-pump.ts'
import { NoDevicesError } from './errors.ts'
import { type PendingItem as Item, PendingIndex } from './pending.ts'
import { type DeviceRecord, finishedAt, type OutgoingRecord, withDevice, withRecipientDevices } from './records.ts'

export type { AccountDevices, Clock, DeliveryChange, DeliveryDeps, DeliveryEngineInit, DevicePresenceInfo, EngineLogger, SealRequest } from './engine-types.ts'
export { systemClock } from './engine-types.ts'

const silent: EngineLogger = { debug() {}, warn() {}, error() {} }

/**
 * The delivery engine, pure of NATS. It keeps an in-memory index of pending (message, device) pairs ordered by
 * next attempt, arms ONE timer for the earliest, runs at most `maxInFlight` attempts at once and at most one per
 * pair, and records every outcome in the store. A presence event for a device (or its account) makes its
 * messages due now: that is the "deliver as soon as it comes online" path; back-off with jitter is the fallback.
 */
export class DeliveryEngine {
  #deps: DeliveryDeps
  #clock: Clock
  #random: () => number
  #backoff: Backoff
  /** The back-off after n failed attempts. */
  readonly #after = (attempts: number): number => this.#backoff.after(attempts)
  #log: EngineLogger
  #onChange: ((c: DeliveryChange) => void) | undefined

  /** Pending items, by message, device and account, and the due heap. Once nothing is left for an account, its lookups and watch go too. */
  #pending = new PendingIndex((account) => this.#directory.forget(account))
  #heap = this.#pending.heap
  #directory: DeviceDirectory

  /** Starts due items, at most maxInFlight at once, with one timer for the next. */
  #run: DuePump<Item>
  #abort = new AbortController()

  constructor(deps: DeliveryDeps, init: DeliveryEngineInit = {}) {
    this.#deps = deps
    this.#clock = init.clock ?? systemClock
    this.#random = init.random ?? Math.random
    this.#run = new DuePump({
      clock: this.#clock,
      max: init.maxInFlight ?? MAX_IN_FLIGHT,
      heap: this.#heap,
      start: (item, now) => void (item.kind === 'resolve' ? this.#resolve(item.account, now) : this.#runDevice(item, now)),
    })
    this.#backoff = deliveryBackoff(init.backoff, this.#random)
    this.#log = init.log ?? silent
    this.#onChange = init.onChange
    this.#directory = new DeviceDirectory(deps, {
      clock: this.#clock,
      freshMs: init.lookupFreshMs ?? LOOKUP_FRESH_MS,
      usableMs: Math.max(init.lookupFreshMs ?? LOOKUP_FRESH_MS, init.lookupUsableMs ?? LOOKUP_USABLE_MS),
      watchRefreshMs: init.watchRefreshMs ?? WATCH_REFRESH_MS,
      log: this.#log,
      signal: () => this.#abort.signal,
      intern: (x) => this.#pending.intern(x),
      tracks: (account) => this.#pending.tracks(account),
      onRevoked: (id) => this.#pending.hasDevice(id) && this.revokeDevice(id),
    })
  }

  /**
   * Loads every record and resumes whatever is undelivered. Records finished longer than `retainFinishedMs` ago
   * are removed on the way (the bucket would otherwise grow forever).
   */
  async start(opts: { retainFinishedMs?: number } = {}): Promise<{ resumed: number; pruned: number; corrupt: string[] }> {
    const { records, corrupt } = await this.#deps.store.all()
    for (const key of corrupt) this.#log.warn({ key }, 'skipping an outbox record that does not decode')
    const now = this.#clock.now()
    let resumed = 0
    let pruned = 0
    for (const r of records) {
      const done = finishedAt(r)
      if (done === undefined) {
        if (this.#track(r)) resumed++
      } else if (opts.retainFinishedMs !== undefined && done < now - opts.retainFinishedMs) {
        await this.#deps.store.remove(r.id).then(
          () => pruned++,
          (e: unknown) => this.#log.warn({ err: (e as Error).message, id: r.id }, 'could not prune a finished record'),
        )
      }
    }
    this.#run.pump()
    return { resumed, pruned, corrupt }
  }

  /**
   * The record with its recipient's devices filled in when a fresh lookup of that account is at hand (as the
   * resolving step would, without its extra write and lookup); otherwise unchanged. Call before persisting it.
   */
  withKnownDevices(r: OutgoingRecord): OutgoingRecord {
    if (r.devicesResolved) return r
    const known = this.#directory.known(r.to)
    return known?.length ? withRecipientDevices(r, known) : r
  }

  /** Starts delivering a record that was just persisted. */
  add(record: OutgoingRecord): void {
    if (this.#run.stopped) return
    this.#track(record, true)
    this.#run.pump()
  }

  /** A watched device published a fresh presence (or new addresses): try its messages now. */
  deviceOnline(p: { accountId: string; deviceId: string; peerId: string; addrs: string[] }): void {
    // Events for accounts others watch (the CLI, the UI) are none of our business.
    if (!this.#pending.tracks(p.accountId) && !this.#pending.hasDevice(p.deviceId)) return
    const now = this.#clock.now()
    this.#directory.online(p)
    for (const item of this.#pending.ofDevice(p.deviceId)) this.#pending.dueNow(item, now)
    // A device of an account we could not resolve yet: resolve it now.
    for (const item of this.#pending.unresolvedOf(p.accountId)) this.#pending.dueNow(item, now)
    this.#run.pump()
  }

  /** A watched device went offline: forget its addresses (the next attempt asks discovery again). */
  deviceOffline(p: { deviceId: string }): void {
    this.#directory.offline(p.deviceId)
  }

  /**
   * A device took a message from its DHT mailbox and said so (a `delivered` receipt): the delivery ends as delivered
   * (at once, or when the attempt in flight ends), as if its direct attempt had been acknowledged.
   */
  deliveredElsewhere(id: string, deviceId: string): void {
    const item = this.#pending.ofMessage(id).find((i) => i.kind === 'device' && i.deviceId === deviceId && !i.sync)
    if (!item) return
    item.deliveredElsewhere = true
    if (!item.busy) this.#pending.dueNow(item, this.#clock.now())
    this.#run.pump()
  }

  /** A device was revoked: nothing new goes to it; its pending messages end as rejected. */
  revokeDevice(deviceId: string): void {
    const now = this.#clock.now()
    for (const item of this.#pending.ofDevice(deviceId)) {
      item.revoked = true
      if (!item.busy) this.#pending.dueNow(item, now)
    }
    this.#run.pump()
  }

  /** Everything waiting is due now (the bus or JetStream came back after an outage). */
  kick(): void {
    this.#pending.allDueBy(this.#clock.now())
    this.#run.pump()
  }

  /**
   * The bus came back after an outage: a request in flight across it is never answered (its reply was lost with
   * the server), and waiting for its timeout (20 s for a lookup, 35 s for a send) stalled every message to that
   * account. Fail them now and try again at once; a receiver de-duplicates whatever did arrive.
   */
  interrupt(): void {
    if (this.#run.stopped) return
    const stale = this.#abort
    this.#abort = new AbortController()
    this.#directory.reset()
    for (const i of this.#pending.all()) if (i.busy) i.retryNow = true
    stale.abort(new Error('the bus reconnected: retrying'))
    this.kick()
  }

  /** The in-memory state of a pending device (sending shows only here). */
  live(id: string, deviceId: string): { state: DeliveryStateValue; attempts: number; due: number } | undefined {
    const item = this.#pending.ofMessage(id).find((i) => i.kind === 'device' && i.deviceId === deviceId)
    return item ? { state: item.busy ? 'sending' : 'queued', attempts: item.attempts, due: item.due } : undefined
  }

  /** IDs of messages with something left to do, oldest first. */
  pendingIds(): string[] {
    return [...this.#pending.messageIds()].sort()
  }

  /** pending: (message, device) pairs not final yet; unresolved: messages whose recipient's devices are unknown. */
  stats(): { pending: number; unresolved: number; messages: number; inFlight: number; watching: number } {
    const { device, resolve } = this.#pending.count
    return { pending: device, unresolved: resolve, messages: this.#pending.messages, inFlight: this.#run.inFlight, watching: this.#directory.watching }
  }

  /** Resolves once no attempt, lookup or write is in flight (tests, benchmarks). */
  idle(): Promise<void> {
    return this.#run.idle()
  }

  /** Stops the timer, aborts what is in flight and waits for it to settle. Nothing is lost: it stays queued. */
  async stop(): Promise<void> {
    this.#run.stop()
    this.#abort.abort(new Error('outbox stopping'))
    await this.idle()
  }

  // ---- bookkeeping ----

  /** Indexes a record's unfinished work; true if there was any. */
  #track(r: OutgoingRecord, fresh = false): boolean {
    if (this.#pending.hasMessage(r.id) || r.expiredAt !== undefined) return false
    const now = this.#clock.now()
    let any = false
    for (const d of r.devices) {
      if (d.state !== 'queued') continue
      const account = d.sync ? r.from : r.to
      const due = Math.min(d.nextAttemptAt ?? now, now + this.#backoff.maxMs)
      const item = this.#pending.newItem('device', r, account, d.deviceId, d.sync, due, d.attempts)
      item.deposited = d.depositedAt !== undefined
      this.#pending.insert(item)
      if (fresh) this.#emit({ id: r.id, kind: r.kind, to: r.to, deviceId: d.deviceId, sync: d.sync, state: 'queued', attempts: 0, at: now })
      any = true
    }
    if (!r.devicesResolved) {
      this.#pending.insert(this.#pending.newItem('resolve', r, r.to, '', false, now, 0))
      any = true
    }
    return any
  }

  #emit(c: DeliveryChange): void {
    try {
      this.#onChange?.(c)
    } catch (e) {
      this.#log.error({ err: e }, 'delivery listener failed')
    }
  }

  // ---- one device ----

  async #runDevice(item: Item, now: number): Promise<void> {
    this.#run.begin()
    item.busy = true
    try {
      if (item.deliveredElsewhere) await this.#settle(item, 'sending', { event: { type: 'ACKED' } })
      else if (item.revoked) await this.#settle(item, 'queued', { event: { type: 'REVOKED' }, error: 'revoked' })
      else if (now >= item.expiresAt) await this.#settle(item, 'queued', { event: { type: 'EXPIRE' } })
      else {
        const sending = nextDelivery({ state: 'queued', attempts: item.attempts }, { type: 'ATTEMPT' })
        this.#emit({ ...this.#about(item), state: sending.state, attempts: item.attempts, at: now })
        await this.#settle(item, 'sending', await this.#attempt(item))
      }
    } catch (e) {
      // The store failed (JetStream down): keep the item and try again later; nothing was recorded as done.
      this.#log.warn({ err: (e as Error).message, id: item.id, deviceId: item.deviceId }, 'could not record a delivery outcome')
      this.#pending.requeue(item, this.#clock.now() + this.#backoff.after(item.attempts))
    } finally {
      item.busy = false
      this.#run.end()
    }
  }

  async #attempt(item: Item): Promise<Outcome> {
    const signal = this.#abort.signal
    let envelope: Uint8Array | undefined
    try {
      const target = await this.#directory.target(item.account, item.deviceId, item.attempts > 0)
      if (target === 'revoked') return { event: { type: 'REVOKED' }, error: 'revoked' }
      if (!target) {
        await this.#directory.ensureWatch(item.account)
        await this.#deposit(item, undefined, signal)
        return { event: { type: 'FAILED' }, error: 'offline' }
      }
      const record = await this.#deps.store.current(item.id)
      if (!record) return { event: { type: 'REFUSED' }, error: 'record deleted' }
      envelope = await this.#deps.seal({ record, deviceId: item.deviceId, account: item.account, sync: item.sync }, signal)
      await this.#deps.send({ peerId: target.peerId, addrs: target.addrs, id: record.id, payload: envelope }, signal)
      return { event: { type: 'ACKED' } }
    } catch (e) {
      const error = errorText(e)
      if (isRefusal(e)) return { event: { type: 'REFUSED' }, error }
      // The address may be stale: look it up again next time.
      this.#directory.stale(item.deviceId, item.account)
      await this.#directory.ensureWatch(item.account)
      await this.#deposit(item, envelope, signal)
      return { event: { type: 'FAILED' }, error }
    }
  }

  /**
   * The device was not reachable (no presence, or the send failed): its envelope goes to its DHT mailbox as well,
   * once per (message, device), and direct attempts go on. A failed deposit is tried again at the next failed attempt.
   */
  async #deposit(item: Item, sealed: Uint8Array | undefined, signal: AbortSignal): Promise<void> {
    const deposit = this.#deps.deposit
    if (!deposit || item.deposited || signal.aborted) return
    try {
      const record = await this.#deps.store.current(item.id)
      if (!record) return
      if (record.devices.some((d) => d.deviceId === item.deviceId && d.sync === item.sync && d.depositedAt !== undefined)) {
        item.deposited = true
        return
      }
      const envelope = sealed ?? (await this.#deps.seal({ record, deviceId: item.deviceId, account: item.account, sync: item.sync }, signal))
      await deposit({ deviceId: item.deviceId, envelope }, signal)
      const at = this.#clock.now()
      await this.#record(item, (d) => ({ ...d, depositedAt: at }))
      item.deposited = true
      this.#log.debug({ id: item.id, deviceId: item.deviceId }, 'deposited in the device mailbox')
      this.#emit({ ...this.#about(item), state: 'queued', attempts: item.attempts, at, deposited: at })
    } catch (e) {
      // No certificate to seal to (its presence is gone from the DHT: common for a device long offline), or a
      // discovery that keeps no mailboxes (the LAN one answers `unavailable`): not worth a warning at every attempt.
      const code = (e as { code?: unknown }).code
      const level = code === 'not_found' || code === 'unavailable' ? 'debug' : 'warn'
      this.#log[level]({ err: errorText(e), id: item.id, deviceId: item.deviceId }, 'could not deposit in the device mailbox')
    }
  }

  /** Applies an outcome through the machine, records it, and re-queues or retires the item. */
  async #settle(item: Item, from: 'queued' | 'sending', outcome: Outcome): Promise<void> {
    const now = this.#clock.now()
    const s = settle(item, from, outcome, now, this.#after)
    const error = s.error ? { error: s.error } : {}
    if (s.state === 'queued') {
      item.attempts = s.attempts
      item.retryNow = false
      await this.#record(item, (d) => settledRecord(d, s, now))
      this.#pending.requeue(item, s.due)
      this.#emit({ ...this.#about(item), state: 'queued', attempts: s.attempts, at: now, ...error })
      return
    }
    // Final: write it first, so an event never announces what a crash could undo.
    await this.#record(item, (d) => settledRecord(d, s, now))
    this.#pending.remove(item)
    this.#emit({ ...this.#about(item), state: s.state, attempts: s.attempts, at: now, ...error })
    if (s.state === 'delivered' && s.acked && !item.deliveredElsewhere) this.#reached(item, now)
  }

  /**
   * The device just acknowledged a message: it is reachable now, so its other messages waiting out a back-off go
   * at once (after a long outage the back-off reaches minutes, and no presence event comes when only the path was
   * down, e.g. a transport or nats-server restart on either side). One whose attempt is still in flight goes again
   * at once if that attempt fails (an attempt begun while the path was down can fail after the path came back).
   */
  #reached(item: Item, now: number): void {
    if (item.kind !== 'device') return
    let woke = false
    for (const other of this.#pending.ofDevice(item.deviceId)) {
      if (!other.busy && other.due <= now) continue
      this.#pending.dueNow(other, now)
      woke ||= !other.busy
    }
    if (woke) this.#run.pump()
  }

  async #record(item: Item, patch: (d: DeviceRecord) => DeviceRecord): Promise<void> {
    await this.#deps.store.update(item.id, (r) => withDevice(r, item.deviceId, patch, item.sync))
  }

  #about(item: Item): Pick<DeliveryChange, 'id' | 'kind' | 'to' | 'deviceId' | 'sync'> {
    return { id: item.id, kind: item.msgKind, to: item.to, ...(item.kind === 'device' ? { deviceId: item.deviceId, sync: item.sync } : {}) }
  }

  // ---- resolving a recipient's devices ----

  /** Finds the devices of an account and gives every unresolved message to it its per-device deliveries. */
  async #resolve(account: string, now: number): Promise<void> {
    const items = [...this.#pending.unresolvedOf(account)].filter((i) => !i.busy)
    for (const i of items) {
      this.#heap.remove(i)
      i.busy = true
    }
    this.#run.begin()
    try {
      const live = items.filter((i) => now < i.expiresAt)
      for (const i of items) if (now >= i.expiresAt) await this.#expireUnresolved(i, now)
      if (live.length === 0) return
      let targets: string[]
      try {
        const found = await this.#directory.devices(account)
        targets = found.devices.filter((d) => !found.revoked.includes(d.deviceId)).map((d) => d.deviceId)
        if (targets.length === 0) throw new NoDevicesError(`account ${account} lists no device`)
      } catch (e) {
        await this.#directory.ensureWatch(account)
        const error = errorText(e)
        for (const i of live) {
          i.attempts++
          const due = retryDue(i, i.attempts, this.#clock.now(), this.#after)
          i.retryNow = false
          this.#pending.requeue(i, due)
          this.#emit({ ...this.#about(i), state: 'queued', attempts: i.attempts, at: this.#clock.now(), error })
        }
        return
      }
      // One write per message, all at once: a burst of messages to one account is resolved together.
      const failed = (await Promise.allSettled(live.map((i) => this.#resolveOne(i, targets)))).find((r) => r.status === 'rejected')
      if (failed) throw failed.reason
    } catch (e) {
      this.#log.warn({ err: (e as Error).message, account }, 'could not record resolved devices')
      for (const i of items) this.#pending.requeue(i, this.#clock.now() + this.#backoff.after(i.attempts))
    } finally {
      for (const i of items) i.busy = false
      this.#run.end()
    }
  }

  async #resolveOne(item: Item, targets: string[]): Promise<void> {
    const rec = await this.#deps.store.update(item.id, (r) => (r.devicesResolved ? r : withRecipientDevices(r, targets)))
    if (rec) {
      const now = this.#clock.now()
      const tracked = new Set(this.#pending.ofMessage(item.id).map((i) => i.deviceId))
      for (const d of rec.devices) {
        if (d.state !== 'queued' || tracked.has(d.deviceId)) continue
        this.#pending.insert(this.#pending.newItem('device', rec, d.sync ? rec.from : rec.to, d.deviceId, d.sync, now, d.attempts))
        this.#emit({ id: rec.id, kind: rec.kind, to: rec.to, deviceId: d.deviceId, sync: d.sync, state: 'queued', attempts: 0, at: now })
      }
    }
    // Only now: removing the last item of an account first would forget what the lookup just learned.
    this.#pending.remove(item)
  }

  async #expireUnresolved(item: Item, now: number): Promise<void> {
    await this.#deps.store.update(item.id, (r) => (r.devicesResolved || r.expiredAt !== undefined ? r : { ...r, expiredAt: now }))
    // Its sync copies (already per device) expire on their own timers.
    this.#pending.remove(item)
    this.#emit({ id: item.id, kind: item.msgKind, to: item.to, state: 'expired', attempts: item.attempts, at: now })
  }
}
