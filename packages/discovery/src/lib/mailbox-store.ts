import {
  DEFAULT_MAILBOX_MAX_BYTES,
  DEFAULT_MAILBOX_MAX_BYTES_PER_MAILBOX,
  DEFAULT_MAILBOX_MAX_BYTES_PER_SENDER,
  DEFAULT_MAILBOX_MAX_ITEMS,
  MAILBOX_ITEM_OVERHEAD_BYTES,
  MAILBOX_TOMBSTONE_BYTES,
} from './constants.ts'
import { InvalidConfigError, MailboxQuotaError, MailboxReplayError, MailboxStoreFullError, SenderQuotaError } from './errors.ts'
import type { DeleteRequest, MailboxId, MailboxItem } from './mailbox-item.ts'

/**
 * A storing node's mailbox items (checked by checkDeposit before they come here), apart from its record store. Bounded
 * in total (bytes, items), per sender account and per mailbox. Nothing held is ever evicted to make room: past a
 * bound a deposit is refused with a typed error, so a flood from one sender cannot push out others' items, and the
 * store's bytes never pass maxBytes. A deleted item leaves a tombstone (its hash and its (sender device, envelope ID))
 * until it would have expired, so a replay or another node's re-store cannot bring it back.
 */

/** Bounds of a node's mailbox store; every one optional. */
export interface MailboxLimits {
  /** Memory items and tombstones may take (mailboxCost). @default 32 MiB */
  maxBytes?: number
  /** Items held in all. @default 20_000 */
  maxItems?: number
  /** Bytes one sender account's items may take. @default 1 MiB */
  maxBytesPerSender?: number
  /** Bytes one mailbox's items may take. @default 2 MiB */
  maxBytesPerMailbox?: number
}

/** What the store holds and has refused (discovery.info's `mailbox`). */
export interface MailboxFigures {
  bytes: number
  items: number
  mailboxes: number
  tombstones: number
  limits: Required<MailboxLimits>
  refusals: { senderQuota: number; mailboxQuota: number; storeFull: number; replayed: number }
}

/** What holding an item costs. */
export function mailboxCost(envelopeBytes: number): number {
  return envelopeBytes + MAILBOX_ITEM_OVERHEAD_BYTES
}

function resolve(limits: MailboxLimits): Required<MailboxLimits> {
  for (const [name, v] of Object.entries(limits)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1)) throw new InvalidConfigError(`mailboxLimits.${name} must be a positive integer`)
  }
  return {
    maxBytes: limits.maxBytes ?? DEFAULT_MAILBOX_MAX_BYTES,
    maxItems: limits.maxItems ?? DEFAULT_MAILBOX_MAX_ITEMS,
    maxBytesPerSender: limits.maxBytesPerSender ?? DEFAULT_MAILBOX_MAX_BYTES_PER_SENDER,
    maxBytesPerMailbox: limits.maxBytesPerMailbox ?? DEFAULT_MAILBOX_MAX_BYTES_PER_MAILBOX,
  }
}

interface Tombstone {
  pair: string
  expiresAt: number
}

/** A held item, with the peers known to hold it too (maintenance sends it only to the others). */
export interface HeldItem {
  item: MailboxItem
  cost: number
  /** peer → when it acknowledged the item (performance.now() ms) */
  heldBy: Map<string, number>
}

/** A node's mailbox items, by mailbox. */
export class MailboxStore {
  readonly limits: Required<MailboxLimits>
  readonly #mailboxes = new Map<MailboxId, Map<string, HeldItem>>()
  /** (sender device, envelope ID) → item hash, for held and deleted items. */
  readonly #pairs = new Map<string, string>()
  readonly #tombstones = new Map<string, Tombstone>()
  readonly #senderBytes = new Map<string, number>()
  readonly #mailboxBytes = new Map<MailboxId, number>()
  readonly #refusals = { senderQuota: 0, mailboxQuota: 0, storeFull: 0, replayed: 0 }
  readonly #now: () => number
  #bytes = 0
  #items = 0

  constructor(limits: MailboxLimits = {}, now: () => number = Date.now) {
    this.limits = resolve(limits)
    this.#now = now
  }

  /**
   * Keep a checked item (`from`: the peer that sent it, known to hold it). Returns false for an item already held
   * (the same bytes: a retry or a re-store). Throws MailboxReplayError (another envelope with the same sender device
   * and ID, or a deleted one), SenderQuotaError, MailboxQuotaError or MailboxStoreFullError.
   */
  add(item: MailboxItem, from?: string): boolean {
    this.#dropExpired(item.mailbox)
    const held = this.#mailboxes.get(item.mailbox)?.get(item.hash)
    if (held !== undefined) {
      if (from !== undefined) held.heldBy.set(from, performance.now())
      return false
    }
    const pair = `${item.senderDevice}/${item.envelopeId}`
    if (this.#tombstones.has(item.hash)) throw this.#refuse(new MailboxReplayError(`item ${item.hash} was deleted by its recipient`))
    const known = this.#pairs.get(pair)
    if (known !== undefined && known !== item.hash) throw this.#refuse(new MailboxReplayError(`sender device ${item.senderDevice} already deposited envelope ${item.envelopeId} (another item)`))
    const cost = mailboxCost(item.envelope.length)
    const sender = (this.#senderBytes.get(item.senderAccount) ?? 0) + cost
    if (sender > this.limits.maxBytesPerSender) {
      this.#refusals.senderQuota++
      throw new SenderQuotaError(`sender account ${item.senderAccount} would hold ${sender} of ${this.limits.maxBytesPerSender} bytes here`)
    }
    const mailbox = (this.#mailboxBytes.get(item.mailbox) ?? 0) + cost
    if (mailbox > this.limits.maxBytesPerMailbox) {
      this.#refusals.mailboxQuota++
      throw new MailboxQuotaError(`mailbox ${item.mailbox} would hold ${mailbox} of ${this.limits.maxBytesPerMailbox} bytes here`)
    }
    if (this.#bytes + cost > this.limits.maxBytes || this.#items + 1 > this.limits.maxItems) this.sweep()
    if (this.#bytes + cost > this.limits.maxBytes || this.#items + 1 > this.limits.maxItems) {
      this.#refusals.storeFull++
      throw new MailboxStoreFullError(`the mailbox store holds ${this.#items} items, ${this.#bytes} of ${this.limits.maxBytes} bytes`)
    }
    let box = this.#mailboxes.get(item.mailbox)
    if (box === undefined) {
      box = new Map()
      this.#mailboxes.set(item.mailbox, box)
    }
    box.set(item.hash, { item, cost, heldBy: new Map(from === undefined ? [] : [[from, performance.now()]]) })
    this.#pairs.set(pair, item.hash)
    this.#senderBytes.set(item.senderAccount, sender)
    this.#mailboxBytes.set(item.mailbox, mailbox)
    this.#bytes += cost
    this.#items++
    return true
  }

  /**
   * Before a deposit is verified (which costs two signature checks): true if these exact bytes are held already (then
   * `from` is noted as holding them and nothing more is needed); throws MailboxQuotaError or MailboxStoreFullError when
   * an item of `size` bytes could not fit whoever sent it. The full checks still run in add().
   */
  precheck(mailbox: MailboxId, hash: string, size: number, from?: string): boolean {
    this.#dropExpired(mailbox)
    const held = this.#mailboxes.get(mailbox)?.get(hash)
    if (held !== undefined) {
      if (from !== undefined) held.heldBy.set(from, performance.now())
      return true
    }
    const cost = mailboxCost(size)
    if ((this.#mailboxBytes.get(mailbox) ?? 0) + cost > this.limits.maxBytesPerMailbox) {
      this.#refusals.mailboxQuota++
      throw new MailboxQuotaError(`mailbox ${mailbox} is full here (${this.limits.maxBytesPerMailbox} bytes)`)
    }
    if (this.#bytes + cost > this.limits.maxBytes || this.#items + 1 > this.limits.maxItems) this.sweep()
    if (this.#bytes + cost > this.limits.maxBytes || this.#items + 1 > this.limits.maxItems) {
      this.#refusals.storeFull++
      throw new MailboxStoreFullError(`the mailbox store holds ${this.#items} items, ${this.#bytes} of ${this.limits.maxBytes} bytes`)
    }
    return false
  }

  #refuse<E extends Error>(err: E): E {
    this.#refusals.replayed++
    return err
  }

  /** The live items of a mailbox, oldest deposit first. */
  list(mailbox: MailboxId): MailboxItem[] {
    this.#dropExpired(mailbox)
    return [...(this.#mailboxes.get(mailbox)?.values() ?? [])].map((h) => h.item)
  }

  /** Whether an item is held (live). */
  has(mailbox: MailboxId, hash: string): boolean {
    this.#dropExpired(mailbox)
    return this.#mailboxes.get(mailbox)?.has(hash) === true
  }

  /** Delete the items a checked request names from its mailbox (tombstoned until they would expire); how many went. */
  delete(request: DeleteRequest): number {
    const box = this.#mailboxes.get(request.mailbox)
    let deleted = 0
    for (const hash of request.items) {
      const held = box?.get(hash)
      if (held === undefined) continue
      this.#remove(held)
      const pair = `${held.item.senderDevice}/${held.item.envelopeId}`
      this.#tombstones.set(hash, { pair, expiresAt: held.item.expiresAt })
      this.#pairs.set(pair, hash)
      this.#bytes += MAILBOX_TOMBSTONE_BYTES
      deleted++
    }
    return deleted
  }

  #remove(held: HeldItem): void {
    const { item, cost } = held
    const box = this.#mailboxes.get(item.mailbox)
    if (box?.get(item.hash) !== held) return
    box.delete(item.hash)
    if (box.size === 0) this.#mailboxes.delete(item.mailbox)
    this.#pairs.delete(`${item.senderDevice}/${item.envelopeId}`)
    const sender = (this.#senderBytes.get(item.senderAccount) ?? 0) - cost
    if (sender > 0) this.#senderBytes.set(item.senderAccount, sender)
    else this.#senderBytes.delete(item.senderAccount)
    const mailbox = (this.#mailboxBytes.get(item.mailbox) ?? 0) - cost
    if (mailbox > 0) this.#mailboxBytes.set(item.mailbox, mailbox)
    else this.#mailboxBytes.delete(item.mailbox)
    this.#bytes -= cost
    this.#items--
  }

  #dropExpired(mailbox: MailboxId): void {
    const box = this.#mailboxes.get(mailbox)
    if (box === undefined) return
    const now = this.#now()
    for (const held of [...box.values()]) if (held.item.expiresAt <= now) this.#remove(held)
  }

  /** Drop expired items and tombstones; returns how many went. */
  sweep(): number {
    const now = this.#now()
    let dropped = 0
    for (const box of [...this.#mailboxes.values()]) {
      for (const held of [...box.values()]) {
        if (held.item.expiresAt > now) continue
        this.#remove(held)
        dropped++
      }
    }
    for (const [hash, t] of this.#tombstones) {
      if (t.expiresAt > now) continue
      this.#tombstones.delete(hash)
      if (this.#pairs.get(t.pair) === hash) this.#pairs.delete(t.pair)
      this.#bytes -= MAILBOX_TOMBSTONE_BYTES
      dropped++
    }
    return dropped
  }

  /** Every live item held, for maintenance (oldest mailbox first). */
  *held(): Generator<HeldItem> {
    const now = this.#now()
    for (const box of this.#mailboxes.values()) for (const held of box.values()) if (held.item.expiresAt > now) yield held
  }

  figures(): MailboxFigures {
    return {
      bytes: this.#bytes,
      items: this.#items,
      mailboxes: this.#mailboxes.size,
      tombstones: this.#tombstones.size,
      limits: { ...this.limits },
      refusals: { ...this.#refusals },
    }
  }
}
