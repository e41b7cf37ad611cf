/**
 * The replay window of opened envelopes: which (sender device, envelope ID) pairs this device has opened, bounded
 * in count and age, persisted so a restart does not reopen the window. An envelope older than the window (its
 * `sentAt` at or below the low-water mark) is refused too: the window no longer knows whether it was seen.
 *
 * File: `replay.log` in the store directory (0600), one line per opened envelope, `<sentAt> <deviceId> <id>`,
 * the first line `low <mark>`; appended on every open, rewritten (atomically) when entries are evicted.
 */
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ReplayedEnvelopeError } from '@baran/trust'
import { ensurePrivateDir, readFileIfExists, removeStaleTemps, writeFileAtomic } from './fs.ts'

export const REPLAY_FILE = 'replay.log'
/** Envelopes remembered at most (~100 bytes each on disk, ~200 in memory). */
export const DEFAULT_REPLAY_CAPACITY = 65_536
/** Envelopes older than this are refused: an outbox gives up on a message well before. */
export const DEFAULT_REPLAY_MAX_AGE_MS = 30 * 24 * 3600_000
const LINE_RE = /^(\d{1,16}) ([0-9a-f]{40}) ([\x21-\x7e]{1,64})$/

/** Options of ReplayWindow. */
export interface ReplayWindowInit {
  dir: string
  /** @default DEFAULT_REPLAY_CAPACITY */
  capacity?: number
  /** @default DEFAULT_REPLAY_MAX_AGE_MS */
  maxAgeMs?: number
  /** @default Date.now */
  now?: () => number
}

/** A bounded, persisted set of opened envelopes. `reserve` before decrypting, then `commit` or `release`. */
export class ReplayWindow {
  private readonly dir: string
  private readonly capacity: number
  private readonly maxAgeMs: number
  private readonly clock: () => number
  private readonly seen = new Map<string, number>()
  private low = 0
  private writes: Promise<unknown> = Promise.resolve()

  constructor(init: ReplayWindowInit) {
    this.dir = init.dir
    this.capacity = init.capacity ?? DEFAULT_REPLAY_CAPACITY
    this.maxAgeMs = init.maxAgeMs ?? DEFAULT_REPLAY_MAX_AGE_MS
    this.clock = init.now ?? Date.now
  }

  /** Entries held now. */
  get size(): number {
    return this.seen.size
  }

  /** Reads the log (a line that does not parse, e.g. torn by a crash, is skipped). */
  async load(): Promise<void> {
    await removeStaleTemps(this.dir, REPLAY_FILE)
    const bytes = await readFileIfExists(this.dir, REPLAY_FILE)
    this.seen.clear()
    this.low = 0
    if (!bytes) return
    for (const line of new TextDecoder().decode(bytes).split('\n')) {
      if (line.startsWith('low ')) {
        const n = Number(line.slice(4))
        if (Number.isSafeInteger(n)) this.low = Math.max(this.low, n)
        continue
      }
      const m = LINE_RE.exec(line)
      if (m) this.seen.set(`${m[2]} ${m[3]}`, Number(m[1]))
    }
    if (this.evict()) await this.rewrite()
  }

  /**
   * Claims (sender device, id) before the envelope is decrypted: ReplayedEnvelopeError if it was opened before or
   * is older than the window. Synchronous, so two concurrent opens of one envelope cannot both pass.
   */
  reserve(deviceId: string, id: string, sentAt: number): void {
    const floor = Math.max(this.low, this.clock() - this.maxAgeMs)
    if (sentAt <= floor) throw new ReplayedEnvelopeError(`envelope ${id} is older than the replay window (sent ${sentAt}, window starts after ${floor})`)
    const key = `${deviceId} ${id}`
    if (this.seen.has(key)) throw new ReplayedEnvelopeError(`envelope ${id} from device ${deviceId} was opened before`)
    this.seen.set(key, sentAt)
  }

  /** Forgets a reservation whose envelope did not open. */
  release(deviceId: string, id: string): void {
    this.seen.delete(`${deviceId} ${id}`)
  }

  /** Makes a reservation durable (appends it; compacts when the window overflowed). */
  async commit(deviceId: string, id: string, sentAt: number): Promise<void> {
    const run = this.writes.then(async () => {
      if (this.evict()) return this.rewrite()
      await ensurePrivateDir(this.dir)
      await appendFile(join(this.dir, REPLAY_FILE), `${sentAt} ${deviceId} ${id}\n`, { mode: 0o600 })
    })
    this.writes = run.catch(() => {})
    return run
  }

  /** Drops expired entries and, over capacity, the oldest tenth; raises the low-water mark. True if any went. */
  private evict(): boolean {
    const floor = this.clock() - this.maxAgeMs
    let dropped = false
    for (const [k, t] of this.seen) {
      if (t <= floor) {
        this.seen.delete(k)
        dropped = true
      }
    }
    if (this.seen.size > this.capacity) {
      const byAge = [...this.seen].sort((a, b) => a[1] - b[1])
      const cut = byAge.slice(0, this.seen.size - this.capacity + Math.ceil(this.capacity / 10))
      for (const [k, t] of cut) {
        this.seen.delete(k)
        this.low = Math.max(this.low, t)
      }
      dropped = true
    }
    return dropped
  }

  private async rewrite(): Promise<void> {
    let text = `low ${this.low}\n`
    for (const [k, t] of this.seen) text += `${t} ${k}\n`
    await writeFileAtomic(this.dir, REPLAY_FILE, new TextEncoder().encode(text))
  }
}
