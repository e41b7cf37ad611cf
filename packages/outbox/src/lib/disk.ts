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

/**
 * Refuses writes while the disk under the store has less than `minFreeBytes` free. nats-server 2.9 deadlocks when a
 * JetStream write hits ENOSPC (its file store re-locks a lock it holds), so the only safe full-disk write is the one
 * never attempted. So every write asks the filesystem afresh (a statfs is microseconds; a burst of writes shares the
 * one in flight): an answer kept even 200 ms let a delivery receipt through onto a disk filled meanwhile, and the
 * server hung. What no guard can close is a disk filled between the statfs and the server's write.
 */
export class DiskGuard {
  readonly dir: string
  readonly minFreeBytes: number
  #free: FreeSpace
  #last = Number.POSITIVE_INFINITY
  /** The statfs in flight: writes that come while it runs share its answer. */
  #asking: Promise<number> | undefined

  constructor(opts: { dir: string; minFreeBytes: number; free?: FreeSpace }) {
    this.dir = opts.dir
    this.minFreeBytes = opts.minFreeBytes
    this.#free = opts.free ?? freeSpace
  }

  /** Free bytes at the last statfs (Infinity before the first). */
  get lastFree(): number {
    return this.#last
  }

  /** Free bytes now (a fresh statfs, or the one in flight). */
  free(): Promise<number> {
    this.#asking ??= this.#free(this.dir).then(
      (free) => {
        this.#asking = undefined
        this.#last = free
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
