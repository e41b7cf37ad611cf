import { DueHeap } from './heap.ts'
import type { OutgoingRecord } from './records.ts'

/**
 * What the engine keeps per pending (message, device): no body, a few numbers and shared strings. A `resolve`
 * item stands for a message whose recipient's devices are not known yet.
 */
export interface PendingItem {
  kind: 'device' | 'resolve'
  id: string
  msgKind: 'message' | 'receipt'
  /** The recipient account (what events report). */
  to: string
  /** The account that owns the device (the sender's own for sync copies): what is looked up and watched. */
  account: string
  deviceId: string
  sync: boolean
  due: number
  expiresAt: number
  attempts: number
  heapIndex: number
  busy: boolean
  /** A presence event arrived while busy: go again at once if this attempt fails. */
  retryNow: boolean
  revoked: boolean
  /** Its envelope is in the device's DHT mailbox (or the record says so): not deposited again. */
  deposited: boolean
  /** The device said it took the message another way (its DHT mailbox): settle as delivered. */
  deliveredElsewhere: boolean
}

/**
 * The engine's index of pending items: by message, by device, unresolved by account, how many per account, and
 * the due heap that orders them by next attempt. Account and device IDs are interned: each string kept once
 * however many items name it.
 */
export class PendingIndex {
  readonly heap = new DueHeap<PendingItem>()
  readonly count = { device: 0, resolve: 0 }
  #byMessage = new Map<string, PendingItem[]>()
  #byDevice = new Map<string, Set<PendingItem>>()
  #unresolved = new Map<string, Set<PendingItem>>()
  #perAccount = new Map<string, number>()
  #strings = new Map<string, string>()
  /** Nothing is pending for the account any more: forget it; returns the device IDs that go with it. */
  #onAccountDone: (account: string) => Iterable<string>

  constructor(onAccountDone: (account: string) => Iterable<string>) {
    this.#onAccountDone = onAccountDone
  }

  intern(s: string): string {
    const known = this.#strings.get(s)
    if (known !== undefined) return known
    this.#strings.set(s, s)
    return s
  }

  /** Whether anything is pending for the account. */
  tracks(account: string): boolean {
    return this.#perAccount.has(account)
  }

  hasDevice(deviceId: string): boolean {
    return this.#byDevice.has(deviceId)
  }

  hasMessage(id: string): boolean {
    return this.#byMessage.has(id)
  }

  get messages(): number {
    return this.#byMessage.size
  }

  /** IDs of messages with something left to do, in no order. */
  messageIds(): IterableIterator<string> {
    return this.#byMessage.keys()
  }

  ofMessage(id: string): readonly PendingItem[] {
    return this.#byMessage.get(id) ?? []
  }

  ofDevice(deviceId: string): Iterable<PendingItem> {
    return this.#byDevice.get(deviceId) ?? []
  }

  unresolvedOf(account: string): Iterable<PendingItem> {
    return this.#unresolved.get(account) ?? []
  }

  /** Every pending item (in the heap or in flight). */
  *all(): IterableIterator<PendingItem> {
    for (const items of this.#byMessage.values()) yield* items
  }

  /** Still indexed (not retired). */
  contains(item: PendingItem): boolean {
    return this.#byMessage.get(item.id)?.includes(item) ?? false
  }

  newItem(kind: PendingItem['kind'], r: OutgoingRecord, account: string, deviceId: string, sync: boolean, due: number, attempts: number): PendingItem {
    return {
      kind,
      id: r.id,
      msgKind: r.kind,
      to: this.intern(r.to),
      account: this.intern(account),
      deviceId: this.intern(deviceId),
      sync,
      due,
      expiresAt: r.expiresAt,
      attempts,
      heapIndex: -1,
      busy: false,
      retryNow: false,
      revoked: false,
      deposited: false,
      deliveredElsewhere: false,
    }
  }

  insert(item: PendingItem): void {
    // Exact-size arrays: push() would reserve room for 16 more items on every message.
    const list = this.#byMessage.get(item.id)
    this.#byMessage.set(item.id, list ? [...list, item] : [item])
    const index = item.kind === 'device' ? this.#byDevice : this.#unresolved
    const key = item.kind === 'device' ? item.deviceId : item.account
    const set = index.get(key)
    if (set) set.add(item)
    else index.set(key, new Set([item]))
    this.#perAccount.set(item.account, (this.#perAccount.get(item.account) ?? 0) + 1)
    this.count[item.kind]++
    this.heap.push(item)
  }

  remove(item: PendingItem): void {
    this.heap.remove(item)
    const list = this.#byMessage.get(item.id)
    // Already retired (a second removal must not count twice).
    if (!list?.includes(item)) return
    this.count[item.kind]--
    const rest = list.filter((i) => i !== item)
    if (rest.length) this.#byMessage.set(item.id, rest)
    else this.#byMessage.delete(item.id)
    const index = item.kind === 'device' ? this.#byDevice : this.#unresolved
    const key = item.kind === 'device' ? item.deviceId : item.account
    const set = index.get(key)
    set?.delete(item)
    if (set?.size === 0) index.delete(key)
    const left = (this.#perAccount.get(item.account) ?? 1) - 1
    if (left > 0) this.#perAccount.set(item.account, left)
    else this.#forgetAccount(item.account)
  }

  /** Due at `now` at the latest; a busy item goes again at once if its attempt fails. */
  dueNow(item: PendingItem, now: number): void {
    if (item.busy) {
      item.retryNow = true
      return
    }
    item.due = Math.min(item.due, now)
    this.heap.update(item)
  }

  /** Back in the heap, due at `due` (unless it was retired meanwhile). */
  requeue(item: PendingItem, due: number): void {
    if (!this.contains(item)) return
    item.due = due
    this.heap.push(item)
  }

  /** Everything in the heap is due at `now` at the latest. */
  allDueBy(now: number): void {
    for (const item of this.heap.items()) item.due = Math.min(item.due, now)
    this.heap.rebuild()
  }

  /** Nothing pending for the account any more: drop what we cached about it. */
  #forgetAccount(account: string): void {
    this.#perAccount.delete(account)
    for (const deviceId of this.#onAccountDone(account)) this.#strings.delete(deviceId)
    this.#strings.delete(account)
  }
}
