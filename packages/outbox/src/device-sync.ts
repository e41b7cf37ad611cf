/**
 * When and with whom this device syncs its history (docs/history.md): it pulls from each other (non-revoked)
 * device of its account at start (a newly linked device's backfill), when the account appears or gains a device,
 * when a connection to one of them opens or it comes online, and every `everyMs` (jittered). One sync per device at
 * a time (a trigger during one asks for one more after it); a failure is logged and retried with back-off up to the
 * period; stop aborts what runs. The channel is transport's `/baran/history-sync/1.0.0` (`transport.syncRequest`).
 */
import type { ActorContext } from '@baran/actor'
import {
  type Bus,
  type DevicePresence,
  type SyncRequest,
  discoveryLookup,
  discoveryOnline,
  identityAccountCreated,
  identityDeviceAdded,
  identityMergeAccountState,
  transportConnection,
  transportSyncRequest,
} from '@baran/bus'
import type { Config } from './config.ts'
import type { IdentityView } from './identity-view.ts'
import type { HistoryEntry } from './lib/history-entry.ts'
import { pullAccountState } from './lib/account-pull.ts'
import { pullHistory, type SyncLocal } from './lib/history-pull.ts'
import type { HistoryStore } from './lib/history.ts'
import type { ContactRequests } from './lib/requests.ts'
import { remoteOver } from './lib/sync-wire.ts'

export const SYNC_EVERY_MS = 5 * 60_000
/** A failed sync is tried again after this, doubling per failure, at most the period. */
const RETRY_FIRST_MS = 2_000
/** How long the account's device list (peer IDs, addresses) from discovery is reused. */
const LOOKUP_TTL_MS = 30_000
const REQUEST_TIMEOUT_MS = 30_000
/** Bodies sealed to this device at once while a page is merged. */
const SEAL_CONCURRENCY = 8
/** Refusals that another try will not change before the account's device list does. */
const FINAL = new Set(['revoked', 'not_own_device'])

export interface DeviceSyncInit {
  bus: Bus
  log: ActorContext<unknown>['log']
  identity: IdentityView
  history(): HistoryStore | undefined
  /** Where declined contact requests are kept (synced with contacts and blocks). */
  requests(): ContactRequests | undefined
  /** A sent body sealed to this device (how sent bodies are kept at rest). */
  seal(id: string, body: string): Promise<string>
  everyMs?: number
  /** Messages per fetched page. @default 200 */
  pageSize?: number
}

/** One other device, as the outbox's health shows it. */
export interface DeviceSyncStatus {
  deviceId: string
  running: boolean
  runs: number
  failures: number
  /** Messages fetched and merged that changed something here, over all runs. */
  fetched: number
  changed: number
  lastAt?: number
  lastMs?: number
  lastError?: string
  /** Contact and block registers and declines fetched, and how many changed something here, over all runs. */
  account?: { fetched: number; changed: number }
  /** While a sync runs: the messages merged so far. */
  syncing?: { fetched: number }
}

interface State extends DeviceSyncStatus {
  again: boolean
  retry?: NodeJS.Timeout
  streak: number
}

/**
 * The outbox's history sync with its triggers subscribed (the account appearing, a device added, a connection to one
 * of the account's devices, one coming online) and its first round started; undefined when `history.sync` is false.
 */
export async function startDeviceSync(
  ctx: ActorContext<Config>,
  deps: Pick<DeviceSyncInit, 'identity' | 'history' | 'requests' | 'seal'>,
): Promise<DeviceSync | undefined> {
  const cfg = ctx.config.history
  if (cfg?.sync === false) return undefined
  const sync = new DeviceSync({
    bus: ctx.bus,
    log: ctx.log,
    ...deps,
    ...(cfg?.syncEveryMs ? { everyMs: cfg.syncEveryMs } : {}),
    ...(cfg?.syncPageSize ? { pageSize: cfg.syncPageSize } : {}),
  })
  const { identity } = deps
  const subs = await Promise.all([
    ctx.subscribe(identityAccountCreated, () => {
      identity.forget()
      sync.all('account')
    }),
    ctx.subscribe(identityDeviceAdded, (e) => {
      identity.forget()
      sync.device(e.deviceId, 'device added')
    }),
    // It synced from here, or a message went there: sync back.
    ctx.subscribe(transportConnection, (e) => {
      if (e.state === 'open') sync.connected(e.peerId)
    }),
    ctx.subscribe(discoveryOnline, (e) => {
      identity.get().then(
        (me) => sync.online(e, me.accountId),
        () => undefined,
      )
    }),
  ])
  sync.start(() => {
    for (const s of subs) s.unsubscribe()
  })
  return sync
}

export class DeviceSync {
  #init: DeviceSyncInit
  #abort = new AbortController()
  #devices = new Map<string, State>()
  #running = new Set<Promise<void>>()
  /** PeerId → device ID of this account's devices (from the last lookup). */
  #peers = new Map<string, string>()
  #lookup: { at: number; devices: DevicePresence[] } | undefined
  #lookingUp: Promise<DevicePresence[]> | undefined
  #timer: NodeJS.Timeout | undefined
  #off: (() => void) | undefined

  constructor(init: DeviceSyncInit) {
    this.#init = init
  }

  /** The first round now, then one every period (jittered); `off` is called at stop. */
  start(off?: () => void): void {
    this.#off = off
    this.all('start')
    this.#schedule()
  }

  async stop(): Promise<void> {
    this.#off?.()
    this.#abort.abort()
    clearTimeout(this.#timer)
    for (const s of this.#devices.values()) clearTimeout(s.retry)
    await Promise.allSettled([...this.#running])
  }

  /** Syncs with every other device of the account. */
  all(why: string): void {
    if (this.#abort.signal.aborted) return
    this.#init.identity.get().then(
      (me) => {
        for (const d of me.others) this.device(d, why)
      },
      (e: unknown) => this.#init.log.debug({ err: (e as Error).message, why }, 'no history sync: no account'),
    )
  }

  /** A connection to `peerId` opened: if it is another device of the account, sync with it. */
  connected(peerId: string): void {
    const known = this.#peers.get(peerId)
    if (known) {
      this.device(known, 'connection')
      return
    }
    // A device linked since the last lookup: look again (at most once per LOOKUP_TTL_MS).
    if (this.#lookup && Date.now() - this.#lookup.at < LOOKUP_TTL_MS) return
    this.#own()
      .then(() => {
        const d = this.#peers.get(peerId)
        if (d) this.device(d, 'connection')
      })
      .catch(() => undefined)
  }

  /** A device came online (discovery): another of this account's gets a sync. */
  online(e: { accountId: string; deviceId: string; peerId: string }, self: string): void {
    if (e.accountId !== self) return
    this.#peers.set(e.peerId, e.deviceId)
    this.device(e.deviceId, 'online')
  }

  /** Syncs with one device: now, or once more after the sync already running. */
  device(deviceId: string, why: string): void {
    if (this.#abort.signal.aborted) return
    let s = this.#devices.get(deviceId)
    if (!s) {
      s = { deviceId, running: false, runs: 0, failures: 0, fetched: 0, changed: 0, again: false, streak: 0 }
      this.#devices.set(deviceId, s)
    }
    if (s.running) {
      s.again = true
      return
    }
    clearTimeout(s.retry)
    s.running = true
    const run = this.#run(s, why).finally(() => {
      this.#running.delete(run)
      s.running = false
      if (s.again && !this.#abort.signal.aborted) {
        s.again = false
        this.device(deviceId, 'again')
      }
    })
    this.#running.add(run)
  }

  status(): { devices: DeviceSyncStatus[] } {
    return { devices: [...this.#devices.values()].map(({ again: _a, retry: _r, streak: _s, ...st }) => st) }
  }

  async #run(s: State, why: string): Promise<void> {
    const history = this.#init.history()
    if (!history) return
    const t0 = Date.now()
    const { bus, log } = this.#init
    try {
      const me = await this.#init.identity.get()
      // Revoked (or gone) since it was asked for: nothing to do with it.
      if (!me.others.includes(s.deviceId)) return
      const presence = (await this.#own()).find((d) => d.deviceId === s.deviceId)
      if (!presence?.peerId || presence.addrs.length === 0) {
        this.#lookup = undefined // look again at the next trigger
        log.debug({ deviceId: s.deviceId, why }, 'history sync: the other device is not online')
        return
      }
      const { peerId, addrs } = presence
      const signal = this.#abort.signal
      const ask = (request: SyncRequest) =>
        bus.request(transportSyncRequest, { deviceId: s.deviceId, peerId, addrs: addrs.slice(0, 64), request, timeoutMs: REQUEST_TIMEOUT_MS }, { signal, timeoutMs: REQUEST_TIMEOUT_MS + 5_000 })
      const remote = remoteOver(ask)
      s.runs++
      const syncing = { fetched: 0 }
      s.syncing = syncing
      // The messages, and beside them (every round) blocks, contacts (identity's registers) and declined requests:
      // the two do not depend on each other, so their round trips overlap (a round with nothing new is mostly those).
      const [messages, account] = await Promise.allSettled([
        pullHistory(this.#local(history), remote, {
          signal,
          ...(this.#init.pageSize ? { pageSize: this.#init.pageSize } : {}),
          onPage: ({ merged }) => {
            syncing.fetched += merged
          },
        }),
        pullAccountState(ask, {
          registers: (kind, registers) => bus.request(identityMergeAccountState, { kind, registers }, { signal }),
          declines: async (list) => this.#init.requests()?.mergeDeclines(list) ?? 0,
        }),
      ])
      if (messages.status === 'rejected') throw messages.reason
      if (account.status === 'rejected') throw account.reason
      const r = messages.value
      const acct = account.value
      s.fetched += r.fetched
      s.changed += r.changed
      s.account = { fetched: (s.account?.fetched ?? 0) + acct.fetched, changed: (s.account?.changed ?? 0) + acct.changed }
      s.lastAt = Date.now()
      s.lastMs = s.lastAt - t0
      s.streak = 0
      delete s.lastError
      const fields = { deviceId: s.deviceId, why, ...r, accountChanged: acct.changed, ms: s.lastMs }
      if (r.fetched > 0 || acct.changed > 0) log.info(fields, 'history synced from another device of this account')
      else log.debug(fields, 'history sync: nothing new')
    } catch (e) {
      if (this.#abort.signal.aborted) return
      const code = String((e as { code?: unknown }).code ?? (e as Error).name)
      s.failures++
      s.streak++
      s.lastAt = Date.now()
      s.lastMs = s.lastAt - t0
      s.lastError = code
      log.warn({ deviceId: s.deviceId, why, code, err: (e as Error).message }, 'history sync with another device of this account failed')
      if (!FINAL.has(code)) {
        const delay = Math.min(this.#every(), RETRY_FIRST_MS * 2 ** Math.min(s.streak - 1, 16))
        s.retry = setTimeout(() => this.device(s.deviceId, 'retry'), delay)
        s.retry.unref()
      }
    } finally {
      delete s.syncing
    }
  }

  /** This device's side of the pull: a sent body that arrives readable is sealed to this device before it is stored. */
  #local(history: HistoryStore): SyncLocal {
    return {
      summaries: () => history.summaries(),
      syncItems: (peer) => history.syncItems(peer),
      mergeCopies: async (entries) => {
        // Asked per page: the conversation's sorted item list would be built again after every merge.
        const holds = new Map<string, (id: string) => boolean>()
        for (const peer of new Set(entries.map((e) => e.peer))) holds.set(peer, await history.holding(peer))
        const out: HistoryEntry[] = new Array(entries.length)
        let next = 0
        const worker = async () => {
          for (let i = next++; i < entries.length; i = next++) {
            const e = entries[i]!
            const seal = e.direction === 'out' && e.body !== undefined && e.sealed === undefined && !holds.get(e.peer)?.(e.id)
            if (!seal) {
              out[i] = e
              continue
            }
            const { body, ...rest } = e
            out[i] = { ...rest, sealed: await this.#init.seal(e.id, body ?? '') }
          }
        }
        await Promise.all(Array.from({ length: Math.min(SEAL_CONCURRENCY, entries.length) }, worker))
        return history.mergeCopies(out)
      },
    }
  }

  /** The account's devices with their addresses (discovery, reused for LOOKUP_TTL_MS; one lookup at a time). */
  async #own(): Promise<DevicePresence[]> {
    if (this.#lookup && Date.now() - this.#lookup.at < LOOKUP_TTL_MS) return this.#lookup.devices
    this.#lookingUp ??= (async () => {
      try {
        const me = await this.#init.identity.get()
        const r = await this.#init.bus.request(discoveryLookup, { accountId: me.accountId }, { signal: this.#abort.signal, timeoutMs: 20_000 })
        this.#lookup = { at: Date.now(), devices: r.devices }
        for (const d of r.devices) if (d.peerId && d.deviceId !== me.deviceId) this.#peers.set(d.peerId, d.deviceId)
        return r.devices
      } finally {
        this.#lookingUp = undefined
      }
    })()
    return this.#lookingUp
  }

  #every(): number {
    return this.#init.everyMs ?? SYNC_EVERY_MS
  }

  #schedule(): void {
    if (this.#abort.signal.aborted) return
    this.#timer = setTimeout(
      () => {
        this.all('periodic')
        this.#schedule()
      },
      this.#every() * (0.8 + 0.4 * Math.random()),
    )
    this.#timer.unref()
  }
}
