/**
 * Which inbox log revisions are read, as sorted disjoint closed intervals: reading in order (the usual case) keeps
 * it at a handful of intervals whatever the history, so a page's read flags, the unread count and the next unread
 * message are answered in memory. Pure logic: the read bucket persists it (markers + a checkpoint).
 */
export class ReadRanges {
  /** [from, to] pairs, sorted, disjoint, not touching (adjacent ones are merged). */
  #r: Array<[number, number]>
  #count: number

  constructor(ranges: ReadonlyArray<readonly [number, number]> = []) {
    this.#r = []
    this.#count = 0
    for (const [a, b] of ranges) for (let x = a; x <= b; ) x = this.#addRange(x, b)
  }

  /** Read revisions in all. */
  get count(): number {
    return this.#count
  }

  /** The intervals (a copy), for the checkpoint. */
  toJSON(): Array<[number, number]> {
    return this.#r.map(([a, b]) => [a, b])
  }

  has(rev: number): boolean {
    const i = this.#find(rev)
    return i >= 0 && this.#r[i]![1] >= rev
  }

  /** Adds one revision; false when it was there. */
  add(rev: number): boolean {
    if (this.has(rev)) return false
    this.#addRange(rev, rev)
    return true
  }

  /** The first revision at or after `rev` that is not read. */
  nextUnread(rev: number): number {
    const i = this.#find(rev)
    return i >= 0 && this.#r[i]![1] >= rev ? this.#r[i]![1] + 1 : rev
  }

  /** The first read revision at or after `rev` (Infinity without one): where the unread run starting at `rev` ends. */
  nextRead(rev: number): number {
    const i = this.#find(rev)
    if (i >= 0 && this.#r[i]![1] >= rev) return rev
    return this.#r[i + 1]?.[0] ?? Number.POSITIVE_INFINITY
  }

  /** Read revisions in [from, to]. */
  countIn(from: number, to: number): number {
    let n = 0
    for (const [a, b] of this.#r) {
      if (b < from) continue
      if (a > to) break
      n += Math.min(b, to) - Math.max(a, from) + 1
    }
    return n
  }

  /** Index of the last interval starting at or before `rev` (-1: none). */
  #find(rev: number): number {
    let lo = 0
    let hi = this.#r.length - 1
    let at = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (this.#r[mid]![0] <= rev) {
        at = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return at
  }

  /** Adds [a, b] where `a` is not read; returns where to go on (past b, or past the interval it ran into). */
  #addRange(a: number, b: number): number {
    if (this.has(a)) return this.nextUnread(a)
    const end = Math.min(b, this.nextRead(a) - 1)
    const i = this.#find(a)
    const prev = i >= 0 ? this.#r[i] : undefined
    const next = this.#r[i + 1]
    const joinPrev = prev !== undefined && prev[1] === a - 1
    const joinNext = next !== undefined && next[0] === end + 1
    if (joinPrev && joinNext) {
      prev[1] = next[1]
      this.#r.splice(i + 1, 1)
    } else if (joinPrev) {
      prev[1] = end
    } else if (joinNext) {
      next[0] = a
    } else {
      this.#r.splice(i + 1, 0, [a, end])
    }
    this.#count += end - a + 1
    return end + 1
  }
}
