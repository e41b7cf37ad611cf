/** Plain bodies by their sealed form, oldest forgotten first past `maxBytes` (both strings counted) or `maxAgeMs`. */
export class RecentBodies {
  #byKey = new Map<string, { body: string; at: number }>()
  #bytes = 0
  readonly #maxBytes: number
  readonly #maxAgeMs: number
  readonly #now: () => number

  constructor(maxBytes: number, maxAgeMs: number, now: () => number = Date.now) {
    this.#maxBytes = maxBytes
    this.#maxAgeMs = maxAgeMs
    this.#now = now
  }

  set(sealed: string, body: string): void {
    const size = sealed.length + body.length * 2
    if (size > this.#maxBytes) return
    this.#drop(sealed)
    this.#byKey.set(sealed, { body, at: this.#now() })
    this.#bytes += size
    for (const k of this.#byKey.keys()) {
      if (this.#bytes <= this.#maxBytes) break
      this.#drop(k)
    }
  }

  get(sealed: string): string | undefined {
    const e = this.#byKey.get(sealed)
    if (e === undefined) return undefined
    if (this.#now() - e.at > this.#maxAgeMs) {
      this.#drop(sealed)
      return undefined
    }
    return e.body
  }

  #drop(sealed: string): void {
    const e = this.#byKey.get(sealed)
    if (e === undefined) return
    this.#byKey.delete(sealed)
    this.#bytes -= sealed.length + e.body.length * 2
  }
}
