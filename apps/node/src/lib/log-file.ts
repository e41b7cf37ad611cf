import { type FileHandle, open } from 'node:fs/promises'
import { Writable } from 'node:stream'

/** How long a log file that failed (disk full, read-only) waits before it is tried again. */
const RETRY_MS = 2000

/**
 * An append-only log file that never fails its writer: a write error (ENOSPC, EROFS, EIO) drops the line and
 * counts it, and the file is reopened on a later write once RETRY_MS passed; the first line written then says
 * how much was lost and why. A log must not take the node down with it (an unhandled `error` event of a
 * WriteStream kills the process), and backpressure still holds: each write waits for the previous one.
 */
export class LogFile extends Writable {
  readonly path: string
  #fh: FileHandle | undefined
  #failedAt = 0
  #dropped = { bytes: 0, why: '' }
  #onTrouble: ((err: Error) => void) | undefined

  /** `onTrouble` hears the first failure of each outage (not every dropped line). */
  constructor(path: string, opts: { onTrouble?: (err: Error) => void } = {}) {
    super({ decodeStrings: true })
    this.path = path
    this.#onTrouble = opts.onTrouble
  }

  /** Bytes dropped since the file last worked. */
  get dropped(): number {
    return this.#dropped.bytes
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    void this.#append(chunk).then(() => done())
  }

  async #append(chunk: Buffer): Promise<void> {
    if (this.#failedAt && Date.now() - this.#failedAt < RETRY_MS) {
      this.#dropped.bytes += chunk.length
      return
    }
    try {
      this.#fh ??= await open(this.path, 'a', 0o600)
      if (this.#dropped.bytes > 0) {
        await this.#fh.appendFile(`${JSON.stringify({ level: 40, time: new Date().toISOString(), msg: `log lines dropped: ${this.#dropped.bytes} bytes (${this.#dropped.why})` })}\n`)
        this.#dropped = { bytes: 0, why: '' }
      }
      await this.#fh.appendFile(chunk)
      this.#failedAt = 0
    } catch (e) {
      const err = e as Error
      if (!this.#failedAt) this.#onTrouble?.(err)
      this.#failedAt = Date.now()
      this.#dropped = { bytes: this.#dropped.bytes + chunk.length, why: (err as { code?: string }).code ?? err.message }
      // Reopen next time: the handle may be what broke.
      await this.#fh?.close().catch(() => undefined)
      this.#fh = undefined
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    const fh = this.#fh
    this.#fh = undefined
    void (fh ? fh.close().catch(() => undefined) : Promise.resolve()).then(() => done())
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const fh = this.#fh
    this.#fh = undefined
    void (fh ? fh.close().catch(() => undefined) : Promise.resolve()).then(() => done(err))
  }
}
