import { toBase64Url } from '@baran/trust'
import { DEFAULT_REPLICATION } from './constants.ts'
import { MalformedFrameError } from './errors.ts'
import type { Frame } from './frames.ts'
import { deviceListKey, parseKey, presenceKey, targetKey, type WatchTarget } from './keys.ts'
import type { WatchComponents, WatchLimits, WatchEvent, WatchOptions } from './watch-link.ts'
import { Subscriptions } from './watch-subscriptions.ts'
import { Watches } from './watch-keys.ts'

export type { WatchComponents, WatchLimits, Via, WatchEvent, WatchOptions } from './watch-link.ts'

/** The watches of one node: storing side, watching side and the answers to watch frames. */
export class WatchService {
  readonly #c: WatchComponents
  readonly subscriptions: Subscriptions
  readonly watches: Watches

  constructor(c: WatchComponents, init: { limits?: WatchLimits; fanout?: number } = {}) {
    this.#c = c
    this.subscriptions = new Subscriptions(c, init.limits ?? {})
    this.watches = new Watches(c, init.fanout ?? DEFAULT_REPLICATION)
  }

  /** A record a storing peer pushed to this node (over the node's fast path). */
  onPush(from: string, key: string, value: Uint8Array): void {
    this.watches.onPush(from, parseKey(key).key, value)
  }

  /**
   * Watch a key, a device's presence or an account. An account watch follows its device list
   * and the presence of every device on it (revoked devices excluded), adjusting as it changes.
   */
  watch(target: WatchTarget, onEvent: (e: WatchEvent) => void, opts: WatchOptions = {}): () => void {
    if (typeof target === 'object' && target !== null && 'accountId' in target) return this.#watchAccount(target.accountId, onEvent, opts)
    return this.watches.watchKey(targetKey(target), onEvent, opts)
  }

  #watchAccount(accountId: string, onEvent: (e: WatchEvent) => void, opts: WatchOptions): () => void {
    const devices = new Map<string, () => void>()
    let stopped = false
    const stopList = this.watches.watchKey(
      deviceListKey(accountId),
      (e) => {
        onEvent(e)
        if (e.kind !== 'device-list' || stopped) return
        const revoked = new Set(e.deviceList.revocations?.devices ?? [])
        const wanted = new Set(e.deviceList.devices.map((d) => d.deviceId).filter((d) => !revoked.has(d)))
        for (const [deviceId, stop] of devices) {
          if (!wanted.has(deviceId)) {
            stop()
            devices.delete(deviceId)
          }
        }
        for (const deviceId of wanted) {
          if (!devices.has(deviceId)) devices.set(deviceId, this.watches.watchKey(presenceKey(deviceId), onEvent, opts))
        }
      },
      opts,
    )
    return () => {
      stopped = true
      stopList()
      for (const stop of devices.values()) stop()
      devices.clear()
    }
  }

  /** The reply to one request frame from `peer`; a refusal is an `err` frame. */
  answer(peer: string, frame: Frame): Frame {
    try {
      return this.#answer(peer, frame)
    } catch (err) {
      const e = err as Error & { code?: unknown }
      return { t: 'err', code: typeof e.code === 'string' ? e.code.slice(0, 64) : 'error', message: e.message.slice(0, 512) }
    }
  }

  #answer(peer: string, frame: Frame): Frame {
    switch (frame.t) {
      case 'sub': {
        const key = parseKey(frame.key).key
        const { ttl, isNew } = this.subscriptions.subscribe(peer, key, frame.ttlMs)
        // A new subscriber learns what is stored now; a renewal does not (pushes cover changes).
        const value = isNew ? this.#c.store.getRecord(key) : undefined
        return value === undefined ? { t: 'ok', ttlMs: ttl } : { t: 'ok', ttlMs: ttl, value: toBase64Url(value) }
      }
      case 'unsub':
        this.subscriptions.unsubscribe(peer, parseKey(frame.key).key)
        return { t: 'ok' }
      default:
        throw new MalformedFrameError(`unexpected ${frame.t} frame`)
    }
  }

  stop(): void {
    this.watches.stop()
    this.subscriptions.stop()
  }
}
