import type { KvBucket } from '@baran/bus'
import { type Cleanup, setupNats } from '@baran/testkit'
import type { Clock } from '../src/lib/engine.ts'
import { createIdGenerator } from '../src/lib/ids.ts'
import type { KvStore } from '../src/lib/kv.ts'
import type { OutgoingRecord } from '../src/lib/records.ts'

/** A real nats-server with JetStream (temp dir) and a bus on it; buckets get unique names per call. */
export async function jetstream(cleanup: Cleanup) {
  const nats = await setupNats({ cleanup, jetstream: true })
  let n = 0
  const bucket = (name: string): Promise<KvBucket> => nats.bus.kv(`${name}_${++n}`)
  return { ...nats, bucket }
}

/** A clock the test moves by hand; timers fire in order as it passes them. */
export class ManualClock implements Clock {
  t: number
  #timers = new Map<number, { at: number; fn: () => void }>()
  #next = 1

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start
  }
  now(): number {
    return this.t
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++
    this.#timers.set(id, { at: this.t + ms, fn })
    return id
  }
  clearTimeout(h: unknown): void {
    this.#timers.delete(h as number)
  }
  /** When the earliest timer is due (undefined without one). */
  get nextAt(): number | undefined {
    let at: number | undefined
    for (const t of this.#timers.values()) if (at === undefined || t.at < at) at = t.at
    return at
  }
  /** Moves time forward, firing each timer at its time; `settle` runs after each one (await the engine). */
  async advance(ms: number, settle: () => Promise<void> = async () => {}): Promise<void> {
    const target = this.t + ms
    for (let guard = 0; guard < 10_000; guard++) {
      let first: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.#timers) if (e[1].at <= target && (!first || e[1].at < first[1].at)) first = e
      if (!first) break
      this.#timers.delete(first[0])
      this.t = Math.max(this.t, first[1].at)
      first[1].fn()
      await settle()
    }
    this.t = target
    await settle()
  }
}

export const ALICE = 'a1'.repeat(20)
export const ALICE_PHONE = 'a2'.repeat(20)
export const ALICE_LAPTOP = 'a3'.repeat(20)
export const BOB = 'b1'.repeat(20)
export const BOB_PHONE = 'b2'.repeat(20)
export const BOB_LAPTOP = 'b3'.repeat(20)
export const CAROL = 'c1'.repeat(20)

/** An outgoing record from Alice's phone, not yet resolved (as `send` persists it). */
export function outgoing(opts: { now: number; to?: string; body?: string; ttlMs?: number; sync?: string[]; id?: string }): OutgoingRecord {
  const id = opts.id ?? createIdGenerator({ now: () => opts.now })()
  return {
    v: 1,
    id,
    kind: 'message',
    from: ALICE,
    fromDevice: ALICE_PHONE,
    to: opts.to ?? BOB,
    body: opts.body ?? 'hello',
    createdAt: opts.now,
    expiresAt: opts.now + (opts.ttlMs ?? 86_400_000),
    devicesResolved: false,
    devices: (opts.sync ?? []).map((deviceId) => ({ deviceId, state: 'queued', attempts: 0, sync: true })),
  }
}

/** A bucket's plain key/value methods only (no ranged reads, no batches): what a store does without them. */
export function plainKv(kv: KvStore): KvStore {
  return {
    get: (k) => kv.get(k),
    create: (k, v) => kv.create(k, v),
    update: (k, v, r) => kv.update(k, v, r),
    put: (k, v) => kv.put(k, v),
    delete: (k) => kv.delete(k),
    keys: (f) => kv.keys(f),
    entries: () => kv.entries(),
  }
}
