import { statfs } from 'node:fs/promises'
import { DiskFullError } from './errors.ts'

/** Free bytes an unprivileged writer can use on the filesystem that holds `dir`. */
export type FreeSpace = (dir: string) => Promise<number>

export const freeSpace: FreeSpace = async (dir) => {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

const MiB = 1024 * 1024
const size = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`)

/** An answer this far above the reserve is reused for FRESH_MS: no writer fills a GiB in that time. */
const FAR_ABOVE_RESERVE = 1024 * MiB
const FRESH_MS = 100

/**
 * Refuses writes while the disk under the store has less than `minFreeBytes` free. nats-server 2.9 deadlocks when a
 * JetStream write hits ENOSPC (its file store re-locks a lock it holds), so the only safe full-disk write is the one
 * never attempted. So near the reserve every write asks the filesystem afresh (a burst of writes shares the statfs
 * in flight): an answer kept even 200 ms let a delivery receipt through onto a small disk filled meanwhile, and the
 * server hung. Far above it (a GiB), an answer is reused for 100 ms: a statfs per write was 20 % of a busy
 * outbox's CPU (node pipeline bench). What no guard can close is a disk filled between the statfs and the write.
 */
export class DiskGuard {
  readonly dir: string
  readonly minFreeBytes: number
  #free: FreeSpace
  #now: () => number
  #last = Number.POSITIVE_INFINITY
  /** When the last answer came (ms, `now`). */
  #lastAt = Number.NEGATIVE_INFINITY
  /** The statfs in flight: writes that come while it runs share its answer. */
  #asking: Promise<number> | undefined

  constructor(opts: { dir: string; minFreeBytes: number; free?: FreeSpace; now?: () => number }) {
    this.dir = opts.dir
    this.minFreeBytes = opts.minFreeBytes
    this.#free = opts.free ?? freeSpace
    this.#now = opts.now ?? performance.now.bind(performance)
  }

  /** Free bytes at the last statfs (Infinity before the first). */
  get lastFree(): number {
    return this.#last
  }

  /** Free bytes now (a fresh statfs, or the one in flight; far above the reserve, one from the last 100 ms). */
  free(): Promise<number> {
    if (this.#last - this.minFreeBytes >= FAR_ABOVE_RESERVE && this.#now() - this.#lastAt <= FRESH_MS) return Promise.resolve(this.#last)
    this.#asking ??= this.#free(this.dir).then(
      (free) => {
        this.#asking = undefined
        this.#last = free
        this.#lastAt = this.#now()
        return free
      },
      (e: unknown) => {
        this.#asking = undefined
        throw e
      },
    )
    return this.#asking
  }

  /** Throws DiskFullError when the store's disk is below the reserve. */
  async check(): Promise<void> {
    const free = await this.free()
    if (free < this.minFreeBytes) {
      throw new DiskFullError(`JetStream unavailable: disk full (${size(free)} free under ${this.dir}, the outbox keeps ${size(this.minFreeBytes)} in reserve)`)
    }
  }
}
