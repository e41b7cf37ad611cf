import { Backoff } from '@baran/actor/recurring'

/** How a retry pushes: the keys' current records to the peer; false when it failed again. */
export type PushKeys = (peer: string, keys: string[]) => Promise<boolean>

export interface PushRetryInit {
  push: PushKeys
  /** Retries per peer before giving up (the peer's next connection pushes everything again). */
  attempts: number
  initialMs: number
  maxMs: number
  /** Keys remembered per peer at most (past it, the oldest are dropped: a reconnect sends everything). */
  maxKeys: number
  log?: { debug(obj: object, msg?: string): void }
}

/**
 * Pushes that failed (a timeout on a loaded machine, a stream reset) are tried again, for the keys they carried,
 * with back-off, while the peer stays. A lost push used to leave that peer without the record until the next
 * republish (10 min for a device list): two devices that changed their list at once then never heard of each
 * other's change, so nothing merged them. The current record of each key goes, not the one that failed.
 */
export class PushRetries {
  readonly #init: PushRetryInit
  readonly #backoff: Backoff
  readonly #peers = new Map<string, { keys: Set<string>; failures: number; timer?: NodeJS.Timeout; running: boolean }>()

  constructor(init: PushRetryInit) {
    this.#init = init
    this.#backoff = new Backoff({ initialMs: init.initialMs, maxMs: init.maxMs, jitter: 0.25, spread: 'around' })
  }

  /** Keys waiting for a retry, over all peers (health, tests). */
  get pending(): number {
    let n = 0
    for (const p of this.#peers.values()) n += p.keys.size
    return n
  }

  /** A push of `keys` to `peer` failed: try them again later. */
  failed(peer: string, keys: Iterable<string>): void {
    let p = this.#peers.get(peer)
    if (p === undefined) {
      p = { keys: new Set(), failures: 0, running: false }
      this.#peers.set(peer, p)
    }
    for (const k of keys) {
      p.keys.delete(k)
      p.keys.add(k)
    }
    for (const k of p.keys) {
      if (p.keys.size <= this.#init.maxKeys) break
      p.keys.delete(k)
    }
    this.#schedule(peer, p)
  }

  /** The peer is gone (its next connection pushes everything): drop what waits for it. */
  forget(peer: string): void {
    const p = this.#peers.get(peer)
    if (p === undefined) return
    clearTimeout(p.timer)
    this.#peers.delete(peer)
  }

  stop(): void {
    for (const peer of [...this.#peers.keys()]) this.forget(peer)
  }

  #schedule(peer: string, p: { keys: Set<string>; failures: number; timer?: NodeJS.Timeout; running: boolean }): void {
    if (p.timer !== undefined || p.running) return
    if (p.failures >= this.#init.attempts) {
      this.#init.log?.debug({ peer, keys: p.keys.size }, 'LAN push given up: the next connection to the peer sends everything')
      this.forget(peer)
      return
    }
    p.failures++
    p.timer = setTimeout(() => {
      p.timer = undefined
      const keys = [...p.keys]
      p.keys.clear()
      p.running = true
      void this.#init
        .push(peer, keys)
        .catch(() => false)
        .then((ok) => {
          p.running = false
          if (this.#peers.get(peer) !== p) return
          if (ok) p.failures = 0
          if (!ok) for (const k of keys) if (!p.keys.has(k)) p.keys.add(k)
          if (ok && p.keys.size === 0) this.#peers.delete(peer)
          else if (p.keys.size > 0) this.#schedule(peer, p)
        })
    }, this.#backoff.after(p.failures))
    p.timer.unref()
  }
}
