import { type ActorContext, defineActor, retry } from '@baran/actor'
import {
  BusError,
  BusErrorCode,
  discoveryAddressChanged,
  discoveryOffline,
  discoveryPublished,
  discoveryOnline,
  type EventContract,
  type EventInputOf,
  identityAccountCreated,
  identityDeviceAdded,
  identityDeviceRevoked,
  type KvBucket,
  namingLookup,
  outboxContracts,
  outboxDelivery,
  outboxInbox,
  outboxMarkRead,
  outboxPending,
  outboxReceipt,
  outboxReceive,
  outboxReceived,
  outboxSend,
  outboxStatus,
  ENVELOPE_MAX_BYTES,
} from '@baran/bus'
import { ConfigSchema } from './config.ts'
import { IdentityView } from './identity-view.ts'
import {
  DEFAULT_TTL_MS,
  MAX_BODY_BYTES,
  MAX_REPLY_BYTES,
  MIN_FREE_BYTES,
  SEND_TIMEOUT_MS,
} from './lib/constants.ts'
import { DiskGuard } from './lib/disk.ts'
import { startDeviceSync } from './device-sync.ts'
import { historyUpdates, serveHistory, serveRequests } from './history-wiring.ts'
import { serveSync } from './sync-serve.ts'
import { StoreHealth } from './store-health.ts'
import type { DeliveryChange } from './lib/engine.ts'
import { BodyTooLargeError, PayloadTooLargeError, MessageNotFoundError, NamingUnavailableError, UnknownRecipientError } from './lib/errors.ts'
import { isMessageId, newMessageId } from './lib/ids.ts'
import { isConflict } from './lib/kv.ts'
import { bodyBytes, decodePayload, encodePayload } from './lib/payload.ts'
import { type OutgoingRecord, toOutgoing } from './lib/records.ts'
import { OutboxSealing } from './sealing.ts'
import { openStores, type Stores } from './open-stores.ts'
import { MailboxFetcher, type MailboxOutcome } from './mailbox-fetch.ts'

const ID_RE = /^[0-9a-fA-F]{40}$/
/**
 * An envelope to one device is the payload plus about 600 bytes of header, certificate and signature (100 per
 * recipient, 64 of signature, the sender's certificate up to 4 KiB; docs/envelopes.md): a payload that leaves less
 * than this under the envelope limit is refused at send.
 */
const ENVELOPE_OVERHEAD_BYTES = 1024
/** Sealed bodies opened for previews per outbox.pending page (each costs identity an open: about 3 ms). */
const MAX_PREVIEWS = 256

/**
 * The outbox actor: `send` persists a message in the `outbox` bucket and only then replies; the delivery engine
 * takes it to every device of the recipient (and sync copies to this account's other devices) through
 * transport, resending on presence events and on back-off. `receive` (called by transport for every incoming
 * envelope) verifies, de-duplicates and stores into the `inbox` bucket before answering, so the sender's ack means
 * "persisted here". Degraded while JetStream is unavailable.
 */
export const outboxActor = defineActor({
  name: 'outbox',
  version: '0.1.0',
  implementation: '@baran/outbox',
  contracts: outboxContracts,
  jetstream: true,
  config: ConfigSchema,
  async start(ctx) {
    const { bus, log, config } = ctx
    const sendTimeoutMs = config.sendTimeoutMs ?? SEND_TIMEOUT_MS
    const ttlDefault = config.defaultTtlMs ?? DEFAULT_TTL_MS
    const identity = new IdentityView(ctx)
    const sealing = new OutboxSealing(bus, log)
    const mailboxOn = config.mailbox?.enabled !== false
    const unsubscribe: Array<() => void> = []
    let stores: Stores | undefined

    const publish = <C extends EventContract>(c: C, body: EventInputOf<C>) => {
      try {
        ctx.publish(c, body)
      } catch (e) {
        log.error({ err: e, event: c.event }, 'could not publish an event')
      }
    }
    const historyOf = historyUpdates(() => stores?.history, log)
    const onChange = (c: DeliveryChange) => {
      publish(outboxDelivery, c)
      historyOf.delivery(c)
      // The remote's ack is the delivery receipt.
      if (c.state === 'delivered' && c.kind === 'message' && !c.sync && c.deviceId) {
        publish(outboxReceipt, { id: c.id, from: c.to, deviceId: c.deviceId, kind: 'delivered', at: c.at })
      }
    }

    // ---- JetStream health: degraded (with the reason) while it fails or the disk is full, probed until it is back ----
    const storage = config.storage ?? 'file'
    const disk = storage === 'file' ? new DiskGuard({ dir: ctx.dataDir, minFreeBytes: config.minFreeBytes ?? MIN_FREE_BYTES }) : undefined
    const health = new StoreHealth({ degrade: ctx.degrade, recover: ctx.recover, log, disk, onBack: () => stores?.engine.kick() })
    const onStoreError = (e: unknown) => health.onStoreError(e)
    let probeBucket: KvBucket | undefined
    void health.watch(ctx.signal, () => (stores ? probeBucket : undefined))

    const openAll = async (): Promise<Stores> => {
      const opened = await openStores({
        bus,
        config,
        log,
        storage,
        disk,
        onStoreError,
        sealing,
        sendTimeoutMs,
        mailbox: mailboxOn,
        onChange,
        inbox: {
          self: () => identity.get(),
          onReceived: (m) => publish(outboxReceived, m),
          onReadReceipt: (e) => {
            publish(outboxReceipt, { ...e, kind: 'read' })
            historyOf.readReceipt(e)
          },
          onDeliveredReceipt: (e) => stores?.engine.deliveredElsewhere(e.id, e.deviceId),
        },
      })
      probeBucket = opened.probe
      return opened
    }

    const need = (): Stores => {
      if (!stores) throw new BusError(BusErrorCode.Unavailable, 'outbox is waiting for JetStream')
      return stores
    }

    // Open now; if JetStream is not there yet, serve "unavailable" (degraded) and keep trying.
    try {
      stores = await openAll()
      await health.check(undefined)
    } catch (e) {
      if ((e as { code?: unknown }).code === BusErrorCode.Forbidden) throw e
      health.markDown((e as Error).message)
      // health.check never throws: once the stores are open, the retries are over.
      retry(
        async () => {
          stores = await openAll()
          await health.check(probeBucket)
        },
        {
          signal: ctx.signal,
          initialMs: 500,
          maxMs: 10_000,
          delayFirst: true,
          onRetry: (err) => {
            health.markDown((err as Error).message)
            log.debug({ err: (err as Error).message }, 'JetStream still not available')
          },
        },
      ).catch(() => undefined) // RetryStoppedError: the actor stopped first
    }

    const resolveRecipient = async (to: string): Promise<{ accountId: string; name?: string }> => {
      if (ID_RE.test(to)) return { accountId: to.toLowerCase() }
      try {
        const r = await bus.request(namingLookup, { name: to })
        return { accountId: r.accountId, name: r.name }
      } catch (e) {
        const code = (e as { code?: unknown }).code
        if (code === 'not_found') throw new UnknownRecipientError(`no account has the name "${to}"`, { cause: e })
        if (code === 'no_responder' || code === 'timeout' || code === 'unavailable') {
          throw new NamingUnavailableError(`cannot resolve "${to}": the naming actor does not answer (${code}); give the account ID instead`, { cause: e })
        }
        throw e
      }
    }

    /**
     * The bodies of sealed records, opened for their previews (8 at a time, the first MAX_PREVIEWS of a page: each is an
     * identity.open); one that cannot be opened shows none.
     */
    const previewBodies = async (records: OutgoingRecord[]): Promise<Array<string | undefined>> => {
      const out: Array<string | undefined> = records.map((r) => r.body)
      const upTo = Math.min(records.length, MAX_PREVIEWS)
      let next = 0
      const worker = async () => {
        for (let i = next++; i < upTo; i = next++) {
          const r = records[i]!
          if (r.sealed !== undefined) out[i] = await sealing.bodyOf(r).catch(() => undefined)
        }
      }
      await Promise.all(Array.from({ length: Math.min(8, upTo) }, worker))
      return out
    }

    const queue = async (s: Stores, record: OutgoingRecord) => {
      // Persist first; the engine (and the reply) only after JetStream stored it.
      await s.store.create(record)
      s.engine.add(record)
    }

    ctx.serve(outboxSend, async ({ to, body, ttlMs, idempotencyKey }) => {
      const s = need()
      if (bodyBytes(body) > MAX_BODY_BYTES) throw new BodyTooLargeError(`body is ${bodyBytes(body)} bytes, the limit is ${MAX_BODY_BYTES}`)
      const recipient = await resolveRecipient(to)
      const me = await identity.get()
      const now = Date.now()
      const toSelf = recipient.accountId === me.accountId
      // A retried key gets the message its first use stored (or creates it, if a crash came in between).
      const claim = idempotencyKey ? await s.keys.claim(idempotencyKey, newMessageId()) : undefined
      if (claim && !claim.first) {
        const known = await s.store.get(claim.id)
        if (known) {
          if (known.kind === 'message') await s.history.recordSent({ ...known, sentAt: known.createdAt })
          return toOutgoing(known, (d) => s.engine.live(known.id, d), body)
        }
      }
      const id = claim?.id ?? newMessageId()
      // Too large once escaped, or once sealed to a device: refuse now, not at every attempt (and before sealing).
      const payload = encodePayload({ v: 1, kind: 'message', id, from: me.accountId, fromDevice: me.deviceId, to: recipient.accountId, body, sentAt: now, expiresAt: now + (ttlMs ?? ttlDefault), sync: false })
      if (payload.length + ENVELOPE_OVERHEAD_BYTES > ENVELOPE_MAX_BYTES) {
        throw new PayloadTooLargeError(`the message is ${payload.length} bytes encoded: sealed to a device it would pass the ${ENVELOPE_MAX_BYTES}-byte envelope limit`)
      }
      const prev = await s.history.claimPrev(recipient.accountId, me.deviceId, id)
      // Devices already known (a fresh lookup of the recipient) are listed now: no resolving step, no extra write.
      const record: OutgoingRecord = s.engine.withKnownDevices({
        v: 1,
        id,
        kind: 'message',
        from: me.accountId,
        fromDevice: me.deviceId,
        to: recipient.accountId,
        ...(recipient.name ? { toName: recipient.name } : {}),
        // Sealed to this device: the body is never stored in the clear (opened again at each delivery).
        sealed: await sealing.sealAtRest(id, body),
        createdAt: now,
        expiresAt: now + (ttlMs ?? ttlDefault),
        // To ourselves, our own device list is the recipient list; else discovery finds the recipient's.
        devicesResolved: toSelf,
        devices: me.others.map((deviceId) => ({ deviceId, state: 'queued' as const, attempts: 0, sync: !toSelf })),
        ...(prev ? { prev } : {}),
      })
      try {
        await s.store.create(record)
      } catch (e) {
        s.history.releasePrev(recipient.accountId, me.deviceId, id, prev)
        // Two retries of one key raced: the other stored it.
        const known = claim && isConflict(e) ? await s.store.get(record.id) : undefined
        if (!known) throw e
        return toOutgoing(known, (d) => s.engine.live(known.id, d), body)
      }
      // Persisted: into the history and delivered at once. The history writes a conversation's entries in the order
      // they were asked for, and the entry is asked for first: a delivery's outcome (written to the same
      // conversation) finds it however soon it comes. The reply still waits for the history.
      const recipients = record.devices.filter((d) => !d.sync).map((d) => d.deviceId)
      const inHistory = s.history.recordSent({ ...record, sentAt: now }, recipients)
      s.engine.add(record)
      await inHistory
      return toOutgoing(record, undefined, body)
    })

    ctx.serve(outboxPending, async (req) => {
      const s = need()
      const limit = req?.limit ?? 100
      let records: OutgoingRecord[]
      let total: number
      if (req?.all) {
        records = (await s.store.all()).records.sort((a, b) => (a.id < b.id ? -1 : 1))
        total = records.length
        records = records.slice(0, limit)
      } else {
        const ids = s.engine.pendingIds()
        total = ids.length
        records = (await Promise.all(ids.slice(0, limit).map((id) => s.store.get(id)))).filter((r): r is OutgoingRecord => r !== undefined)
      }
      const messages = []
      let bytes = 0
      const bodies = await previewBodies(records)
      for (const [i, r] of records.entries()) {
        const shown = toOutgoing(r, (d) => s.engine.live(r.id, d), bodies[i])
        bytes += JSON.stringify(shown).length
        if (messages.length > 0 && bytes > MAX_REPLY_BYTES) break
        messages.push(shown)
      }
      return { messages, total }
    })

    ctx.serve(outboxStatus, async ({ id }) => {
      const s = need()
      const r = isMessageId(id) ? await s.store.get(id) : undefined
      if (!r) throw new MessageNotFoundError(`no outgoing message ${id}`)
      return toOutgoing(r, (d) => s.engine.live(r.id, d), (await previewBodies([r]))[0])
    })

    ctx.serve(outboxReceive, async ({ id, payload, from }) => {
      const s = need()
      // The payload is a sealed envelope: identity opens it and proves its sender. Transport's `from` is only who
      // carried it (a relay or a DHT node may, later): the verified sender is what the inbox checks the payload against.
      const me = await identity.get()
      const opened = await sealing.open(payload, from.accountId === me.accountId ? undefined : from.accountId)
      if ('status' in opened) return opened
      if (opened.id !== id) return { status: 'rejected' as const, reason: `id_mismatch: transport said ${id}, the envelope is ${opened.id}` }
      if (opened.sender.deviceId !== from.deviceId) log.debug({ id, sender: opened.sender.deviceId, carrier: from.deviceId }, 'an envelope carried by another device than its sender')
      return s.inbox.receive({ id, payload: opened.payload, from: { ...opened.sender, peerId: from.peerId } })
    })

    // ---- the DHT mailbox: what senders deposited while this device was not reachable ----
    /** The receive path above for an envelope from the mailbox: no carrier, the verified sender is all there is. */
    const receiveDeposited = async (envelope: string, senderAccount: string): Promise<MailboxOutcome> => {
      const s = need()
      const me = await identity.get()
      const opened = await sealing.open(envelope, senderAccount === me.accountId ? undefined : senderAccount)
      if ('status' in opened) return opened
      const r = await s.inbox.receive({ id: opened.id, payload: opened.payload, from: { ...opened.sender, peerId: '' }, via: 'mailbox' })
      // No transport ack tells the sender: a `delivered` receipt goes back to its device (deposited too if need be).
      const p = r.status === 'stored' ? decodePayload(opened.payload) : undefined
      if (p?.kind === 'message' && !p.sync && p.from !== me.accountId) {
        const now = Date.now()
        await queue(s, {
          v: 1,
          id: newMessageId(),
          kind: 'receipt',
          receipt: 'delivered',
          from: me.accountId,
          fromDevice: me.deviceId,
          to: p.from,
          ref: p.id,
          createdAt: now,
          expiresAt: now + ttlDefault,
          devicesResolved: true,
          devices: [{ deviceId: p.fromDevice, state: 'queued', attempts: 0, sync: false }],
        }).catch((e: unknown) => log.warn({ err: (e as Error).message, id: p.id }, 'could not queue a delivered receipt'))
      }
      return r
    }
    const mailboxes = mailboxOn
      ? new MailboxFetcher({
          bus,
          log,
          deviceId: async () => (await identity.get()).deviceId,
          receive: receiveDeposited,
          ...(config.mailbox?.fetchEveryMs ? { everyMs: config.mailbox.fetchEveryMs } : {}),
        })
      : undefined

    ctx.serve(outboxInbox, async (req) => need().inbox.list(req ?? {}))
    serveHistory(ctx as ActorContext<unknown>, () => need().history, resolveRecipient, (sealed) => sealing.openAtRest(sealed))
    serveRequests(ctx as ActorContext<unknown>, () => need().requests, async () => (await identity.get()).accountId)
    serveSync(ctx as ActorContext<unknown>, need, identity, (sealed) => sealing.openAtRest(sealed))

    ctx.serve(outboxMarkRead, async ({ ids, receipt }) => {
      const s = need()
      const read = await s.inbox.markRead(ids)
      const me = read.length > 0 ? await identity.get() : undefined
      if (me) await historyOf.markedRead(read, me.accountId)
      if (me && receipt !== false) {
        for (const m of read) {
          if (m.sync || m.from === me.accountId) continue
          const now = Date.now()
          // The receipt goes back to the device that sent the message: it holds the outgoing record.
          await queue(s, {
            v: 1,
            id: newMessageId(),
            kind: 'receipt',
            from: me.accountId,
            fromDevice: me.deviceId,
            to: m.from,
            ref: m.id,
            createdAt: now,
            expiresAt: now + ttlDefault,
            devicesResolved: true,
            devices: [{ deviceId: m.fromDevice, state: 'queued', attempts: 0, sync: false }],
          })
        }
      }
      return { read: read.length }
    })

    // ---- presence: the "deliver as soon as it is online" path ----
    const online = (e: { accountId: string; deviceId: string; peerId: string; addrs: string[] }) => stores?.engine.deviceOnline(e)
    for (const sub of await Promise.all([
      ctx.subscribe(discoveryOnline, online),
      ctx.subscribe(discoveryAddressChanged, online),
      ctx.subscribe(discoveryOffline, (e) => stores?.engine.deviceOffline(e)),
      // This device published its presence: discovery is up (maybe just joined), so its mailbox can be read.
      ctx.subscribe(discoveryPublished, () => mailboxes?.soon()),
      ctx.subscribe(identityAccountCreated, () => identity.forget()),
      ctx.subscribe(identityDeviceAdded, () => identity.forget()),
      ctx.subscribe(identityDeviceRevoked, (e) => {
        identity.forget()
        stores?.engine.revokeDevice(e.deviceId)
      }),
    ])) {
      unsubscribe.push(() => sub.unsubscribe())
    }
    // The bus came back after an outage: requests in flight across it are lost; retry them and whatever waited now.
    unsubscribe.push(bus.onStatus((s) => s === 'reconnected' && stores?.engine.interrupt()))
    mailboxes?.start()
    // The history sync with this account's other devices (its own triggers): docs/history.md.
    const deviceSync = await startDeviceSync(ctx, { identity, history: () => stores?.history, requests: () => stores?.requests, seal: (id, body) => sealing.sealAtRest(id, body) })

    return {
      async stop() {
        health.stop()
        mailboxes?.stop()
        await deviceSync?.stop()
        for (const u of unsubscribe) u()
        await stores?.engine.stop()
      },
      health: () => {
        const st = stores?.engine.stats()
        return {
          jetstream: stores && !health.reason ? 'up' : 'down',
          ...(health.reason ? { reason: health.reason } : {}),
          ...(disk ? { diskFreeBytes: Number.isFinite(disk.lastFree) ? disk.lastFree : null } : {}),
          pending: st?.pending ?? 0,
          unresolved: st?.unresolved ?? 0,
          messages: st?.messages ?? 0,
          inFlight: st?.inFlight ?? 0,
          watching: st?.watching ?? 0,
          inboxSize: stores?.inbox.size ?? 0,
          ...(mailboxes?.last ? { mailbox: mailboxes.last } : {}),
          ...(deviceSync ? { historySync: deviceSync.status() } : {}),
        }
      },
    }
  },
})

/** The name every actor module exports its actor under (what `baran`'s actor entry runs). */
export const actor = outboxActor
