import { fromBase64Url, toBase64Url } from '@baran/trust'
import type { Stream } from '@libp2p/interface'
import { DEFAULT_REPLICATION, FRAME_TIMEOUT_MS } from './constants.ts'
import { MalformedFrameError } from './errors.ts'
import { type Frame, frameStream } from './frames.ts'
import { deviceListKey, parseKey, presenceKey, targetKey, type WatchTarget } from './keys.ts'
import type { ListenComponents, ListenLimits, WatchEvent, WatchOptions } from './listen-link.ts'
import { Subscriptions } from './listen-subscriptions.ts'
import { Watches } from './listen-watches.ts'

export type { ListenComponents, ListenLimits, Via, WatchEvent, WatchOptions } from './listen-link.ts'

/** The listen protocol of one node: storing side, watching side and the stream handler. */
export class ListenService {
  readonly #c: ListenComponents
  readonly subscriptions: Subscriptions
  readonly watches: Watches

  constructor(c: ListenComponents, init: { limits?: ListenLimits; fanout?: number } = {}) {
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

  /** Stream handler for `/baran/listen/1.0.0`: one request frame, one reply, close. */
  async handle(stream: Stream, remotePeer: string): Promise<void> {
    const fs = frameStream(stream)
    try {
      const frame = await fs.read()
      await fs.write(this.answer(remotePeer, frame))
      await stream.close({ signal: AbortSignal.timeout(FRAME_TIMEOUT_MS) })
    } catch (err) {
      // Malformed frames, timeouts and resets end this stream only.
      this.#c.log?.debug({ err, peer: remotePeer }, 'listen stream failed')
      stream.abort(err instanceof Error ? err : new MalformedFrameError())
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
      case 'push':
        this.watches.onPush(peer, parseKey(frame.key).key, fromBase64Url(frame.value))
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
