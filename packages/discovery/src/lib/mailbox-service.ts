import { concatBytes, MAX_ENVELOPE_BYTES } from '@baran/trust'
import type { PeerId } from '@libp2p/interface'
import { type Bounds, remaining } from './bounds.ts'
import { sha256 } from './bytes.ts'
import {
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_MAILBOX_MAINTENANCE_MS,
  MAILBOX_MAINTENANCE_CONCURRENCY,
  MAILBOX_MAINTENANCE_MAX_ITEMS,
  MAX_FRAME_BYTES,
} from './constants.ts'
import type { DhtParts } from './dht-parts.ts'
import { BadFetchRequestError, DiscoveryError, InvalidKeyError, PublishFailedError, RpcFailedError } from './errors.ts'
import { keyBytes } from './keys.ts'
import {
  checkDeleteRequest,
  checkDeposit,
  type DeleteRequest,
  encodeDeleteRequest,
  itemHash,
  type MailboxId,
  type MailboxItem,
  mailboxKey,
} from './mailbox-item.ts'
import { checkFetchRequest, encodeFetchRequest, type FetchRequest } from './mailbox-fetch-auth.ts'
import { type HeldItem, type MailboxLimits, MailboxStore } from './mailbox-store.ts'
import type { Rpc } from './rpc.ts'

/** Methods of `/baran/rpc/1.0.0` for mailboxes (rpc-codec.ts has the others). */
export const RPC_MAILBOX_PUT = 6
export const RPC_MAILBOX_FETCH = 7
export const RPC_MAILBOX_DELETE = 8

const ID_BYTES = 20
/** How long a peer's acknowledgement of an item counts: after it, maintenance sends the item again (it may have restarted empty). */
const HELD_BY_FRESH_MS = 60 * 60 * 1000

/** Outcome of a mailbox put or delete. */
export interface MailboxPutResult {
  mailbox: MailboxId
  hash: string
  /** Peers that confirmed they hold it (this node not counted). */
  stored: number
  attempted: number
}

/** Options of the mailbox service. */
export interface MailboxServiceInit {
  limits?: MailboxLimits
  /** How often held items are re-stored on the closest nodes (jittered ±25 %). @default 600000 */
  maintenanceMs?: number
  clockSkewMs?: number
  /** A client stores nothing for others. */
  clientMode?: boolean
}

function idBytes(id: MailboxId): Uint8Array {
  if (!/^[0-9a-f]{40}$/.test(id)) throw new InvalidKeyError('mailbox id must be 40 lowercase hex chars')
  return new Uint8Array(Buffer.from(id, 'hex'))
}

function idOf(bytes: Uint8Array): MailboxId {
  if (bytes.length < ID_BYTES) throw new InvalidKeyError('mailbox request without a mailbox id')
  return Buffer.from(bytes.subarray(0, ID_BYTES)).toString('hex')
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

/**
 * A page of a mailbox's items, from index `start`: u32 total ‖ u32 next ‖ (u32 length ‖ envelope)…, at most one rpc
 * frame (a mailbox holds more than one frame: the asker pages on with `next`).
 */
export function encodeFetchReply(items: MailboxItem[], start: number): Uint8Array {
  const parts = [u32(items.length), u32(0)]
  let size = 8
  let next = start
  for (; next < items.length; next++) {
    const env = (items[next] as MailboxItem).envelope
    if (size + 4 + env.length > MAX_FRAME_BYTES && next > start) break
    parts.push(u32(env.length), env)
    size += 4 + env.length
  }
  parts[1] = u32(next)
  return concatBytes(...parts)
}

export function decodeFetchReply(bytes: Uint8Array): { total: number; next: number; envelopes: Uint8Array[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  if (bytes.length < 8) throw new InvalidKeyError('truncated mailbox reply')
  const envelopes: Uint8Array[] = []
  let at = 8
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new InvalidKeyError('truncated mailbox reply')
    const n = view.getUint32(at)
    if (at + 4 + n > bytes.length) throw new InvalidKeyError('truncated mailbox reply')
    envelopes.push(bytes.subarray(at + 4, at + 4 + n))
    at += 4 + n
  }
  return { total: view.getUint32(0), next: view.getUint32(4), envelopes }
}

/**
 * The DHT mailbox of a node: serves deposits, fetches and deletes for the mailboxes it is close to (into its
 * MailboxStore), puts, fetches and deletes on the network, and maintenance: every interval it re-stores what it holds
 * on the current closest nodes of each mailbox that do not hold it yet (as OpenDHT's storage maintenance does), so an
 * item outlives its sender and the nodes it was first stored on. Design: docs/mailbox.md.
 */
export class MailboxService {
  readonly store: MailboxStore
  readonly #p: DhtParts
  readonly #init: MailboxServiceInit
  #timer?: NodeJS.Timeout
  /** Where the next maintenance round starts in the held items (rounds are bounded). */
  #cursor = 0
  /** Counts starts and stops: a round that ends after a stop does not schedule the next one. */
  #generation = 0

  constructor(parts: DhtParts, init: MailboxServiceInit = {}) {
    this.#p = parts
    this.#init = init
    this.store = new MailboxStore(init.limits, parts.policy.now)
  }

  #clock() {
    return { now: this.#p.policy.now(), clockSkewMs: this.#init.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS }
  }

  /** Serve deposits, fetches and deletes on `rpc` (not in client mode). */
  serve(rpc: Rpc): void {
    if (this.#init.clientMode === true) return
    rpc.handle(RPC_MAILBOX_PUT, (peer, payload) => {
      const mailbox = idOf(payload)
      const envelope = payload.subarray(ID_BYTES)
      // What costs nothing first: an item held already (a re-store) needs no second verification; a full mailbox or
      // store refuses before two signatures are checked.
      if (envelope.length <= MAX_ENVELOPE_BYTES && this.store.precheck(mailbox, itemHash(envelope), envelope.length, peer)) return new Uint8Array(0)
      const item = checkDeposit(mailbox, envelope, this.#clock())
      this.store.add({ ...item, envelope: new Uint8Array(item.envelope) }, peer)
      return new Uint8Array(0)
    })
    rpc.handle(RPC_MAILBOX_FETCH, (_peer, payload) => {
      if (payload.length < ID_BYTES + 4) throw new InvalidKeyError('mailbox fetch: mailbox id and start index expected')
      if (payload.length === ID_BYTES + 4) throw new BadFetchRequestError("mailbox fetch: the recipient device's signed request is missing")
      const mailbox = idOf(payload)
      checkFetchRequest(payload.subarray(ID_BYTES + 4), mailbox, this.#clock())
      const start = new DataView(payload.buffer, payload.byteOffset).getUint32(ID_BYTES)
      return encodeFetchReply(this.store.list(mailbox), start)
    })
    rpc.handle(RPC_MAILBOX_DELETE, (_peer, payload) => u32(this.store.delete(checkDeleteRequest(payload, this.#clock()))))
  }

  #bounds(timeoutMs?: number, signal?: AbortSignal): Bounds {
    return { signal, deadline: performance.now() + this.#p.queryTimeoutMs(timeoutMs) }
  }

  /**
   * The nodes that store a mailbox: `peers`, the other nodes of the `replication` closest (this node ranked with
   * them), `self` whether this node is one of them, and `closest`, the `replication` closest other nodes (where a
   * fetch looks: a node that just joined may rank among the closest and hold nothing yet).
   */
  async #storers(mailbox: MailboxId, b: Bounds): Promise<{ peers: PeerId[]; self: boolean; closest: PeerId[] }> {
    const kb = keyBytes(mailboxKey(mailbox))
    const kadId = sha256(kb)
    // A lookup that fails (no answer in time) leaves the table's closest live peers: a maintenance round or a put
    // then still reaches someone rather than no one.
    const closest = await this.#p.routing.closest(kb, b).catch((err: unknown) => {
      this.#p.log?.debug({ err, mailbox }, 'mailbox lookup failed: using the routing table')
      return this.#p.routing.nearestReachable(kadId)
    })
    const peers = this.#p.routing.storingSet(kadId, closest)
    const self = this.#init.clientMode !== true && (closest.length < this.#p.replication || peers.length < this.#p.replication)
    // routing.closest is nearest first.
    return { peers, self, closest: closest.slice(0, this.#p.replication) }
  }

  /**
   * Deposit an envelope in a mailbox: checked here as a storing node would (the same typed refusals), then sent at once
   * to the mailbox's closest nodes this node's routing table knows (and kept here if this node is one of them); a
   * lookup follows and any closer node it finds gets it too. By default the put waits for it: a sender that goes
   * offline right after must have reached the nodes the recipient will ask (a fresh node's table knows few, and
   * maintenance only runs every few minutes). `waitForLookup: false` returns after the first wave when one of them
   * took it (the lookup goes on, bounded by the query timeout and stop()). PublishFailedError, with the first refusal
   * as cause, when nobody took it.
   */
  async put(mailbox: MailboxId, envelope: Uint8Array, opts: { timeoutMs?: number; signal?: AbortSignal; waitForLookup?: boolean } = {}): Promise<MailboxPutResult> {
    const item = checkDeposit(mailbox, envelope, this.#clock())
    const b = this.#bounds(opts.timeoutMs, opts.signal)
    const kadId = sha256(keyBytes(mailboxKey(mailbox)))
    const payload = concatBytes(idBytes(mailbox), envelope)
    let refusal: DiscoveryError | undefined
    const asked = new Map<string, Promise<boolean>>()
    const send = (peer: PeerId): Promise<boolean> => {
      let result = asked.get(peer.toString())
      if (result === undefined) {
        result = this.#send(peer, RPC_MAILBOX_PUT, payload, b).then(
          () => true,
          (err: unknown) => {
            if (err instanceof DiscoveryError && !(err instanceof RpcFailedError)) refusal ??= err
            return false
          },
        )
        asked.set(peer.toString(), result)
      }
      return result
    }
    const known = this.#p.routing.storingSet(kadId, this.#p.routing.nearestReachable(kadId))
    const first = known.map(send)
    // The lookup starts once the first deposits are answered: started together they compete for the same CPU (as DhtPut).
    const lookup = Promise.allSettled(first)
      .then(() => this.#storers(mailbox, b))
      .then(async ({ peers, self }) => {
        await Promise.all(peers.map(send))
        return self
      })
    let self = this.#init.clientMode !== true && known.length < this.#p.replication
    const firstStored = (await Promise.all(first)).filter(Boolean).length
    if (firstStored === 0 || opts.waitForLookup !== false) {
      self = (await lookup.catch((err) => this.#p.log?.debug({ err, mailbox }, 'mailbox lookup failed'))) ?? self
    } else lookup.catch((err) => this.#p.log?.debug({ err, mailbox }, 'mailbox lookup after the first deposits failed'))
    let kept = false
    if (self) {
      try {
        kept = this.store.add(item) || this.store.has(mailbox, item.hash)
      } catch (err) {
        if (err instanceof DiscoveryError) refusal ??= err
      }
    }
    const settled = await Promise.all([...asked.values()].map((r) => Promise.race([r, Promise.resolve(false)])))
    const stored = settled.filter(Boolean).length
    if (stored === 0 && !kept) {
      throw new PublishFailedError(`none of ${asked.size} nodes took the mailbox item${refusal ? `: ${refusal.message}` : ''}`, { cause: refusal })
    }
    return { mailbox, hash: item.hash, stored, attempted: asked.size }
  }

  #send(peer: PeerId, method: number, payload: Uint8Array, b: Bounds): Promise<Uint8Array> {
    return this.#p.rpc().request(peer, method, payload, { signal: b.signal, timeoutMs: remaining(b) })
  }

  /**
   * The items of a mailbox: this node's and those of the mailbox's closest nodes (each checked again here: a storing
   * node is not trusted), one per envelope, oldest sentAt first.
   */
  async fetch(mailbox: MailboxId, auth: FetchRequest, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<MailboxItem[]> {
    const id = idBytes(mailbox)
    // Checked here first: a request the storing nodes would refuse fails the caller, not each peer in silence.
    const request = encodeFetchRequest(auth)
    checkFetchRequest(request, mailbox, this.#clock())
    const b = this.#bounds(opts.timeoutMs, opts.signal)
    const found = new Map<string, MailboxItem>()
    for (const item of this.store.list(mailbox)) found.set(item.hash, item)
    const { closest } = await this.#storers(mailbox, b)
    await Promise.all(
      closest.map(async (peer) => {
        // Paged: a mailbox may hold more than a frame; at most maxBytesPerMailbox / smallest item pages in theory, bounded here.
        for (let start = 0, page = 0; page < 1024; page++) {
          let reply: ReturnType<typeof decodeFetchReply>
          try {
            reply = decodeFetchReply(await this.#send(peer, RPC_MAILBOX_FETCH, concatBytes(id, u32(start), request), b))
          } catch (err) {
            this.#p.log?.debug({ err, peer: peer.toString() }, 'mailbox fetch from peer failed')
            return
          }
          for (const env of reply.envelopes) this.#accept(found, mailbox, env)
          if (reply.next <= start || reply.next >= reply.total) return
          start = reply.next
        }
      }),
    )
    return [...found.values()].sort((x, y) => x.sentAt - y.sentAt)
  }

  #accept(found: Map<string, MailboxItem>, mailbox: MailboxId, env: Uint8Array): void {
    try {
      const item = checkDeposit(mailbox, new Uint8Array(env), this.#clock())
      if (!found.has(item.hash)) found.set(item.hash, item)
    } catch (err) {
      this.#p.log?.debug({ err, mailbox }, 'a storing node sent a mailbox item that does not check')
    }
  }

  /** Delete items of the recipient's own mailbox (a request it signed): here and on the mailbox's closest nodes. */
  async delete(request: DeleteRequest, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ deleted: number; attempted: number }> {
    const bytes = encodeDeleteRequest(request)
    checkDeleteRequest(bytes, this.#clock())
    const b = this.#bounds(opts.timeoutMs, opts.signal)
    let deleted = this.store.delete(request)
    const { peers } = await this.#storers(request.mailbox, b)
    const counts = await Promise.all(
      peers.map((peer) =>
        this.#send(peer, RPC_MAILBOX_DELETE, bytes, b).then(
          (r) => (r.length === 4 ? new DataView(r.buffer, r.byteOffset).getUint32(0) : 0),
          () => 0,
        ),
      ),
    )
    deleted += counts.reduce((x, y) => x + y, 0)
    return { deleted, attempted: peers.length }
  }

  /** Start maintenance rounds (jittered ±25 % around maintenanceMs); one chain of rounds per start. */
  start(): void {
    if (this.#init.clientMode === true || this.#timer !== undefined) return
    const generation = ++this.#generation
    const schedule = (): void => {
      const every = this.#init.maintenanceMs ?? DEFAULT_MAILBOX_MAINTENANCE_MS
      this.#timer = setTimeout(() => {
        void this.maintain()
          .catch((err) => this.#p.log?.warn({ err }, 'mailbox maintenance failed'))
          .finally(() => {
            // Stopped meanwhile (and maybe started again: that start runs its own chain).
            if (generation === this.#generation && this.#timer !== undefined) schedule()
          })
      }, every * (0.75 + Math.random() * 0.5))
      this.#timer.unref()
    }
    schedule()
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#generation++
  }

  /**
   * One maintenance round: for at most MAILBOX_MAINTENANCE_MAX_ITEMS held items (the next ones after the last round's),
   * find their mailbox's closest nodes and send each item to those that have not acknowledged it lately.
   */
  async maintain(): Promise<void> {
    this.store.sweep()
    const all = [...this.store.held()]
    if (all.length === 0) return
    const start = this.#cursor % all.length
    const round = [...all.slice(start), ...all.slice(0, start)].slice(0, MAILBOX_MAINTENANCE_MAX_ITEMS)
    this.#cursor = start + round.length
    const byMailbox = new Map<MailboxId, HeldItem[]>()
    for (const held of round) byMailbox.set(held.item.mailbox, [...(byMailbox.get(held.item.mailbox) ?? []), held])
    const lifecycle = this.#p.lifecycle()
    const jobs: Array<() => Promise<void>> = []
    for (const [mailbox, items] of byMailbox) {
      jobs.push(async () => {
        const b = { signal: lifecycle, deadline: performance.now() + this.#p.queryTimeoutMs() }
        const { peers } = await this.#storers(mailbox, b)
        const now = performance.now()
        for (const held of items) {
          const payload = concatBytes(idBytes(mailbox), held.item.envelope)
          await Promise.all(
            peers
              .filter((peer) => now - (held.heldBy.get(peer.toString()) ?? Number.NEGATIVE_INFINITY) > HELD_BY_FRESH_MS)
              .map((peer) =>
                this.#send(peer, RPC_MAILBOX_PUT, payload, b).then(
                  () => {
                    held.heldBy.set(peer.toString(), performance.now())
                  },
                  (err: unknown) => this.#p.log?.debug({ err, peer: peer.toString() }, 'mailbox re-store refused or failed'),
                ),
              ),
          )
        }
      })
    }
    // A few mailboxes at a time: a round must not flood the node's links.
    for (let i = 0; i < jobs.length && !lifecycle.aborted; i += MAILBOX_MAINTENANCE_CONCURRENCY) {
      await Promise.all(jobs.slice(i, i + MAILBOX_MAINTENANCE_CONCURRENCY).map((job) => job().catch((err) => this.#p.log?.debug({ err }, 'mailbox maintenance of one mailbox failed'))))
    }
  }
}
