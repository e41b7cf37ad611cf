import { RetryStoppedError, retry } from '@baran/actor/recurring'

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

/** The keys waiting for one peer, and the stop of its retry loop. */
interface PeerRetry {
  keys: Set<string>
  abort: AbortController
}

/**
 * Pushes that failed (a timeout on a loaded machine, a stream reset) are tried again, for the keys they carried,
 * with back-off, while the peer stays. A lost push used to leave that peer without the record until the next
 * republish (10 min for a device list): two devices that changed their list at once then never heard of each
 * other's change, so nothing merged them. The current record of each key goes, not the one that failed.
 */
export class PushRetries {
  readonly #init: PushRetryInit
  readonly #peers = new Map<string, PeerRetry>()

  constructor(init: PushRetryInit) {
    this.#init = init
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
    const start = p === undefined
    p ??= { keys: new Set(), abort: new AbortController() }
    this.#add(p, keys)
    if (start) {
      this.#peers.set(peer, p)
      this.#run(peer, p)
    }
  }

  /** The peer is gone (its next connection pushes everything): drop what waits for it. */
  forget(peer: string): void {
    this.#peers.get(peer)?.abort.abort()
    this.#peers.delete(peer)
  }

  stop(): void {
    for (const peer of [...this.#peers.keys()]) this.forget(peer)
  }

  /** Newest last; past maxKeys the oldest go. */
  #add(p: PeerRetry, keys: Iterable<string>): void {
    for (const k of keys) {
      p.keys.delete(k)
      p.keys.add(k)
    }
    for (const k of p.keys) {
      if (p.keys.size <= this.#init.maxKeys) break
      p.keys.delete(k)
    }
  }

  /** One retry loop per peer; keys that fail meanwhile join it, and once it succeeds any left start a new one. */
  #run(peer: string, p: PeerRetry): void {
    const { attempts, initialMs, maxMs } = this.#init
    const pushAll = async (): Promise<void> => {
      const keys = [...p.keys]
      p.keys.clear()
      if (await this.#init.push(peer, keys).catch(() => false)) return
      this.#add(p, keys.filter((k) => !p.keys.has(k)))
      throw new Error(`LAN push to ${peer} failed`)
    }
    void retry(pushAll, { signal: p.abort.signal, delayFirst: true, attempts, initialMs, maxMs, jitter: 0.25, spread: 'around' })
      .then(
        () => true,
        (err: unknown) => {
          if (!(err instanceof RetryStoppedError)) this.#init.log?.debug({ peer, keys: p.keys.size }, 'LAN push given up: the next connection to the peer sends everything')
          return false
        },
      )
      .then((ok) => {
        if (this.#peers.get(peer) !== p) return
        if (ok && p.keys.size > 0) this.#run(peer, p)
        else this.forget(peer)
      })
  }
}
