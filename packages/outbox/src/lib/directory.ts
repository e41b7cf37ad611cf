import type { AccountDevices, Clock, EngineLogger } from './engine-types.ts'

function reachable(p: Presence | undefined): { peerId: string; addrs: string[] } | undefined {
  return p?.online && p.peerId ? { peerId: p.peerId, addrs: p.addrs } : undefined
}

/** Past this many kept answers, stale ones are swept. */
const MAX_KEPT_ANSWERS = 1024

interface Presence {
  account: string
  online: boolean
  peerId: string | undefined
  addrs: string[]
  at: number
}

export interface DirectoryDeps {
  lookupAccount(accountId: string, signal: AbortSignal): Promise<AccountDevices>
  watch(accountId: string): Promise<void>
  unwatch(accountId: string): Promise<void>
}

export interface DirectoryInit {
  clock: Clock
  /** How long a looked-up answer (devices, presence) is trusted. */
  freshMs: number
  /** How long an answer past its freshness is still used while a new lookup runs in the background. */
  usableMs: number
  watchRefreshMs: number
  log: EngineLogger
  /** The signal of the engine's current run (it changes when the bus reconnects). */
  signal(): AbortSignal
  /** Interns an account or device ID (the engine keeps each string once). */
  intern(s: string): string
  /** Whether the engine still has work for the account (a late answer for a forgotten one is dropped). */
  tracks(account: string): boolean
  /** A lookup named a device revoked. */
  onRevoked(deviceId: string): void
}

/**
 * What the delivery engine knows of recipients: each device's presence (from lookups and presence events), the
 * last answer of each account's lookup, one lookup per account at a time, and the watches on accounts with
 * pending messages. A lookup's answer is reused while fresh: messages to one account, sent in a burst, cost
 * one discovery lookup between them, not one each. Who a message goes to is decided only by a fresh answer (an
 * older one may list a device revoked since). Where a device of an already addressed message is reached: past its
 * freshness (but within `usableMs`) the answer is still used for a first attempt while a new lookup runs in the
 * background. A send that fails drops the answer, so its retry waits for a real lookup.
 */
export class DeviceDirectory {
  #deps: DirectoryDeps
  #init: DirectoryInit
  #presence = new Map<string, Presence>()
  #lookups = new Map<string, Promise<AccountDevices>>()
  #answers = new Map<string, { found: AccountDevices; at: number }>()
  #watched = new Map<string, number>()

  constructor(deps: DirectoryDeps, init: DirectoryInit) {
    this.#deps = deps
    this.#init = init
  }

  get watching(): number {
    return this.#watched.size
  }

  online(p: { accountId: string; deviceId: string; peerId: string; addrs: string[] }): void {
    const { intern, clock } = this.#init
    this.#presence.set(intern(p.deviceId), { account: intern(p.accountId), online: true, peerId: p.peerId, addrs: p.addrs, at: clock.now() })
    // A device the last answer did not list: the account's device list changed, ask again.
    const answer = this.#answers.get(p.accountId)
    if (answer && !answer.found.devices.some((d) => d.deviceId === p.deviceId)) this.#answers.delete(p.accountId)
  }

  offline(deviceId: string): void {
    const known = this.#presence.get(deviceId)
    if (known) this.#presence.set(deviceId, { ...known, online: false, peerId: undefined, addrs: [], at: this.#init.clock.now() })
  }

  /** An attempt failed: the device's address may be stale, look it up again next time. */
  stale(deviceId: string, account: string): void {
    this.#presence.delete(deviceId)
    this.#answers.delete(account)
  }

  /** The bus reconnected: lookups in flight across the outage are never answered. */
  reset(): void {
    this.#lookups.clear()
  }

  /** The account's devices, not revoked, from a usable answer (undefined when there is none). */
  known(account: string): string[] | undefined {
    // Only a fresh answer says who the recipients are: an older one may still list a device revoked since.
    const answer = this.#answers.get(account)
    if (!answer || !this.#fresh(answer.at)) return undefined
    const { devices, revoked } = answer.found
    return devices.filter((d) => !revoked.includes(d.deviceId)).map((d) => d.deviceId)
  }

  /**
   * Where to send: a fresh presence (event or lookup), else discovery's answer for the account. An answer past its
   * freshness is trusted only for a first attempt, and only to send to (a stale address fails the send, and that
   * drops it): when it says the device is offline, or an attempt failed before (`retry`), discovery is asked now,
   * as it is without any answer, so a retry never spends its back-off on an old view.
   */
  async target(account: string, deviceId: string, retry = false): Promise<{ peerId: string; addrs: string[] } | 'revoked' | undefined> {
    const p = this.#presence.get(deviceId)
    if (p && this.#fresh(p.at)) return reachable(p)
    let found = retry ? await this.#freshAnswer(account) : (this.#usable(account)?.found ?? (await this.#ask(account)))
    const answer = this.#answers.get(account)
    if (!(answer && this.#fresh(answer.at)) && !reachable(this.#newest(account, deviceId))) found = await this.#ask(account)
    if (found.revoked.includes(deviceId)) return 'revoked'
    return reachable(this.#newest(account, deviceId))
  }

  /** The newer of the device's presence and what the account's answer says of it. */
  #newest(account: string, deviceId: string): Presence | undefined {
    const q = this.#presence.get(deviceId)
    const a = this.#fromAnswer(account, deviceId)
    return q && (!a || q.at >= a.at) ? q : a
  }

  #fresh(at: number): boolean {
    return this.#init.clock.now() - at < this.#init.freshMs
  }

  /** The account's answer while usable; past its freshness, a new lookup starts in the background. */
  #usable(account: string): { found: AccountDevices; at: number } | undefined {
    const answer = this.#answers.get(account)
    if (!answer || this.#init.clock.now() - answer.at >= this.#init.usableMs) return undefined
    if (!this.#fresh(answer.at)) this.#ask(account).catch((e: unknown) => this.#init.log.debug({ err: (e as Error).message, account }, 'background lookup failed'))
    return answer
  }

  #fromAnswer(account: string, deviceId: string): Presence | undefined {
    const answer = this.#answers.get(account)
    const d = answer?.found.devices.find((x) => x.deviceId === deviceId)
    return answer && d ? { account, online: d.online, peerId: d.peerId, addrs: d.addrs, at: answer.at } : undefined
  }

  /**
   * The account's devices, to address a message to: a fresh answer, else a lookup (one per account at a time, so a
   * burst shares it) that refreshes presence. Never an older answer: it may still list a device revoked since.
   */
  devices(account: string): Promise<AccountDevices> {
    return this.#freshAnswer(account)
  }

  /** A fresh answer, else a lookup. */
  #freshAnswer(account: string): Promise<AccountDevices> {
    const answer = this.#answers.get(account)
    return answer && this.#fresh(answer.at) ? Promise.resolve(answer.found) : this.#ask(account)
  }

  #ask(account: string): Promise<AccountDevices> {
    const running = this.#lookups.get(account)
    if (running) return running
    const pending = this.#deps.lookupAccount(account, this.#init.signal()).then((found) => {
      if (!this.#init.tracks(account)) return found
      const { intern, clock } = this.#init
      const now = clock.now()
      this.#sweep()
      this.#answers.set(intern(account), { found, at: now })
      for (const d of found.devices) {
        this.#presence.set(intern(d.deviceId), { account: intern(account), online: d.online, peerId: d.peerId, addrs: d.addrs, at: now })
      }
      for (const id of found.revoked) this.#init.onRevoked(id)
      return found
    })
    this.#lookups.set(account, pending)
    const clear = () => {
      if (this.#lookups.get(account) === pending) this.#lookups.delete(account)
    }
    pending.then(clear, clear)
    return pending
  }

  async ensureWatch(account: string): Promise<void> {
    const at = this.#watched.get(account)
    const now = this.#init.clock.now()
    if (at !== undefined && now - at < this.#init.watchRefreshMs) return
    this.#watched.set(account, now)
    try {
      await this.#deps.watch(account)
    } catch (e) {
      // Discovery is not there yet: ask again on the next failure.
      this.#watched.delete(account)
      this.#init.log.debug({ err: (e as Error).message, account }, 'watch failed')
    }
  }

  /** Answers past their freshness are dropped once there are many (accounts nothing is pending for keep theirs). */
  #sweep(): void {
    if (this.#answers.size < MAX_KEPT_ANSWERS) return
    const now = this.#init.clock.now()
    for (const [account, a] of this.#answers) if (now - a.at >= this.#init.usableMs) this.#answers.delete(account)
  }

  /**
   * Nothing pending for the account any more: stop watching it and drop its presence (returns the device IDs
   * dropped). Its last answer stays while usable: the next message to it (a conversation) needs no lookup.
   */
  forget(account: string): string[] {
    this.#lookups.delete(account)
    const dropped: string[] = []
    for (const [deviceId, p] of this.#presence) {
      if (p.account === account) {
        this.#presence.delete(deviceId)
        dropped.push(deviceId)
      }
    }
    if (this.#watched.delete(account)) {
      this.#deps.unwatch(account).catch((e: unknown) => this.#init.log.debug({ err: (e as Error).message, account }, 'unwatch failed'))
    }
    return dropped
  }
}
