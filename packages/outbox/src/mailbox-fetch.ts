/**
 * This device's DHT mailboxes (docs/mailbox.md), read by the outbox: what senders deposited while this device was
 * not reachable. Each envelope takes the path of a direct delivery (`outbox.receive`: opened and its sender verified
 * by identity, then the inbox's create-by-ID, which de-duplicates against what also came directly), an envelope
 * from a blocked account is dropped, and what was taken (stored, a duplicate, or refused for good) is deleted with
 * a request identity signs with the device key. Anything that failed for a passing reason stays for the next round.
 */
import type { ActorContext } from '@baran/actor'
import { type Bus, discoveryMailboxDelete, discoveryMailboxFetch, identityBlocks, identitySignMailboxDelete, identitySignMailboxFetch } from '@baran/bus'
import { mailboxesOf } from '@baran/trust'

/** What one envelope came to: the inbox's answer, or `blocked` (dropped unopened: its sender account is blocked). */
export type MailboxOutcome = { status: 'stored' | 'duplicate' | 'blocked' } | { status: 'rejected'; reason: string }

/** Counts of one round. */
export interface MailboxRound {
  fetched: number
  stored: number
  duplicate: number
  rejected: number
  blocked: number
  /** items deleted from the mailboxes (as the storing nodes reported) */
  deleted: number
  /** items left for the next round (the receive path failed for a passing reason) */
  kept: number
}

/** What started a round (in its log line). */
export type RoundTrigger = 'start' | 'published' | 'timer' | 'call'

export interface MailboxFetcherInit {
  bus: Bus
  log: ActorContext<unknown>['log']
  /** This device's ID. */
  deviceId: () => Promise<string>
  /** The receive path of a direct delivery, for an envelope (base64) and the sender account its header names. */
  receive: (envelope: string, senderAccount: string) => Promise<MailboxOutcome>
  /** Between rounds @default 60 s (jittered ±25 %). */
  everyMs?: number
  /** After a round that could not reach discovery @default 5 s, doubling up to everyMs. */
  retryMs?: number
}

/** Items per delete request (the storing nodes' limit). */
const MAX_DELETE_ITEMS = 256
/** Pages read per mailbox and round (512 KiB each): a flooded mailbox cannot keep a round going forever. */
const MAX_PAGES = 16

export class MailboxFetcher {
  #init: MailboxFetcherInit
  #timer: NodeJS.Timeout | undefined
  #running: Promise<MailboxRound | undefined> | undefined
  #stopped = false
  #failures = 0
  #last: MailboxRound | undefined
  #lastStart = 0
  #published = false
  #again = false

  constructor(init: MailboxFetcherInit) {
    this.#init = init
  }

  /** The last completed round (health, tests). */
  get last(): MailboxRound | undefined {
    return this.#last
  }

  /** First round now, then one every `everyMs` (sooner after a failure). */
  start(): void {
    void this.runNow('start')
  }

  /** Runs a round now (or joins the one running); resolves with its counts, undefined when it failed. */
  runNow(trigger: RoundTrigger = 'call'): Promise<MailboxRound | undefined> {
    if (this.#running) return this.#running
    if (this.#stopped) return Promise.resolve(undefined)
    clearTimeout(this.#timer)
    this.#lastStart = Date.now()
    this.#running = this.#round(trigger).then(
      (r) => {
        this.#failures = 0
        this.#last = r
        return r
      },
      (e: unknown) => {
        this.#failures++
        this.#init.log.debug({ err: (e as Error).message }, 'could not read the device mailbox yet')
        return undefined
      },
    )
    void this.#running.finally(() => {
      this.#running = undefined
      if (this.#again) {
        this.#again = false
        void this.runNow('published')
      } else this.#schedule()
    })
    return this.#running
  }

  /**
   * Discovery published this device's presence (it is up and joined): a round now, unless one ran in the last
   * `minGapMs` (presence is republished periodically; the regular rounds cover that).
   */
  soon(minGapMs = 15_000): void {
    const first = !this.#published
    this.#published = true
    if (!first && Date.now() - this.#lastStart < minGapMs) return
    // The first publish after start: a round that began before discovery had joined may have missed items.
    if (this.#running) this.#again = true
    else void this.runNow('published')
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  #schedule(): void {
    if (this.#stopped) return
    const every = this.#init.everyMs ?? 60_000
    const base = this.#failures > 0 ? Math.min(every, (this.#init.retryMs ?? 5000) * 2 ** (this.#failures - 1)) : every
    const delay = base * (0.75 + Math.random() * 0.5)
    this.#timer = setTimeout(() => void this.runNow('timer'), delay)
    this.#timer.unref()
  }

  async #round(trigger: RoundTrigger): Promise<MailboxRound> {
    const { bus, log } = this.#init
    const round: MailboxRound = { fetched: 0, stored: 0, duplicate: 0, rejected: 0, blocked: 0, deleted: 0, kept: 0 }
    // Where a round's time goes (its log line: the mailbox bench reads it back).
    const ms = { prepare: 0, fetch: 0, receive: 0, delete: 0 }
    const begin = performance.now()
    let t = begin
    const lap = (k: keyof typeof ms) => {
      const now = performance.now()
      ms[k] += now - t
      t = now
    }
    const deviceId = await this.#init.deviceId()
    const blocked = new Set((await bus.request(identityBlocks, {})).blocks.map((b) => b.accountId))
    lap('prepare')
    for (const mailbox of mailboxesOf(deviceId)) {
      const taken: string[] = []
      let skip: number | undefined = 0
      for (let page = 0; page < MAX_PAGES && skip !== undefined; page++) {
        // Storing nodes answer only the mailbox's device: a request signed with its key, fresh for each page.
        const auth = await bus.request(identitySignMailboxFetch, { mailbox })
        const r: { items: Array<{ hash: string; envelope: string; senderAccount: string }>; next?: number | undefined } = await bus.request(discoveryMailboxFetch, { mailbox, auth, ...(skip ? { skip } : {}) }, { timeoutMs: 30_000 })
        lap('fetch')
        skip = r.next
        for (const item of r.items) {
          round.fetched++
          let outcome: MailboxOutcome
          if (blocked.has(item.senderAccount)) outcome = { status: 'blocked' }
          else {
            try {
              outcome = await this.#init.receive(item.envelope, item.senderAccount)
            } catch (e) {
              // identity or JetStream could not answer: the item stays for the next round.
              round.kept++
              log.debug({ err: (e as Error).message, hash: item.hash }, 'a mailbox item could not be received now')
              continue
            }
          }
          round[outcome.status]++
          if (outcome.status === 'rejected') log.info({ hash: item.hash, sender: item.senderAccount, reason: outcome.reason }, 'a mailbox item was refused')
          taken.push(item.hash)
        }
        lap('receive')
      }
      for (let i = 0; i < taken.length; i += MAX_DELETE_ITEMS) {
        const items = taken.slice(i, i + MAX_DELETE_ITEMS)
        const request = await bus.request(identitySignMailboxDelete, { mailbox, items })
        round.deleted += (await bus.request(discoveryMailboxDelete, { request }, { timeoutMs: 30_000 })).deleted
      }
      lap('delete')
    }
    const took = (x: number) => Math.round(x)
    if (round.fetched > 0) log.info({ ...round, trigger, ms: { prepare: took(ms.prepare), fetch: took(ms.fetch), receive: took(ms.receive), delete: took(ms.delete), total: took(t - begin) } }, 'device mailbox read')
    else log.debug({ trigger, ms: took(t - begin) }, 'device mailbox empty')
    return round
  }
}
